"""Work off the request: a task runs on a thread of this process, a failure is logged."""

from __future__ import annotations

import multiprocessing
import threading

import pytest

from wxserver.services.background import Background


def test_background_runs_a_task_on_another_thread() -> None:
    name = Background().submit(lambda: threading.current_thread().name).result(timeout=5)
    assert name.startswith("wxserver-background")


def test_background_failure_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> None:
        raise RuntimeError("lost")

    assert Background().submit(broken).result(timeout=5) is None
    assert "background task" in caplog.text
    assert "RuntimeError: lost" in caplog.text


def _in_child(background: Background, results: multiprocessing.SimpleQueue[int]) -> None:
    results.put(background.submit(lambda: 42).result(timeout=5))


def test_background_works_in_a_forked_child_after_use_in_the_parent() -> None:
    background = Background()
    assert background.submit(lambda: 1).result(timeout=5) == 1
    context = multiprocessing.get_context("fork")
    results: multiprocessing.SimpleQueue[int] = context.SimpleQueue()
    child = context.Process(target=_in_child, args=(background, results))
    child.start()
    child.join(10)
    assert child.exitcode == 0
    assert results.get() == 42
