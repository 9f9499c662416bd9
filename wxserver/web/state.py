"""What the app holds in ``app.extensions["wxserver"]``, and how a view finds it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from flask import Flask, current_app
from huey import Huey

from wxserver.services.account import AccountServices
from wxserver.services.allowlist import CallbackAllowlist
from wxserver.services.api.account import owner_of
from wxserver.services.api.client import WeChatAPI
from wxserver.services.component import ComponentServices
from wxserver.services.config import Account, Settings
from wxserver.services.jobs import Jobs
from wxserver.services.metrics import Metrics
from wxserver.services.netcheck import NetworkCheck
from wxserver.services.pay.pipeline import PayPipeline
from wxserver.services.store import Store
from wxserver.services.tokens import TokenOwner
from wxserver.web.errors import Refusal

EXTENSION = "wxserver"


@dataclass(frozen=True, slots=True)
class WxServer:
    """The services of one app, built once by ``init_app``: no module-level state anywhere."""

    settings: Settings
    store: Store
    metrics: Metrics
    # Each account's services, by account name.
    accounts: Mapping[str, AccountServices]
    jobs: Jobs
    # The job queue that ``wxserver worker`` consumes; None with the in-process store.
    huey: Huey | None = None
    # WeChat's callback IP list when WX_CALLBACK_IP_ALLOWLIST is on.
    allowlist: CallbackAllowlist | None = None
    # WeChat's hourly check of each account's callback URL (accounts with an API client).
    netchecks: Mapping[str, NetworkCheck] = field(default_factory=dict)
    # The WeChat Pay merchant's notify URL, when one is configured.
    pay: PayPipeline | None = None
    # The Open Platform component, when one is configured.
    component: ComponentServices | None = None


def state(app: Flask) -> WxServer:
    """The wxserver state of ``app``."""
    value: WxServer = app.extensions[EXTENSION]
    return value


def server() -> WxServer:
    """The wxserver state of the current app."""
    return state(current_app)


def account_api(name: str) -> tuple[Account, WeChatAPI]:
    """The account called ``name`` and its API client; Refusal 404 or 409 otherwise."""
    services = server().accounts.get(name)
    if services is None:
        raise Refusal(404, f"There is no account named {name!r}.")
    if services.api is None:
        raise Refusal(
            409,
            f"Account {name!r} has no AppSecret (or is a WeCom app), so this server holds no "
            f"access_token for it; set WX__ACCOUNTS__{name.upper()}__APP_SECRET (WX_APPSECRET "
            "for the default account).",
        )
    return services.account, services.api


def token_owner(name: str) -> TokenOwner:
    """The token owner of the account called ``name``; Refusal 404 or 409 otherwise."""
    _, api = account_api(name)
    try:
        return owner_of(api)
    except TypeError:
        raise Refusal(409, f"Account {name!r} has no token owner on this server.") from None
