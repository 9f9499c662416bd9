"""The WeChat API client of one configured account, with its token owner on the shared store."""

from __future__ import annotations

from wxserver.protocol.callback import Kind
from wxserver.services.api.client import DEFAULT_BASE_URLS, WeChatAPI
from wxserver.services.config import Account, Settings, TokenMode
from wxserver.services.metrics import Metrics
from wxserver.services.store import Store
from wxserver.services.tokens import TokenOwner, connect


def api_client(
    settings: Settings, account: Account, store: Store, metrics: Metrics | None = None
) -> WeChatAPI | None:
    """The account's API client with its token owner, or None without an AppSecret.

    WeCom apps use another API (qyapi) and get none here.
    """
    if not account.app_secret or account.kind is Kind.WECOM:
        return None
    app_id = account.app_id
    api = connect(
        store,
        app_id,
        account.app_secret.reveal(),
        base_urls=settings.api_base_url or DEFAULT_BASE_URLS,
        stable=account.token_mode is TokenMode.STABLE,
        on_refresh=None
        if metrics is None
        else lambda credential, result: metrics.token_refreshes.labels(
            app_id, credential, result
        ).inc(),
    )
    if metrics is not None:
        api.on_error = lambda error: metrics.api_errors.labels(app_id, str(error.errcode)).inc()
    return api


def owner_of(api: WeChatAPI) -> TokenOwner:
    """The TokenOwner behind an ``api_client`` (which always gives it one)."""
    owner = api.tokens
    if not isinstance(owner, TokenOwner):
        raise TypeError("this API client has no TokenOwner; build it with api_client()")
    return owner
