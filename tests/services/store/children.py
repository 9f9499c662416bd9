"""Running module-level functions in child processes, forked as gunicorn forks its workers.

A child opens the store from its URL, as a worker does.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any

from wxserver.services.store import open_store

CONTEXT = multiprocessing.get_context("fork")


def _child(target: Callable[..., Any], start: Any, results: Any, index: int, *args: Any) -> None:
    try:
        start.wait(10)  # all children begin together, so they really contend
        results.put((index, target(*args)))
    except BaseException as error:  # report to the parent rather than die silently
        results.put((index, error))


def in_processes(target: Callable[..., Any], *per_child: tuple[Any, ...]) -> list[Any]:
    start, results = CONTEXT.Barrier(len(per_child)), CONTEXT.Queue()
    children = [
        CONTEXT.Process(target=_child, args=(target, start, results, i, *args))
        for i, args in enumerate(per_child)
    ]
    try:
        for child in children:
            child.start()
        collected = dict(results.get(timeout=30) for _ in children)
    finally:
        for child in children:
            child.join(10)
            if child.is_alive():
                child.kill()
    for value in collected.values():
        if isinstance(value, BaseException):
            raise value
    return [collected[i] for i in range(len(children))]


def incr_many(url: str, times: int) -> list[int]:
    store = open_store(url)
    return [store.incr("hits", ttl=60) for _ in range(times)]
