"""Play WeChat's side of the 5-second contract: up to three attempts, T seconds apart.

Each attempt is sent at t0 + k*T and waits at most T for its answer, as WeChat does; an answer
that comes later is lost (``received`` False), and the next attempt goes out on schedule anyway
unless an earlier one was received in time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

ATTEMPTS = 3


@dataclass
class Attempt:
    """One copy of the message as WeChat saw it."""

    number: int
    sent_at: float
    elapsed: float | None = None
    status: int | None = None
    body: bytes = b""
    received: bool = False


Send = Callable[[float], tuple[int, bytes]]


def play(send: Send, timeout: float, attempts: int = ATTEMPTS) -> list[Attempt]:
    """Send copies until one is answered in time or ``attempts`` have been made.

    ``send(timeout)`` posts one copy and returns (status, body); it may raise on a client-side
    timeout, which counts as no answer.
    """
    results: list[Attempt] = []
    answered = threading.Event()
    threads: list[threading.Thread] = []
    start = time.monotonic()

    def one(attempt: Attempt) -> None:
        began = time.monotonic()
        try:
            attempt.status, attempt.body = send(timeout)
        except Exception:  # a client timeout or a closed connection: WeChat saw nothing
            attempt.elapsed = time.monotonic() - began
            return
        attempt.elapsed = time.monotonic() - began
        attempt.received = attempt.elapsed < timeout and attempt.status == 200
        if attempt.received:
            answered.set()

    for number in range(1, attempts + 1):
        due = start + (number - 1) * timeout
        while time.monotonic() < due and not answered.is_set():
            time.sleep(0.005)
        if answered.is_set():
            break
        attempt = Attempt(number, time.monotonic() - start)
        results.append(attempt)
        thread = threading.Thread(target=one, args=(attempt,), daemon=True)
        threads.append(thread)
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout * 3 + 5)
    return results
