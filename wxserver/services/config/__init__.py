"""Configuration: the embedded defaults, TOML in config/, the environment, validated once."""

from wxserver.protocol.callback import Kind, Mode
from wxserver.protocol.secret import Secret
from wxserver.services.config.defaults import DEFAULT_ACCOUNT, DEFAULTS, ENVIRONMENT
from wxserver.services.config.loading import load_settings
from wxserver.services.config.model import Account, Component, Merchant, Settings, TokenMode

__all__ = [
    "DEFAULTS",
    "DEFAULT_ACCOUNT",
    "ENVIRONMENT",
    "Account",
    "Component",
    "Kind",
    "Merchant",
    "Mode",
    "Secret",
    "Settings",
    "TokenMode",
    "load_settings",
]
