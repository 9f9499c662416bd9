"""The lock of the shared file stores: a lease row (owner, expiry), polled for while held.

Each store takes and releases its lease in one write transaction of its own; what is common is
here: waiting with a growing pause, giving up after ``wait``, and saying so when a holder kept
the lock past its timeout.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from wxserver.services.store.base import LockTimeout

log = logging.getLogger("wxserver.store")

# How long a waiter sleeps between tries for a held lock: short first, capped so that a long
# wait costs at most 20 cheap tries a second.
_POLL_FIRST = 0.005
_POLL_MAX = 0.05


@contextmanager
def lease(
    name: str,
    *,
    timeout: float,
    wait: float,
    clock: Callable[[], float],
    take: Callable[[float, float], bool],
    release: Callable[[], bool],
) -> Iterator[None]:
    """Hold the lock ``name`` for the ``with`` block.

    ``take(now, expires)`` writes our lease if the lock is free or its lease ran out, and says
    whether it did; ``release()`` deletes our lease if it is still ours, and says whether it was.
    """
    if timeout <= 0:
        raise ValueError(f"a lock's timeout must be positive, got {timeout}")
    deadline = time.monotonic() + wait
    pause = _POLL_FIRST
    while True:
        now = clock()
        expires = now + timeout
        if take(now, expires):
            break
        left = deadline - time.monotonic()
        if left <= 0:
            raise LockTimeout(f"lock {name!r} not acquired within {wait} s")
        time.sleep(min(pause, left))
        pause = min(pause * 2, _POLL_MAX)
    try:
        yield
    finally:
        # Only our own lease is deleted: if it ran out, someone else may hold the lock now.
        if not release() or clock() > expires:
            log.warning(
                "lock %r was held longer than its timeout (%s s); another holder may have run "
                "at the same time. Raise the timeout.",
                name,
                timeout,
            )
