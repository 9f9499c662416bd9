"""What the token owner keeps in the store: a credential's record, the last failure, and errors."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from wxserver.protocol.api_errors import ApiError, ApiUnavailableError, classify
from wxserver.protocol.errors import WxServerError
from wxserver.services.api.client import Grant
from wxserver.services.store.base import Store

log = logging.getLogger("wxserver.tokens")
# How long the last failure is kept.
_DAY = 86400.0


class TokenFetcher(Protocol):
    """Where the owner gets new credentials from: ``WeChatAPI`` in production."""

    def fetch_access_token(self, *, stable: bool = True, force_refresh: bool = False) -> Grant:
        """Fetch an access_token."""
        ...

    def fetch_jsapi_ticket(self, access_token: str | None = None) -> Grant:
        """Fetch a jsapi_ticket using ``access_token``."""
        ...


class TokenUnavailableError(WxServerError):
    """No valid token in the store, and the process refreshing it did not finish in time."""


@dataclass(frozen=True, slots=True)
class Record:
    """A credential as kept in the store; times are seconds on the owner's clock."""

    value: str
    fetched_at: float
    refresh_at: float
    expires_at: float

    def __repr__(self) -> str:
        return f"Record(value={self.value[:6]}…, refresh_at={self.refresh_at:.0f})"


@dataclass(frozen=True, slots=True)
class Failure:
    """The last failed fetch (or rejected token); ``until`` ends its cool-down."""

    errcode: int | None
    errmsg: str
    message: str
    at: float
    until: float


@dataclass(frozen=True, slots=True)
class Slot:
    key: str
    path: str  # the endpoint that fetches it, which decides how its errcodes read
    margin: float
    fetch: Callable[[], Grant]


def result_label(error: ApiError | ApiUnavailableError) -> str:
    return str(error.errcode) if isinstance(error, ApiError) else "unavailable"


def recreate(failure: Failure, path: str) -> ApiError | ApiUnavailableError:
    """The recorded error again, for callers arriving during its cool-down: no upstream call."""
    if failure.errcode is None:
        return ApiUnavailableError(path, [f"{failure.message} (not retried during the cool-down)"])
    return classify(failure.errcode, failure.errmsg, path=path)


def read_record(store: Store, key: str) -> Record | None:
    """The record at ``key``; None when there is none or it cannot be read."""
    raw = store.get(key)
    if raw is None:
        return None
    try:
        return Record(**json.loads(raw))
    except (ValueError, TypeError):
        log.warning("ignoring an unreadable record at %s", key)
        return None


def write_record(store: Store, key: str, record: Record) -> None:
    """Keep ``record`` at ``key`` until it expires."""
    data: dict[str, Any] = {
        "value": record.value,
        "fetched_at": record.fetched_at,
        "refresh_at": record.refresh_at,
        "expires_at": record.expires_at,
    }
    # The store drops the record at expiry. expires_at is what decides validity; the TTL only
    # keeps the store clean, so a clock running faster than the store's merely keeps it longer.
    ttl = max(record.expires_at - record.fetched_at, 1.0)
    store.set(key, json.dumps(data).encode(), ttl=ttl)


def read_failure(store: Store, key: str) -> Failure | None:
    """The last failure of the credential at ``key``, kept for a day."""
    raw = store.get(key + ":failure")
    if raw is None:
        return None
    try:
        return Failure(**json.loads(raw))
    except (ValueError, TypeError):
        return None


def write_failure(store: Store, key: str, failure: Failure) -> None:
    """Record ``failure`` for the credential at ``key``, for a day."""
    data: dict[str, Any] = {"errcode": failure.errcode, "errmsg": failure.errmsg}
    data["message"] = failure.message
    data |= {"at": failure.at, "until": failure.until}
    store.set(key + ":failure", json.dumps(data, ensure_ascii=False).encode(), ttl=_DAY)
