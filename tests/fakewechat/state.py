"""What the fake platform keeps: its credentials and address lists, its clock, tokens and faults."""

from __future__ import annotations

import collections
import multiprocessing
from dataclasses import dataclass, field
from typing import Any

APP_ID = "wx0000000000fakeapp"
APP_SECRET = "fakesecret0123456789abcdef012345"
CALLBACK_IPS = ["101.226.103.0", "101.226.62.77", "203.205.239.82"]
API_IPS = ["101.89.47.18", "109.244.145.35"]
FORCE_REFRESH_INTERVAL = 30.0


class ManualClock:
    """Platform time that moves only when ``advance`` is called.

    It lives in shared memory, so processes forked after its creation read the same time: the
    fake and the token owners of every worker see a token expire at the same instant.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = multiprocessing.get_context("fork").RawValue("d", start)

    def __call__(self) -> float:
        now: float = self._now.value
        return now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        self._now.value += seconds


@dataclass
class Token:
    """An access_token the fake has issued; ``calls`` counts the calls it authorised."""

    value: str
    expires_at: float
    revoked: bool = False
    calls: int = 0
    # Whose token it is: the fake's account, or an authorizer of the fake component.
    app_id: str = APP_ID


@dataclass(frozen=True)
class Fault:
    """What the next call to a path gets instead of (or before) its normal answer."""

    kind: str  # "errcode", "status", "delay" or "close"
    value: float = 0
    errmsg: str = ""
    host: str = ""  # only calls through this alias; "" for any


@dataclass
class Sent:
    """A message the fake accepted."""

    path: str
    body: dict[str, Any]
    raw: bytes
    # The account whose access_token sent it.
    app_id: str = APP_ID


@dataclass
class State:
    """Everything the fake remembers; read and changed under ``FakeWeChat``'s lock."""

    calls: collections.Counter[str] = field(default_factory=collections.Counter)
    served_by: list[tuple[str, str]] = field(default_factory=list)
    faults: dict[str, collections.deque[Fault]] = field(
        default_factory=lambda: collections.defaultdict(collections.deque)
    )
    tokens: dict[str, Token] = field(default_factory=dict)  # in the order issued
    stable: Token | None = None
    classic: Token | None = None
    last_force: float = float("-inf")
    tokens_issued: int = 0
    tickets_issued: int = 0
    sent: list[Sent] = field(default_factory=list)
    menu: dict[str, Any] | None = None
    oauth_codes: dict[str, str] = field(default_factory=dict)
    user_tokens: dict[str, str] = field(default_factory=dict)
