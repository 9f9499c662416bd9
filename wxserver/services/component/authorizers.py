"""The accounts that authorized a component, and each one's refresh token, in the shared store.

The refresh token (authorizer_refresh_token) is what gives the component an authorizer's access
tokens; losing it means the merchant must authorize again, so it is kept durably, in the store
every process and machine shares. Layout, for component ``C`` and authorizer ``A``:

- ``component:C:authorizer:A``: ``{"refresh_token", "authorized_at", "updated_at"}``;
- ``component:C:authorizers:<n>``: the AppIDs of bucket ``n`` of 64 (by CRC-32 of the AppID),
  one per line, so that a change rewrites 1/64 of the list (about 300 bytes at 1,000 accounts);
- ``component:C:authorizers:version``: a counter bumped on every change of the list, which lets
  each process's refresher notice a new authorizer with one read.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from wxserver.services.store import Store

BUCKETS = 64
# Durable: ten years, which every backend accepts as a time to live.
DURABLE = 10 * 365 * 86400.0


@dataclass(frozen=True, slots=True)
class Authorizer:
    """One authorizer as kept in the store."""

    app_id: str
    refresh_token: str = field(repr=False)
    authorized_at: float
    updated_at: float


class Authorizers:
    """One component's authorizers."""

    def __init__(
        self, store: Store, component: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self._prefix = f"component:{component}:"
        self._clock = clock

    def _record_key(self, app_id: str) -> str:
        return f"{self._prefix}authorizer:{app_id}"

    def _bucket_key(self, app_id: str) -> str:
        return f"{self._prefix}authorizers:{zlib.crc32(app_id.encode()) % BUCKETS}"

    def get(self, app_id: str) -> Authorizer | None:
        """The authorizer ``app_id``, or None when it has not authorized the component."""
        raw = self.store.get(self._record_key(app_id))
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return Authorizer(
                app_id, str(data["refresh_token"]), data["authorized_at"], data["updated_at"]
            )
        except (ValueError, KeyError, TypeError):
            return None

    def refresh_token(self, app_id: str) -> str | None:
        """The refresh token of ``app_id``, or None."""
        found = self.get(app_id)
        return None if found is None else found.refresh_token

    def _write(self, app_id: str, refresh_token: str, authorized_at: float) -> None:
        record = {
            "refresh_token": refresh_token,
            "authorized_at": authorized_at,
            "updated_at": self._clock(),
        }
        self.store.set(self._record_key(app_id), json.dumps(record).encode(), ttl=DURABLE)

    def add(self, app_id: str, refresh_token: str) -> None:
        """Keep an authorizer (authorized, or updateauthorized) and its refresh token."""
        known = self.get(app_id)
        self._write(app_id, refresh_token, known.authorized_at if known else self._clock())
        if known is None:
            self._change(app_id, add=True)

    def set_refresh_token(self, app_id: str, refresh_token: str) -> None:
        """Keep the refresh token that a token refresh handed back."""
        known = self.get(app_id)
        if known is not None and known.refresh_token != refresh_token:
            self._write(app_id, refresh_token, known.authorized_at)

    def remove(self, app_id: str) -> bool:
        """Forget an authorizer (unauthorized); True if it was known."""
        known = self.get(app_id) is not None
        self.store.delete(self._record_key(app_id))
        self._change(app_id, add=False)
        return known

    def _change(self, app_id: str, *, add: bool) -> None:
        key = self._bucket_key(app_id)
        with self.store.lock(key, timeout=10, wait=10):
            members = self._members(key)
            if add:
                members.add(app_id)
            else:
                members.discard(app_id)
            self.store.set(key, "\n".join(sorted(members)).encode(), ttl=DURABLE)
        self.store.incr(f"{self._prefix}authorizers:version", ttl=DURABLE)

    def _members(self, key: str) -> set[str]:
        raw = self.store.get(key)
        return set(raw.decode().split("\n")) - {""} if raw else set()

    def app_ids(self) -> list[str]:
        """Every authorizer's AppID (64 reads)."""
        found: set[str] = set()
        for bucket in range(BUCKETS):
            found |= self._members(f"{self._prefix}authorizers:{bucket}")
        return sorted(found)

    def version(self) -> int:
        """A number that changes whenever an authorizer is added or removed."""
        raw = self.store.get(f"{self._prefix}authorizers:version")
        return int(raw) if raw else 0
