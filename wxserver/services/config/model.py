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
class Settings:
    """Everything the server reads from configuration, validated."""

    env: str
    bind: str
    max_body_size: int
    log_format: str
    wechat_timeout: float
    dedup_ttl: int
    store_url: Secret
    api_base_url: str
    internal_secret: Secret
    load_entry_points: bool
    callback_ip_allowlist: bool
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...]
    accounts: tuple[Account, ...]

    def account(self, name: str) -> Account:
        """Return the account called ``name``."""
        for account in self.accounts:
            if account.name == name:
                return account
        raise KeyError(name)
