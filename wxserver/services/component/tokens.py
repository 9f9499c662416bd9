"""Authorizer access tokens: one owner each, refreshed one at a time and spread over time.

Each authorizer's authorizer_access_token has its :class:`AuthorizerTokenOwner`, a
:class:`~wxserver.services.tokens.TokenOwner` on the shared store: the same single-refresher rule
(a store lock, a re-read under it, one fetch per expiry across every process and machine), a
fetch that spends the authorizer's refresh token through the component's API
(``api_authorizer_token``), and a refresh time spread by the AppID.

Why spread: a component that gains many authorizers at once (a migration, a campaign) would see
every token expire, and be refreshed, in the same minute two hours later, and again two hours
after that. So each authorizer has a fixed phase in a period, derived from its AppID: a token is
refreshed at the first moment of its phase that is at least ``SETTLE`` seconds after it was
fetched, which is always ``MARGIN`` seconds or more before it expires. With 7200-second tokens the
period is 6300 s: 10,000 authorizers are refreshed about 95 a minute (under 1%), whatever the
moment each one was fetched, and a token fetched in a burst is refreshed at most once early.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import Any

from wxserver.services.api.client import Grant, WeChatAPI
from wxserver.services.component.api import ComponentAPI, NotAuthorizedError
from wxserver.services.component.authorizers import Authorizers
from wxserver.services.store import Store
from wxserver.services.tokens import Record, TokenOwner
from wxserver.services.tokens.records import Slot

# A token is never refreshed in its first SETTLE seconds, and always MARGIN seconds before expiry.
SETTLE = 600.0
MARGIN = 300.0


def phase(app_id: str) -> float:
    """Where in the period an authorizer's tokens are refreshed: a fraction from its AppID."""
    digest = hashlib.sha256(app_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def spread_refresh_time(app_id: str, fetched_at: float, lifetime: float) -> float:
    """When a token of ``app_id`` fetched at ``fetched_at`` for ``lifetime`` s is refreshed."""
    period = lifetime - SETTLE - MARGIN
    if period <= 0:  # a token shorter than 15 minutes: half-way, as the TokenOwner does
        return fetched_at + lifetime / 2
    offset = phase(app_id) * period
    earliest = fetched_at + SETTLE
    return math.ceil((earliest - offset) / period) * period + offset


class AuthorizerFetcher:
    """Where an authorizer's tokens come from: its refresh token, through the component."""

    def __init__(
        self,
        api: ComponentAPI,
        authorizers: Authorizers,
        app_id: str,
        client: Callable[[], WeChatAPI],
    ) -> None:
        self.api = api
        self.authorizers = authorizers
        self.app_id = app_id
        self._client = client

    def fetch_access_token(self, *, stable: bool = True, force_refresh: bool = False) -> Grant:
        """A new authorizer_access_token; keeps the refresh token WeChat hands back."""
        refresh_token = self.authorizers.refresh_token(self.app_id)
        if refresh_token is None:
            raise NotAuthorizedError(self.app_id, self.api.app_id)
        grant, kept = self.api.refresh_authorizer(self.app_id, refresh_token)
        self.authorizers.set_refresh_token(self.app_id, kept)
        return grant

    def fetch_jsapi_ticket(self, access_token: str | None = None) -> Grant:
        """The authorizer's jsapi_ticket, with its own token."""
        return self._client().fetch_jsapi_ticket(access_token)


class AuthorizerTokenOwner(TokenOwner):
    """The owner of one authorizer's tokens (keys ``component:<C>:tokens:<A>:...``)."""

    def __init__(self, store: Store, fetcher: AuthorizerFetcher, **options: Any) -> None:
        namespace = f"component:{fetcher.api.app_id}:tokens"
        super().__init__(
            store, fetcher, fetcher.app_id, stable=False, namespace=namespace, **options
        )

    def _refresh_time(self, slot: Slot, now: float, lifetime: float) -> float:
        if slot is self._token:
            return spread_refresh_time(self.app_id, now, lifetime)
        return super()._refresh_time(slot, now, lifetime)

    def adopt(self, grant: Grant) -> Record:
        """Keep a token ``api_query_auth`` just returned, so that it is not fetched again."""
        now = self._clock()
        lifetime = float(grant.expires_in)
        record = Record(
            grant.value, now, self._refresh_time(self._token, now, lifetime), now + lifetime
        )
        self._write(self._token, record)
        return record
