"""Authorizer tokens refreshed ahead of use, each at its own time, by whichever process is first.

Every process keeps a heap of when each authorizer's token is due (read once from the store,
then from each refresh) and, every ``every`` seconds, refreshes the ones whose time has come
through their :class:`~wxserver.services.component.tokens.AuthorizerTokenOwner`. Several
processes (or machines) racing for one token is safe: the owner's store lock and re-read let one
fetch and the others find the new record. A handler that needs a token before its time fetches it
itself, under the same rule; this only keeps that from happening in a burst.

A new authorizer (an authorized event in any process) is noticed through the store's
list-version counter, one read per tick. A token that is missing is scheduled at its phase of the
period, and one that is overdue (after downtime) at its phase of the validity it has left, so that
a start-up does not refresh everything at once.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable

from wxserver.protocol.api_errors import ApiError, ApiUnavailableError
from wxserver.services import forks
from wxserver.services.component.authorizers import Authorizers
from wxserver.services.component.tokens import MARGIN, SETTLE, AuthorizerTokenOwner, phase
from wxserver.services.tokens import TokenUnavailableError

log = logging.getLogger("wxserver.component")

# The period over which the first fetches of missing tokens are spread (a 7200 s token's).
SPREAD = 7200.0 - SETTLE - MARGIN
# How soon to look again at a token another process is refreshing, or one that failed.
SOON = 5.0
RETRY = 60.0


class AuthorizerRefresher:
    """Refreshes due authorizer tokens; ``tick`` once, or ``run_in_background``."""

    def __init__(
        self,
        authorizers: Authorizers,
        owner: Callable[[str], AuthorizerTokenOwner],
        *,
        clock: Callable[[], float] = time.time,
        on_failure: Callable[[str, Exception], None] | None = None,
    ) -> None:
        self.authorizers = authorizers
        self._owner = owner
        self._clock = clock
        self._on_failure = on_failure
        self._heap: list[tuple[float, str]] = []
        self._known: set[str] = set()
        self._version = -1
        self._ticking = threading.Lock()
        self._starting = threading.Lock()
        self._thread_pid = 0

    def tick(self) -> int:
        """Refresh every token due now; how many this process fetched."""
        with self._ticking:
            now = self._clock()
            self._sync(now)
            fetched = 0
            while self._heap and self._heap[0][0] <= now:
                _, app_id = heapq.heappop(self._heap)
                if app_id not in self._known:
                    continue  # unauthorized since
                owner = self._owner(app_id)
                try:
                    fetched += owner.refresh_if_due()
                except (ApiError, ApiUnavailableError, TokenUnavailableError) as error:
                    log.warning("refreshing the token of authorizer %s failed: %s", app_id, error)
                    if self._on_failure is not None:
                        self._on_failure(app_id, error)
                    heapq.heappush(self._heap, (now + RETRY, app_id))
                    continue
                heapq.heappush(self._heap, (self._next(owner, now), app_id))
            return fetched

    def due(self) -> int:
        """How many authorizers this process has scheduled (for diagnostics)."""
        return len(self._known)

    def _next(self, owner: AuthorizerTokenOwner, now: float) -> float:
        record = owner.record()
        if record is None or record.refresh_at <= now:
            return now + SOON  # another process holds the refresh: look again shortly
        return record.refresh_at

    def _sync(self, now: float) -> None:
        version = self.authorizers.version()
        if version == self._version:
            return
        self._version = version
        current = set(self.authorizers.app_ids())
        for app_id in current - self._known:
            heapq.heappush(self._heap, (self._first(app_id, now), app_id))
        self._known = current

    def _first(self, app_id: str, now: float) -> float:
        record = self._owner(app_id).record()
        if record is None:
            return now + phase(app_id) * SPREAD
        if record.refresh_at > now:
            return record.refresh_at
        return now + phase(app_id) * max(0.0, record.expires_at - now - MARGIN)

    def run_in_background(self, every: float = 30.0) -> None:
        """Tick every ``every`` seconds on a daemon thread of this process (once per process)."""
        if self._thread_pid == forks.pid:  # nearly always: already running here
            return
        with self._starting:
            if self._thread_pid == forks.pid:
                return
            self._thread_pid = forks.pid
        thread = threading.Thread(
            target=self._loop, args=(every,), name="wxserver-authorizer-tokens", daemon=True
        )
        thread.start()

    def _loop(self, every: float) -> None:
        while True:
            time.sleep(every)
            try:
                self.tick()
            except Exception:  # the loop must outlive a store or network failure
                log.exception("the authorizer token refresher failed; trying again later")
