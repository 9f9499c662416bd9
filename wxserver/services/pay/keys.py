"""The merchant's platform keys by serial: configured ones, and certificates downloaded.

The configured keys (the WeChat Pay public key, platform certificate files) are read once. With
the merchant's API key configured, platform certificates are also downloaded from
``/v3/certificates`` and kept in the store, shared by every worker and machine: fetched again
every 12 hours by the first notification that finds them older, and at once (at most once a
minute) when a notification names a serial no key is known for, which is how a rotated
certificate is picked up. A failed download keeps the certificates already stored.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from wxserver.protocol.api_errors import ApiUnavailableError
from wxserver.protocol.pay.errors import PayKeyError
from wxserver.protocol.pay.keys import KeyRing, PlatformKey, load_certificates
from wxserver.services.pay.api import PayAPI, PayApiError
from wxserver.services.store import LockTimeout, Store

__all__ = ["PlatformKeys"]

log = logging.getLogger("wxserver.pay")

REFRESH_EVERY = 12 * 3600.0
# How often a notification naming an unknown serial may cause a download.
RETRY_EVERY = 60.0
# Certificates last years; kept this long after the last successful download.
KEEP = 30 * 86400.0


class PlatformKeys:
    """Finds the key of a serial among the configured and the downloaded ones."""

    def __init__(
        self,
        configured: KeyRing,
        store: Store,
        mch_id: str,
        api: PayAPI | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.configured = configured
        self.store = store
        self.api = api
        self._key = f"pay:{mch_id}:certificates"
        self._clock = clock
        # The last record read from the store and its parsed keys, so a worker parses once.
        self._cached: tuple[bytes, KeyRing, float] = (b"", KeyRing(), 0.0)

    def find(self, serial: str) -> PlatformKey | None:
        """The key named ``serial``, downloading certificates when that may find it."""
        now = datetime.now(UTC)
        key = self.configured.find(serial, now)
        if key is not None:
            return key
        downloaded, fetched_at = self.downloaded()
        key = downloaded.find(serial, now)
        if self.api is None:
            return key
        stale = self._clock() - fetched_at > REFRESH_EVERY
        if (key is None or stale) and self._may_try():
            self.refresh()
            key = self.downloaded()[0].find(serial, now) or key
        return key

    def downloaded(self) -> tuple[KeyRing, float]:
        """The certificates in the store and when they were fetched (0 when never)."""
        raw = self.store.get(self._key) or b""
        cached_raw, ring, fetched_at = self._cached
        if raw == cached_raw:
            return ring, fetched_at
        try:
            record = json.loads(raw)
            pems = [str(pem) for pem in record["certificates"]]
            ring = KeyRing(key for pem in pems for key in load_certificates(pem.encode()))
            fetched_at = float(record["fetched_at"])
        except (ValueError, KeyError, TypeError, PayKeyError):
            log.warning("the stored platform certificates are unreadable; ignored")
            ring, fetched_at = KeyRing(), 0.0
        self._cached = (raw, ring, fetched_at)
        return ring, fetched_at

    def all(self) -> KeyRing:
        """Every key known now: the configured ones and the downloaded ones."""
        return self.configured | self.downloaded()[0]

    def refresh(self) -> int | None:
        """Download the certificates into the store; how many, or None when that failed."""
        if self.api is None:
            return None
        try:
            with self.store.lock(self._key, timeout=30, wait=10):
                pems = self.api.certificates()
                record = {"fetched_at": self._clock(), "certificates": pems}
                self.store.set(self._key, json.dumps(record).encode(), ttl=KEEP)
        except (PayApiError, ApiUnavailableError, PayKeyError, LockTimeout) as exc:
            log.warning("downloading the platform certificates failed: %s", exc)
            return None
        log.info("downloaded %d platform certificate(s) from /v3/certificates", len(pems))
        return len(pems)

    def _may_try(self) -> bool:
        # One attempt a minute over every worker: a forger sending made-up serials cannot make
        # this server call WeChat Pay more often than that.
        return self.store.add(self._key + ":attempt", b"1", ttl=RETRY_EVERY)
