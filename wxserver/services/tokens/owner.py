"""The one owner of the access_token and the jsapi_ticket (the 中控服务器 of the docs).

Every process asks its ``TokenOwner``; the owners of all processes share one record per
credential in the Store (``tokens:<app_id>:access_token``), so an account has one token however
many workers or machines serve it. Callers only read. A refresh happens under
``store.lock(...)``: whoever takes the lock re-reads the record first (another process may have
just refreshed it) and fetches only if it is still due, so each expiry costs one upstream fetch.

- ``stable_token`` (POST /cgi-bin/stable_token, force_refresh false) is the default: it returns
  the same token while it is valid, the platform rotates it 5 minutes before expiry, and it is
  isolated from /cgi-bin/token, so a legacy system still calling that cannot invalidate ours.
  The classic /cgi-bin/token (each fetch retires the previous token 5 minutes later) is
  selectable.
- Refresh ahead of expiry: a record is due ``margin`` seconds before it expires (600 s for the
  classic token, as the docs advise; 240 s for the stable one, inside the platform's 300-second
  rotation window, so that asking again yields the new token, not the old one back). While one
  process refreshes a due but still valid token, the others keep using it instead of waiting;
  when nothing valid is left, they re-read the store until the new record appears (reads, not
  lock attempts, which are writes). Each owner also keeps the record it last read until it is
  due, so the store is read once per refresh period and process, not once per API call.
- ``invalidate(token)`` is the passive refresh the docs ask for: it refreshes only if ``token`` is
  still the stored one (compare-and-refresh), and at most once per token, so a token the platform
  keeps rejecting raises instead of looping.
- -1 and 45011 are retried with a doubling back-off, a bounded number of times. Errors only a
  person can fix (40164, 45009, 48001, 8950x, a wrong AppSecret) raise at once with the action
  to take, and are recorded so that the other callers raise the same error for a while instead
  of spending the quota (or sending the administrator another confirmation request).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any

from wxserver.protocol.api_errors import (
    ApiError,
    ApiUnavailableError,
    ConfigAlertError,
    RetryableApiError,
    TokenInvalidError,
)
from wxserver.services.api.client import DEFAULT_BASE_URLS, Grant, WeChatAPI
from wxserver.services.store.base import LockTimeout, Store
from wxserver.services.tokens.records import (
    Failure,
    Record,
    Slot,
    TokenFetcher,
    TokenUnavailableError,
    read_failure,
    read_record,
    recreate,
    result_label,
    write_failure,
    write_record,
)

log = logging.getLogger("wxserver.tokens")

STABLE_MARGIN = 240.0
CLASSIC_MARGIN = 600.0
TICKET_MARGIN = 600.0
# How long a rejected token is remembered, so that it causes at most one refresh.
REJECT_TTL = 600.0
# While another process refreshes, waiters re-read the store: 5 ms at first, then every 50 ms.
_POLL_FIRST = 0.005
_POLL_MAX = 0.05
_REPEAT = (
    "WeChat keeps rejecting the token it has just issued: check that no other system calls "
    "stable_token with force_refresh, and that WX_APPSECRET is current."
)


class TokenOwner:
    """Owns one account's access_token and jsapi_ticket, shared through ``store``."""

    def __init__(
        self,
        store: Store,
        fetcher: TokenFetcher,
        app_id: str,
        *,
        stable: bool = True,
        margin: float | None = None,
        ticket_margin: float = TICKET_MARGIN,
        lock_timeout: float = 30.0,
        lock_wait: float = 10.0,
        attempts: int = 3,
        backoff: float = 0.5,
        alert_cooldown: float = 60.0,
        retry_cooldown: float = 5.0,
        clock: Callable[[], float] = time.time,
        on_refresh: Callable[[str, str], None] | None = None,
        namespace: str = "tokens",
    ) -> None:
        self.store = store
        self.fetcher = fetcher
        # Told of every fetch from WeChat as (credential, "ok" or the errcode); metrics count them.
        self.on_refresh = on_refresh
        self.app_id = app_id
        self.stable = stable
        self.lock_timeout = lock_timeout
        self.lock_wait = lock_wait
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.alert_cooldown = alert_cooldown
        self.retry_cooldown = retry_cooldown
        self._clock = clock
        # The record this process last read, by key: the store is read once per refresh period
        # and process, not once per call. Safe because every refresh leaves the old token valid
        # for five more minutes; a token revoked from outside fails one call, which reports it
        # (invalidate drops the copy) and re-reads the store.
        self._memo: dict[str, Record] = {}
        token_margin = margin if margin is not None else STABLE_MARGIN if stable else CLASSIC_MARGIN
        # Store keys: <namespace>:<app_id>:access_token (and :jsapi_ticket).
        prefix = f"{namespace}:{app_id}:"
        token_path = "/cgi-bin/stable_token" if stable else "/cgi-bin/token"
        self._token = Slot(prefix + "access_token", token_path, token_margin, self._fetch_token)
        self._ticket = Slot(
            prefix + "jsapi_ticket", "/cgi-bin/ticket/getticket", ticket_margin, self._fetch_ticket
        )

    def __repr__(self) -> str:
        kind = "stable_token" if self.stable else "token"
        return f"TokenOwner(app_id={self.app_id!r}, {kind}, store={self.store!r})"

    # --- what callers use -----------------------------------------------------------------

    def current(self) -> str:
        """A valid access_token: from the store, refreshed by one process when due."""
        return self._get(self._token)

    def jsapi_ticket(self) -> str:
        """A valid jsapi_ticket for JS-SDK signatures, cached like the token."""
        return self._get(self._ticket)

    def invalidate(self, token: str) -> str:
        """WeChat rejected ``token``: refresh if it is still the stored one; return the one to use.

        Refreshes at most once per rejected token (remembered for ``REJECT_TTL`` seconds): if
        the platform hands the same token back and rejects it again, this raises instead of
        fetching again.
        """
        memo = self._memo.get(self._token.key)
        if memo is not None and memo.value == token:
            del self._memo[self._token.key]
        now = self._clock()
        last = self.last_failure()
        text = f"access_token {token[:6]}… rejected"
        # Never cut short a cool-down under way; and write once, not once per failed call.
        if last is None or (now >= last.until and last.message != text):
            self._record(self._token, Failure(40001, "", text, now, now))

        def replaced(record: Record) -> bool:
            return record.value != token and self._clock() < record.expires_at

        def compare_and_refresh() -> Record:
            record = self._read(self._token)
            if record is not None and replaced(record):
                return record
            digest = hashlib.sha256(token.encode()).hexdigest()[:16]
            if not self.store.add(f"{self._token.key}:rejected:{digest}", b"1", ttl=REJECT_TTL):
                raise TokenInvalidError(40001, "rejected again after a refresh", action=_REPEAT)
            log.warning("access_token %s… rejected by WeChat; refreshing", token[:6])
            return self._refresh(self._token, record)

        current = self._read(self._token)
        if current is not None and replaced(current):
            return current.value  # someone already replaced it: no lock needed
        return self._one_refresher(self._token, compare_and_refresh, replaced).value

    def refresh_if_due(self) -> bool:
        """Refresh what is due (the token, and the ticket if cached); True if anything was fetched.

        For a scheduler: calls from every process are safe, one refreshes and the others return
        False at once. Errors are raised, so that the scheduler logs or alerts them.
        """
        fetched = False
        for slot in (self._token, self._ticket):
            record = self._read(slot)
            if (slot is self._ticket and record is None) or not self._due(record):
                continue
            with ExitStack() as stack:
                if not self._try_lock(slot, stack):
                    continue  # another process is refreshing it right now
                again = self._read(slot)
                if self._due(again):
                    self._refresh(slot, again)
                    fetched = True
        return fetched

    # --- diagnostics ----------------------------------------------------------------------

    def record(self, ticket: bool = False) -> Record | None:
        """The stored token (or ticket) record, for diagnostics."""
        return self._read(self._ticket if ticket else self._token)

    def last_failure(self, ticket: bool = False) -> Failure | None:
        """The last failed fetch or rejected token, kept for a day."""
        return read_failure(self.store, (self._ticket if ticket else self._token).key)

    def clear_failure(self) -> None:
        """End a cool-down early, after the cause was fixed (whitelist edited, quota reset)."""
        for slot in (self._token, self._ticket):
            self.store.delete(slot.key + ":failure")

    # --- the single-refresher logic -------------------------------------------------------

    def _due(self, record: Record | None) -> bool:
        return record is None or self._clock() >= record.refresh_at

    def _valid(self, record: Record) -> bool:
        return self._clock() < record.expires_at

    def _get(self, slot: Slot) -> str:
        memo = self._memo.get(slot.key)
        if memo is not None and not self._due(memo):
            return memo.value
        record = self._read(slot)
        if record is not None and not self._due(record):
            self._memo[slot.key] = record
            return record.value

        def refresh_if_still_due() -> Record:
            # Under the lock, re-read: another process may have refreshed while we waited.
            again = self._read(slot)
            return (
                again if again is not None and not self._due(again) else self._refresh(slot, again)
            )

        if record is not None and self._valid(record):
            # Due but still valid: one caller refreshes, the others keep using it meanwhile.
            with ExitStack() as stack:
                if not self._try_lock(slot, stack):
                    return record.value
                try:
                    return refresh_if_still_due().value
                except (ApiError, ApiUnavailableError) as error:
                    log.error("refreshing %s failed; using the current one: %s", slot.key, error)
                    return record.value
        return self._one_refresher(slot, refresh_if_still_due, self._valid).value

    def _one_refresher(
        self, slot: Slot, under_lock: Callable[[], Record], enough: Callable[[Record], bool]
    ) -> Record:
        """Return a stored record that is ``enough``, or run ``under_lock`` if this caller gets
        the lock first; meanwhile re-read the store rather than queue on the lock."""
        deadline = time.monotonic() + self.lock_wait
        pause = _POLL_FIRST
        while True:
            # Read before trying the lock: a read is cheap, a lock attempt is a write.
            record = self._read(slot)
            if record is not None and enough(record):
                return record
            if self.store.get(slot.key + ":refreshing") is None:
                # During a cool-down, fail fast: the error is recorded, the quota is not spent.
                self._raise_if_cooling(slot)
                with ExitStack() as stack:
                    if self._try_lock(slot, stack):
                        return under_lock()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TokenUnavailableError(
                    f"{slot.key}: no valid value, and the refresh under way did not finish "
                    f"within {self.lock_wait} s"
                )
            time.sleep(min(pause, left))
            pause = min(pause * 2, _POLL_MAX)

    def _try_lock(self, slot: Slot, stack: ExitStack) -> bool:
        """Take the slot's lock without waiting, held until ``stack`` closes; False if taken.

        The holder also sets a ``:refreshing`` key. Every other caller reads it first and does
        not even try the lock while it is set: a lock attempt is a write, and hundreds of
        callers trying to write while the token is refreshed would starve the one write that
        matters (the new record) on a store that serialises writes, as SQLite does.
        """
        marker = slot.key + ":refreshing"
        if self.store.get(marker) is not None:
            return False
        try:
            stack.enter_context(self.store.lock(slot.key, timeout=self.lock_timeout, wait=0))
        except LockTimeout:
            return False
        self.store.set(marker, b"1", ttl=self.lock_timeout)
        stack.callback(self.store.delete, marker)
        return True

    def _raise_if_cooling(self, slot: Slot) -> None:
        failure = self.last_failure(slot is self._ticket)
        if failure is not None and self._clock() < failure.until:
            raise recreate(failure, slot.path)

    def _refresh(self, slot: Slot, previous: Record | None) -> Record:
        self._raise_if_cooling(slot)
        delay = self.backoff
        credential = "jsapi_ticket" if slot is self._ticket else "access_token"
        for attempt in range(1, self.attempts + 1):
            try:
                grant = slot.fetch()
                self._told(credential, "ok")
                break
            except ApiUnavailableError as error:
                # The transport already tried every base URL it may (at most MAX_ATTEMPTS).
                self._told(credential, result_label(error))
                self._fail(slot, error, self.retry_cooldown)
                raise
            except RetryableApiError as error:
                self._told(credential, result_label(error))
                if attempt == self.attempts:
                    self._fail(slot, error, self.retry_cooldown)
                    raise
                log.warning("fetching %s failed (%s); retrying in %.1f s", slot.key, error, delay)
                time.sleep(delay)
                delay *= 2
            except ConfigAlertError as error:
                self._told(credential, result_label(error))
                log.error("fetching %s failed: %s", slot.key, error)
                self._fail(slot, error, self.alert_cooldown)
                raise
            except ApiError as error:  # recorded for diagnostics; the next caller may try again
                self._told(credential, result_label(error))
                self._fail(slot, error, 0.0)
                raise
        now = self._clock()
        lifetime = float(grant.expires_in)
        record = Record(grant.value, now, self._refresh_time(slot, now, lifetime), now + lifetime)
        self._write(slot, record)
        if previous is None or previous.value != record.value:
            log.info("%s refreshed; next refresh in %.0f s", slot.key, record.refresh_at - now)
        return record

    def _refresh_time(self, slot: Slot, now: float, lifetime: float) -> float:
        """When a credential fetched at ``now`` for ``lifetime`` seconds becomes due.

        At the margin before expiry, but never sooner than half-way: a grant shorter than the
        margin (a stable token fetched late in its life) must not make every caller refetch.
        """
        return now + max(lifetime - slot.margin, lifetime / 2)

    def _told(self, credential: str, result: str) -> None:
        if self.on_refresh is not None:
            self.on_refresh(credential, result)

    def _fetch_token(self) -> Grant:
        return self.fetcher.fetch_access_token(stable=self.stable)

    def _fetch_ticket(self) -> Grant:
        token = self.current()
        try:
            return self.fetcher.fetch_jsapi_ticket(token)
        except TokenInvalidError:
            return self.fetcher.fetch_jsapi_ticket(self.invalidate(token))

    # --- store plumbing -------------------------------------------------------------------

    def _read(self, slot: Slot) -> Record | None:
        return read_record(self.store, slot.key)

    def _write(self, slot: Slot, record: Record) -> None:
        write_record(self.store, slot.key, record)
        self._memo[slot.key] = record

    def _fail(self, slot: Slot, error: ApiError | ApiUnavailableError, cooldown: float) -> None:
        now = self._clock()
        if isinstance(error, ApiError):
            failure = Failure(error.errcode, error.errmsg, str(error), now, now + cooldown)
        else:
            failure = Failure(None, "", str(error), now, now + cooldown)
        self._record(slot, failure)

    def _record(self, slot: Slot, failure: Failure) -> None:
        write_failure(self.store, slot.key, failure)


def connect(
    store: Store,
    app_id: str,
    app_secret: str,
    *,
    base_urls: str | Sequence[str] = DEFAULT_BASE_URLS,
    stable: bool = True,
    **owner_options: Any,
) -> WeChatAPI:
    """A WeChatAPI whose token provider is a TokenOwner on ``store`` (``api.tokens``)."""
    api = WeChatAPI(app_id, app_secret, base_urls=base_urls)
    api.tokens = TokenOwner(store, api, app_id, stable=stable, **owner_options)
    return api
