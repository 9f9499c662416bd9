"""The simulator runs on development settings only, and only on this machine.

It signs with the account's Token and decrypts with its EncodingAESKey on behalf of anyone who can
reach its page, so it must never hold a real account's credentials: it refuses production
settings (``env = "production"``, a Token other than the public development one) and settings
that bind a server to an address other than loopback, which is how a deployment is recognised.
"""

from __future__ import annotations

from ipaddress import ip_address

from wxserver.protocol.errors import WxServerError
from wxserver.services.config import Account, Settings

# config/development.toml's public test Token (a test keeps the two the same).
DEVELOPMENT_TOKEN = "wxserverdev"  # noqa: S105 - public, and the point of the check
# The simulator's page is served on this address, and no other.
HOST = "127.0.0.1"


class ProductionSettingsError(WxServerError):
    """The simulator was asked to start with settings that look like a real deployment."""


def is_loopback(bind: str) -> bool:
    """Whether ``bind`` (``host:port``, ``[v6]:port`` or ``unix:path``) stays on this machine."""
    if bind.startswith("unix:"):
        return True
    host = bind.rsplit(":", 1)[0] if bind.count(":") == 1 or bind.startswith("[") else bind
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def check_development(settings: Settings, account: Account) -> None:
    """Raise ProductionSettingsError unless ``settings`` are development settings on loopback."""
    if settings.env == "production":
        raise ProductionSettingsError(
            "the settings are production's (env 'production'): the simulator runs only on "
            "development settings; pass --env development (or set WX_ENV=development)"
        )
    if account.token.reveal() != DEVELOPMENT_TOKEN:
        raise ProductionSettingsError(
            f"account {account.name!r} has a Token other than the development one "
            f"({DEVELOPMENT_TOKEN!r}, see config/development.toml): the simulator signs with "
            "the Token and never holds a real account's"
        )
    if not is_loopback(settings.bind):
        raise ProductionSettingsError(
            f"the settings bind the server to {settings.bind}, which is not a loopback address: "
            "the simulator runs only against a server on this machine (bind 127.0.0.1)"
        )
