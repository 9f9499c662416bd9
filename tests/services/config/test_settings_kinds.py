"""The data format (数据格式) and the kinds of account beyond the Official Account."""

from __future__ import annotations

import pytest

from tests.support import AES_KEY, APP_ID, TOKEN
from wxserver.protocol.errors import ConfigError
from wxserver.protocol.wire import Format
from wxserver.services.config import Kind, load_settings
from wxserver.services.exchange import Continuation

ENV = {"WX_ENV": "test", "WX_TOKEN": TOKEN, "WX_APPID": APP_ID, "WX_ENCODING_AES_KEY": AES_KEY}


def test_settings_format_defaults_to_xml_and_reads_wx_format() -> None:
    assert load_settings(ENV).account("default").format is Format.XML
    assert load_settings({**ENV, "WX_FORMAT": "json"}).account("default").format is Format.JSON


def test_settings_format_of_any_account_in_toml_terms() -> None:
    settings = load_settings(
        ENV, {"accounts": {"mini": {"path": "/mini", "token": TOKEN, "format": "json"}}}
    )
    assert settings.account("mini").format is Format.JSON


def test_settings_unknown_format_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"WX_FORMAT .*'yaml'.*xml, json"):
        load_settings({**ENV, "WX_FORMAT": "yaml"})


def test_settings_miniprogram_kind_sends_late_replies_through_the_api_when_it_can() -> None:
    env = {**ENV, "WX_KIND": "miniprogram"}
    account = load_settings({**env, "WX_APPSECRET": "secret"}).account("default")
    assert account.kind is Kind.MINIPROGRAM
    assert account.continuation is Continuation.CUSTOMER_SERVICE
    assert load_settings(env).account("default").continuation is Continuation.RETRY
    explicit = load_settings({**env, "WX_APPSECRET": "secret", "WX_CONTINUATION": "retry"})
    assert explicit.account("default").continuation is Continuation.RETRY


def test_settings_unknown_kind_lists_the_kinds() -> None:
    with pytest.raises(ConfigError, match="Use mp, wecom or miniprogram"):
        load_settings({**ENV, "WX_KIND": "minigame"})
