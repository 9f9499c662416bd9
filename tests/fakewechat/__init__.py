"""A fake of api.weixin.qq.com: a real HTTP server on 127.0.0.1 for the API and token tests.

It keeps the platform's token rules, on a clock the test controls:

- ``POST /cgi-bin/stable_token`` returns the same token while it has more than ``rotate_before``
  seconds left, then a new one (the old one stays valid until its own expiry);
  ``force_refresh`` revokes the current token at once (at most once per 30 s, else 45011).
- ``GET /cgi-bin/token`` issues a new token on every call and retires the previous one
  ``overlap`` seconds later.
- Every other ``/cgi-bin`` endpoint checks its access_token: 40001 when unknown or revoked,
  42001 when expired.

Time is ``clock()`` in platform seconds: the wall clock with a short ``token_lifetime`` (a token
that expires in a second or two), or a ``ManualClock`` that a test moves by hand, so that a
7200-second token expires exactly when the test says while every margin keeps its production
value.

Tests read what happened from ``calls`` (per path) and ``sent``, and make the next calls fail with
``inject(path, ...)``: an errcode, an HTTP status, a delay, or a connection closed without an
answer. The same is available over HTTP for other processes: ``GET /_fake/stats``,
``POST /_fake/inject``. A base URL may carry a host alias, ``fake.base_url("api2")``, so that
failover between "hosts" is visible in ``served_by``. ``python -m tests.fakewechat`` runs it alone.

The platform's state and its clock are in ``state``, the platform itself in ``fake``, the endpoints
that need no more than the state in ``endpoints``, the Open Platform component's in ``component``
(``fake.component``), and the HTTP server in ``server``.
"""

from tests.fakewechat.component import COMPONENT_APP_ID, COMPONENT_SECRET, FakeComponent
from tests.fakewechat.fake import FakeWeChat, main
from tests.fakewechat.server import remote_stats
from tests.fakewechat.state import (
    API_IPS,
    APP_ID,
    APP_SECRET,
    CALLBACK_IPS,
    FORCE_REFRESH_INTERVAL,
    Fault,
    ManualClock,
    Sent,
    Token,
)

__all__ = [
    "API_IPS",
    "APP_ID",
    "APP_SECRET",
    "CALLBACK_IPS",
    "COMPONENT_APP_ID",
    "COMPONENT_SECRET",
    "FORCE_REFRESH_INTERVAL",
    "FakeComponent",
    "FakeWeChat",
    "Fault",
    "ManualClock",
    "Sent",
    "Token",
    "main",
    "remote_stats",
]
