"""An Open Platform component's settings: WX_COMPONENT_* and the [component] table."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import AES_KEY, APP_ID, TOKEN
from wxserver.protocol.errors import ConfigError
from wxserver.protocol.wire import Format
from wxserver.services.config import load_settings
from wxserver.services.config.model import RELEASE_CHECK

COMPONENT_ENV = {
    "WX_ENV": "test",
    "WX_COMPONENT_APPID": "wx00000fakecomponent",
    "WX_COMPONENT_APPSECRET": "componentsecret",
    "WX_COMPONENT_TOKEN": "componenttoken",
    "WX_COMPONENT_ENCODING_AES_KEY": AES_KEY,
}
ACCOUNT_ENV = {"WX_TOKEN": TOKEN, "WX_APPID": APP_ID, "WX_ENCODING_AES_KEY": AES_KEY}


def test_settings_component_from_the_environment_with_default_paths() -> None:
    settings = load_settings({**COMPONENT_ENV, "WX_PLUGINS": "myapp.handlers:handlers"})
    component = settings.component
    assert component is not None
    assert component.app_id == "wx00000fakecomponent"
    assert component.path == "/wechat/component"
    assert component.message_path == "/wechat/component/$APPID$"
    assert component.message_url_rule() == "/wechat/component/<app_id>"
    assert component.format is Format.XML
    assert component.handler_sets == (RELEASE_CHECK, "myapp.handlers:handlers")
    assert "componentsecret" not in repr(component)
    assert "componenttoken" not in repr(component)


def test_settings_component_alone_needs_no_account() -> None:
    assert load_settings(COMPONENT_ENV).accounts == ()
    both = load_settings({**COMPONENT_ENV, **ACCOUNT_ENV})
    assert [account.name for account in both.accounts] == ["default"]


def test_settings_no_component_without_its_variables() -> None:
    assert load_settings({"WX_ENV": "test", **ACCOUNT_ENV}).component is None


@pytest.mark.parametrize(
    "missing",
    [
        "WX_COMPONENT_APPID",
        "WX_COMPONENT_APPSECRET",
        "WX_COMPONENT_TOKEN",
        "WX_COMPONENT_ENCODING_AES_KEY",
    ],
)
def test_settings_component_missing_credential_names_its_variable(missing: str) -> None:
    env = {name: value for name, value in COMPONENT_ENV.items() if name != missing}
    with pytest.raises(ConfigError, match=missing):
        load_settings(env)


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("WX_COMPONENT_TOKEN", "a", "3 to 32 letters"),
        ("WX_COMPONENT_ENCODING_AES_KEY", "short", "43 characters"),
        ("WX_COMPONENT_MESSAGE_PATH", "/wechat/authorizers", "exactly one $APPID$"),
        ("WX_COMPONENT_MESSAGE_PATH", "/m/$APPID$/$APPID$", "exactly one $APPID$"),
        ("WX_COMPONENT_PATH", "wechat/component", "URL path"),
        ("WX_COMPONENT_PATH", "/wechat/component/events", "under the message path"),
        ("WX_COMPONENT_FORMAT", "yaml", "xml or json"),
        ("WX_PATH", "/wechat/component", "overlaps"),
    ],
)
def test_settings_component_bad_value_is_refused(variable: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError, match=f"{variable}|component") as refused:
        load_settings({**COMPONENT_ENV, **ACCOUNT_ENV, variable: value})
    assert says in str(refused.value)


def test_settings_component_in_toml_terms() -> None:
    table: dict[str, Any] = {
        "app_id": "wx00000fakecomponent",
        "app_secret": "s",
        "token": "componenttoken",
        "encoding_aes_key": AES_KEY,
        "message_path": "/open/$APPID$/callback",
        "format": "json",
        "plugins": ["shop.handlers:handlers"],
        "release_check": False,
    }
    component = load_settings({"WX_ENV": "test"}, {"component": table}).component
    assert component is not None
    assert component.message_url_rule() == "/open/<app_id>/callback"
    assert component.format is Format.JSON
    assert component.handler_sets == ("shop.handlers:handlers",)


def test_settings_component_unknown_key_and_reserved_account_name() -> None:
    with pytest.raises(ConfigError, match=r"component\.appid: is not a component setting"):
        load_settings({"WX_ENV": "test"}, {"component": {"appid": "x"}})
    accounts = {"component": {"path": "/c", "token": TOKEN}}
    with pytest.raises(ConfigError, match="name of the Open Platform component"):
        load_settings({"WX_ENV": "test", **ACCOUNT_ENV}, {"accounts": accounts})
