"""The data format (数据格式) and the kinds of account beyond the Official Account."""

from __future__ import annotations

import pytest

from tests.support import AES_KEY, APP_ID, TOKEN
from wxserver.protocol.errors import ConfigError
from wxserver.protocol.wire import Format
from wxserver.services.config import load_settings

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
