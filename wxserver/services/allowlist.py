"""WeChat's callback IP allow-list, without Flask (who the caller is: :mod:`wxserver.addresses`).

:class:`CallbackAllowlist` answers "may this address call the callback URL?" from the list
``GET /cgi-bin/getcallbackip`` returns (single IPs and CIDR ranges). WeChat asks for that list to
be fetched once a day. It is kept in the store with its fetch time, so every worker and every
machine shares one copy and one daily fetch: a due list is refreshed by one process under
``store.lock`` while the others keep using the stored list without waiting. Each process also
keeps the list in memory and re-reads the store at most every ``reread`` seconds, so a request
normally costs no store I/O. The fetch runs on a background thread, never on the request path: it
may take several seconds (a token fetch, domain failover), and WeChat gives a reply 5.

When no list can be had (the API is down at first start, or the last list is older than
``max_stale``), the allow-list **fails open**: the request is let through, a warning is logged
(at most once per ``reread`` seconds per process) and the ``fail_open`` event is counted. The
reasons:

- It is defence in depth, not authentication. Every callback must still carry a valid
  ``signature`` (and ``msg_signature``) made with the account's Token; that check rejects forged
  requests whatever their address. What the allow-list adds is refusing strangers before any
  work is spent on them.
- Failing closed would turn an outage of api.weixin.qq.com, or a wrong AppSecret, into an outage
  of the account: every user's message refused, WeChat's alarms raised, and after enough
  failures the platform stops calling the URL (MarkFail). An attacker cannot cause fail-open
  from outside; only the operator's own configuration or WeChat's API can.
- The failure is loud: a log line, the ``wxserver_callback_allowlist_events_total{event=
  "fail_open"}`` counter, and ``refresh_failed`` for each failed fetch, so an alert can fire.

A stored list that merely failed to refresh stays in use (WeChat changes it rarely and by a few
addresses); past ``max_stale`` (a week by default) it is considered too old to refuse anybody by.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass

from wxserver.services.addresses import Address, Network, parse_address, parse_network, within
from wxserver.services.store.base import LockTimeout, Store

log = logging.getLogger("wxserver.allowlist")

DAY = 86400.0
# Store keys: the list is WeChat's, the same for every account, so one copy serves them all.
KEY = "callback_ips"
_FAILURE = KEY + ":failure"
# While no list is known, look in the store more often: another process may be fetching it.
_ABSENT_REREAD = 5.0


# --- the list ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IpList:
    """WeChat's callback addresses as fetched at ``fetched_at`` (seconds on the owner's clock)."""

    entries: tuple[str, ...]
    fetched_at: float
    hosts: frozenset[Address]
    networks: tuple[Network, ...]

    @classmethod
    def parse(cls, entries: Iterable[str], fetched_at: float) -> IpList:
        """Read the entries as WeChat returns them; ValueError when none is usable.

        Unreadable entries are skipped with a warning rather than losing the whole list. Single
        addresses go into a set, so the usual list of a few hundred costs one lookup per request.
        """
        kept: list[str] = []
        hosts: set[Address] = set()
        networks: list[Network] = []
        for entry in entries:
            try:
                network = parse_network(str(entry), strict=False)
            except ValueError:
                log.warning("ignoring %r in WeChat's callback IP list: not an address", entry)
                continue
            kept.append(str(entry).strip())
            if network.num_addresses == 1:
                hosts.add(network.network_address)
            else:
                networks.append(network)
        if not kept:
            raise ValueError("WeChat's callback IP list is empty or holds no address")
        return cls(tuple(kept), fetched_at, frozenset(hosts), tuple(networks))

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return False
        return address in self.hosts or within(address, self.networks)


class CallbackAllowlist:
    """May an address call the callback URL? WeChat's list, shared through ``store``.

    ``fetch`` returns the list (``WeChatAPI.callback_ips``). ``on_event`` is told ``refreshed``,
    ``refresh_failed`` and ``fail_open`` (each request let through without a list), for metrics.
    """

    def __init__(
        self,
        store: Store,
        fetch: Callable[[], list[str]],
        *,
        clock: Callable[[], float] = time.time,
        max_age: float = DAY,
        max_stale: float = 7 * DAY,
        reread: float = 60.0,
        retry_after: float = 300.0,
        lock_timeout: float = 120.0,
        background: bool = True,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.fetch = fetch
        self.clock = clock
        self.max_age = max_age
        self.max_stale = max_stale
        self.reread = reread
        self.retry_after = retry_after
        self.lock_timeout = lock_timeout
        self.background = background
        self.on_event = on_event
        # Per-process state; a worker forked from the master starts with the master's copy.
        self._guard = threading.Lock()
        self._memo: IpList | None = None
        self._memo_until = float("-inf")
        self._next_try = float("-inf")
        self._next_warning = float("-inf")
        self._busy = False
        self._worker: threading.Thread | None = None

    # --- the request path -------------------------------------------------------------------

    def allows(self, address: str) -> bool:
        """Whether ``address`` may call; True without a usable list (fail open, see above)."""
        current = self._current()
        if current is None:
            self._fail_open(address)
            return True
        parsed = parse_address(address)
        return parsed is not None and parsed in current

    def _current(self) -> IpList | None:
        now = self.clock()
        with self._guard:
            memo, fresh = self._memo, now < self._memo_until
        if not fresh:
            memo = self._read()
            self._remember(memo, now)
        if memo is None or now >= memo.fetched_at + self.max_age:
            self._start_refresh(now)
            if not self.background:
                with self._guard:
                    memo = self._memo  # fetched just now, on this thread
        if memo is not None and now >= memo.fetched_at + self.max_stale:
            return None
        return memo

    def _remember(self, memo: IpList | None, now: float) -> None:
        with self._guard:
            self._memo = memo
            self._memo_until = now + (self.reread if memo else min(self.reread, _ABSENT_REREAD))

    def _start_refresh(self, now: float) -> None:
        # At most one refresh per process at a time, and at most one attempt per re-read
        # interval: every request sees the due list until the new one arrives.
        with self._guard:
            if self._busy or now < self._next_try:
                return
            self._busy = True
            self._next_try = now + self.reread
        if not self.background:
            self._refresh_quietly()
            return
        worker = threading.Thread(
            target=self._refresh_quietly, name="wxserver-callback-ips", daemon=True
        )
        with self._guard:
            self._worker = worker
        worker.start()

    def _refresh_quietly(self) -> None:
        try:
            self.refresh()
        except Exception:
            # Already logged and counted by refresh(). A background thread has nobody to raise
            # to, and fetch errors must never reach the request path: wait, then try again.
            with self._guard:
                self._next_try = max(self._next_try, self.clock() + self.retry_after)
        finally:
            with self._guard:
                self._busy = False

    def _fail_open(self, address: str) -> None:
        self._told("fail_open")
        now = self.clock()
        with self._guard:
            if now < self._next_warning:
                return
            self._next_warning = now + self.reread
        log.warning(
            "no usable callback IP list yet (getcallbackip has not answered; see its own log "
            "lines); letting %s through unchecked: the signature check still applies",
            address,
        )

    # --- refreshing -------------------------------------------------------------------------

    def refresh(self, *, force: bool = False) -> bool:
        """Fetch and store the list if it is due; True when this call fetched it.

        Safe from every process at once: one takes the store's lock and fetches, the others
        return False at once. Not due, or a fetch failed less than ``retry_after`` ago in any
        process: False without a fetch, unless ``force`` (the CLI). Fetch errors are logged,
        counted and raised, so that a scheduler can alert on them.
        """
        with ExitStack() as stack:
            try:
                stack.enter_context(self.store.lock(KEY, timeout=self.lock_timeout, wait=0))
            except LockTimeout:
                return False  # another process is fetching; its list arrives through the store
            now = self.clock()
            stored = self._read()
            if not force:
                if stored is not None and now < stored.fetched_at + self.max_age:
                    self._remember(stored, now)
                    return False
                failed_at = self._failed_at()
                if failed_at is not None and now < failed_at + self.retry_after:
                    return False
            try:
                fresh = IpList.parse(self.fetch(), now)
            except Exception as error:
                self._record_failure(error, now, stored)
                raise
            self._write(fresh)
            self._remember(fresh, now)
            self._told("refreshed")
            log.info(
                "callback IP list refreshed: %d entries; next refresh in %.0f s",
                len(fresh.entries),
                self.max_age,
            )
            return True

    def join(self, timeout: float | None = None) -> bool:
        """Wait for this process's background refresh, if one runs; True when none is left."""
        with self._guard:
            worker = self._worker
        if worker is not None:
            worker.join(timeout)
            return not worker.is_alive()
        return True

    def snapshot(self) -> IpList | None:
        """The stored list, whatever its age (for diagnostics)."""
        return self._read()

    def _record_failure(self, error: Exception, now: float, stored: IpList | None) -> None:
        self._told("refresh_failed")
        keeping = (
            f"keeping the list fetched {now - stored.fetched_at:.0f} s ago"
            if stored is not None and now < stored.fetched_at + self.max_stale
            else "no usable list, so callers are let through unchecked"
        )
        log.error(
            "fetching WeChat's callback IP list failed (%s: %s); %s; next attempt in %.0f s",
            type(error).__name__,
            error,
            keeping,
            self.retry_after,
        )
        record = {"at": now, "error": f"{type(error).__name__}: {error}"}
        # Shared, so that the other processes wait out the retry interval too.
        self.store.set(_FAILURE, json.dumps(record).encode(), ttl=max(self.retry_after, 1.0))

    def _failed_at(self) -> float | None:
        raw = self.store.get(_FAILURE)
        if raw is None:
            return None
        try:
            return float(json.loads(raw)["at"])
        except (ValueError, TypeError, KeyError):
            return None

    def _told(self, event: str) -> None:
        if self.on_event is not None:
            self.on_event(event)

    # --- store plumbing ---------------------------------------------------------------------

    def _read(self) -> IpList | None:
        raw = self.store.get(KEY)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return IpList.parse(data["ip_list"], float(data["fetched_at"]))
        except (ValueError, TypeError, KeyError):
            log.warning("ignoring an unreadable callback IP list in the store")
            return None

    def _write(self, fresh: IpList) -> None:
        data = {"ip_list": list(fresh.entries), "fetched_at": fresh.fetched_at}
        # The TTL only keeps the store clean; fetched_at decides whether the list is still used.
        self.store.set(KEY, json.dumps(data).encode(), ttl=max(self.max_stale, 1.0))
