"""The validated shape of the configuration: Settings, its Accounts, and secrets that never show.

Built only by :func:`wxserver.services.config.load_settings`, which checks every value once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network

from wxserver.protocol.callback import Kind, Mode
from wxserver.protocol.secret import Secret
from wxserver.protocol.wire import Format
from wxserver.services.exchange import Continuation

# The name the component's two URLs go by in logs, metrics and store keys; no account may use it.
COMPONENT = "component"
APPID_PLACEHOLDER = "$APPID$"
RELEASE_CHECK = "wxserver.builtin.releasecheck:handlers"


class TokenMode(StrEnum):
    """How the access_token is fetched: stable_token (the default) or the classic /cgi-bin/token."""

    STABLE = "stable"
    CLASSIC = "classic"


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """One Official Account served at ``path`` with its own credentials."""

    name: str
    path: str
    kind: Kind
    token: Secret
    app_id: str
    app_secret: Secret
    encoding_aes_key: Secret
    previous_encoding_aes_key: Secret
    mode: Mode
    timestamp_tolerance: int
    reply_budget: float
    continuation: Continuation
    placeholder: str
    plugins: tuple[str, ...]
    token_mode: TokenMode
    jssdk_domains: tuple[str, ...]
    cors_origins: tuple[str, ...]
    oauth_next: str
    menu_file: str
    # The 数据格式 of the pushes: XML, or JSON (mini-programs and the Open Platform may choose it).
    format: Format = Format.XML

    @property
    def encoding_aes_keys(self) -> tuple[str, ...]:
        """The keys to try in order: the current one, then the previous one."""
        keys = (self.encoding_aes_key.reveal(), self.previous_encoding_aes_key.reveal())
        return tuple(key for key in keys if key)


@dataclass(frozen=True, slots=True, kw_only=True)
class Merchant:
    """A WeChat Pay merchant (商户号) whose APIv3 notifications are POSTed to ``path``."""

    mch_id: str
    apiv3_key: Secret
    path: str
    # The WeChat Pay public key (微信支付公钥) and its ID, PUB_KEY_ID_...; "" when not used.
    public_key_id: str
    public_key_file: str
    # Platform certificates (平台证书) in PEM; each one's serial is read from it.
    platform_cert_files: tuple[str, ...]
    # The merchant's API key and its certificate's serial: they sign /v3/certificates requests.
    private_key_file: str
    cert_serial: str
    api_base_url: str
    # Seconds a notification's answer waits for its handler; WeChat gives up at 5.
    budget: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Component:
    """One Open Platform component and its two push URLs."""

    app_id: str
    app_secret: Secret
    token: Secret
    encoding_aes_key: Secret
    previous_encoding_aes_key: Secret
    # The authorization-event URL's path.
    path: str
    # The message URL's path, with $APPID$ where the authorizer's AppID goes.
    message_path: str
    format: Format
    plugins: tuple[str, ...]
    release_check: bool
    timestamp_tolerance: int
    reply_budget: float

    @property
    def kind(self) -> Kind:
        """How its pushes are checked: always encrypted with its Token and key."""
        return Kind.COMPONENT

    @property
    def encoding_aes_keys(self) -> tuple[str, ...]:
        """The keys to try in order: the current one, then the previous one."""
        keys = (self.encoding_aes_key.reveal(), self.previous_encoding_aes_key.reveal())
        return tuple(key for key in keys if key)

    @property
    def handler_sets(self) -> tuple[str, ...]:
        """The handler sets of the authorizers' messages, the release check first when on."""
        return ((RELEASE_CHECK,) if self.release_check else ()) + self.plugins

    def message_url_rule(self) -> str:
        """The message path as a Flask rule: ``$APPID$`` becomes ``<app_id>``."""
        return self.message_path.replace(APPID_PLACEHOLDER, "<app_id>")

    def authorizers_account(self) -> Account:
        """The account the authorizers' messages are answered as (one for all of them).

        Replies the passive answer misses go out through the customer-service API with the
        authorizer's token, so the continuation is customer-service.
        """
        return Account(
            name=COMPONENT,
            path=self.message_path,
            kind=Kind.COMPONENT,
            token=self.token,
            app_id=self.app_id,
            app_secret=Secret(""),
            encoding_aes_key=self.encoding_aes_key,
            previous_encoding_aes_key=self.previous_encoding_aes_key,
            mode=Mode.SECURE,
            timestamp_tolerance=self.timestamp_tolerance,
            reply_budget=self.reply_budget,
            continuation=Continuation.CUSTOMER_SERVICE,
            placeholder="",
            plugins=self.handler_sets,
            token_mode=TokenMode.CLASSIC,
            jssdk_domains=(),
            cors_origins=(),
            oauth_next="",
            menu_file="",
            format=self.format,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything the server reads from configuration, validated."""

    env: str
    bind: str
    max_body_size: int
    log_format: str
    wechat_timeout: float
    dedup_ttl: int
    store_url: Secret
    store_fallback_url: str
    api_base_url: str
    internal_secret: Secret
    load_entry_points: bool
    callback_ip_allowlist: bool
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...]
    accounts: tuple[Account, ...]
    pay: Merchant | None = None
    # Folders put in front of sys.path before the plugins are imported (WX_PLUGIN_PATH).
    plugin_path: tuple[str, ...] = ()
    # The job worker runs on another host (WX_WORKER_ELSEWHERE, or DYNO set).
    worker_elsewhere: bool = False
    # An Open Platform component (第三方平台), if one is configured.
    component: Component | None = None

    def account(self, name: str) -> Account:
        """Return the account called ``name``."""
        for account in self.accounts:
            if account.name == name:
                return account
        raise KeyError(name)
