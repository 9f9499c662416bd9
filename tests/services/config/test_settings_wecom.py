"""A WeCom (企业微信) account's settings: always secure mode, with an EncodingAESKey."""

from __future__ import annotations

import pytest

from tests.support import AES_KEY, TOKEN
from wxserver.protocol.errors import ConfigError
from wxserver.services.config import Kind, Mode, load_settings


def test_wecom_settings_force_secure_mode() -> None:
    env = {"WX_ENV": "test", "WX_KIND": "wecom", "WX_TOKEN": TOKEN, "WX_APPID": "wwcorp"}
    account = load_settings({**env, "WX_ENCODING_AES_KEY": AES_KEY}).account("default")
    assert account.kind is Kind.WECOM
    assert account.mode is Mode.SECURE
    with pytest.raises(ConfigError, match="WX_MODE"):
        load_settings({**env, "WX_ENCODING_AES_KEY": AES_KEY, "WX_MODE": "plain"})
    with pytest.raises(ConfigError, match="WX_ENCODING_AES_KEY"):
        load_settings(env)
    with pytest.raises(ConfigError, match="WX_KIND"):
        load_settings({**env, "WX_KIND": "wxwork"})
