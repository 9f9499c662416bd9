"""The job worker's heartbeat: proof in the store that a worker runs, and which handler sets it has.

``wxserver worker`` writes one every few seconds. The web side reads it for ``/readyz`` and
``doctor``: background work with no fresh heartbeat means queued jobs that nobody runs, and a
worker whose handler sets differ from the web's fails every job whose rule it lacks.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from wxserver.services.store.base import Store

log = logging.getLogger("wxserver.jobs")

KEY = "worker:heartbeat"
EVERY = 5.0
# A heartbeat older than this is a worker that stopped.
STALE_AFTER = 30.0


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What the newest worker said of itself."""

    at: float
    host: str
    pid: int
    # Account name -> the names of its handler sets, in the order they are tried.
    handler_sets: Mapping[str, Sequence[str]]


def write(store: Store, handler_sets: Mapping[str, Sequence[str]], now: float) -> None:
    """Record that a worker with ``handler_sets`` runs, at ``now`` (wall-clock seconds)."""
    data = {
        "at": now,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "handler_sets": {name: list(sets) for name, sets in handler_sets.items()},
    }
    store.set(KEY, json.dumps(data).encode(), ttl=STALE_AFTER * 2)


def read(store: Store) -> Heartbeat | None:
    """The newest heartbeat, or None when there is none (or it cannot be read)."""
    raw = store.get(KEY)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        return Heartbeat(
            float(data["at"]),
            str(data["host"]),
            int(data["pid"]),
            {str(name): [str(s) for s in sets] for name, sets in data["handler_sets"].items()},
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def start(store: Store, handler_sets: Mapping[str, Sequence[str]]) -> threading.Thread:
    """Write a heartbeat now and every ``EVERY`` seconds, from a daemon thread."""

    def beat() -> None:
        while True:
            try:
                write(store, handler_sets, time.time())
            except Exception as error:  # the store is out: the next beat tries again
                log.warning("worker heartbeat not written: %s: %s", type(error).__name__, error)
            time.sleep(EVERY)

    described = "; ".join(
        f"{name}: {', '.join(sets) or '(none)'}" for name, sets in handler_sets.items()
    )
    log.info("job worker %d started; handler sets of %s", os.getpid(), described)
    thread = threading.Thread(target=beat, name="wxserver-heartbeat", daemon=True)
    thread.start()
    return thread


def problems(
    store: Store,
    expected: Mapping[str, Sequence[str]],
    *,
    needed: bool,
    now: float,
) -> list[str]:
    """What is wrong with the job worker, each with its fix in one sentence.

    ``expected`` is the web's own handler sets by account; ``needed`` says whether background
    work is configured or queued (a missing worker then matters).
    """
    heartbeat = read(store)
    if heartbeat is None or now - heartbeat.at > STALE_AFTER:
        if not needed:
            return []
        age = (
            "none has reported"
            if heartbeat is None
            else f"the last heartbeat is {now - heartbeat.at:.0f} s old"
        )
        return [
            f"no job worker is running ({age}), so background work waits: start `wxserver "
            "worker` (the Procfile's worker) with the same settings as this server"
        ]
    found = {name: list(sets) for name, sets in heartbeat.handler_sets.items()}
    wanted = {name: list(sets) for name, sets in expected.items()}
    if found == wanted:
        return []
    differing = sorted(
        name for name in found.keys() | wanted.keys() if found.get(name) != wanted.get(name)
    )
    details = "; ".join(
        f"account {name}: worker {', '.join(found.get(name, [])) or '(none)'}, "
        f"this server {', '.join(wanted.get(name, [])) or '(none)'}"
        for name in differing
    )
    return [
        f"the job worker on {heartbeat.host} loads other handler sets ({details}): start it with "
        "the same WX_PLUGINS as this server"
    ]
