"""Layered configuration, validation messages and secret masking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support import AES_KEY, APP_ID, TOKEN
from wxserver.protocol.errors import ConfigError
from wxserver.services.config import Mode, Secret, load_settings

GOOD_ENV = {
    "WX_ENV": "test",
    "WX_TOKEN": TOKEN,
    "WX_APPID": APP_ID,
    "WX_ENCODING_AES_KEY": AES_KEY,
    "WX_MODE": "secure",
}


def test_settings_environment_configures_default_account() -> None:
    settings = load_settings(GOOD_ENV)
    account = settings.account("default")
    assert account.path == "/wechat"
    assert account.token.reveal() == TOKEN
    assert account.app_id == APP_ID
    assert account.mode is Mode.SECURE
    assert account.encoding_aes_keys == (AES_KEY,)
    assert account.timestamp_tolerance == 300
    assert settings.max_body_size == 64 * 1024


def test_settings_layers_override_in_order(tmp_path: Path) -> None:
    (tmp_path / "staging.toml").write_text(
        'max_body_size = 2048\ntimestamp_tolerance = 60\nlog_format = "json"\n'
        '[accounts.default]\ntoken = "fromtoml"\nmode = "plain"\n'
    )
    env = {"WX_ENV": "staging", "WX_CONFIG_DIR": str(tmp_path), "WX_TIMESTAMP_TOLERANCE": "30"}
    settings = load_settings(env, {"max_body_size": 4096})
    account = settings.account("default")
    assert account.token.reveal() == "fromtoml"  # TOML over the defaults
    assert account.timestamp_tolerance == 30  # environment over TOML
    assert settings.max_body_size == 4096  # overrides over everything
    assert settings.log_format == "json"


def test_settings_explicit_config_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('[accounts.default]\ntoken = "explicit1"\n')
    settings = load_settings({"WX_CONFIG": str(path)})
    assert settings.account("default").token.reveal() == "explicit1"


def test_settings_missing_explicit_config_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="WX_CONFIG"):
        load_settings({"WX_CONFIG": str(tmp_path / "absent.toml")})


def test_settings_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text("token = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({"WX_ENV": "broken", "WX_CONFIG_DIR": str(tmp_path)})


def test_settings_several_accounts_with_double_underscore_variables() -> None:
    env = {
        **GOOD_ENV,
        "WX__ACCOUNTS__SHOP__PATH": "/shop",
        "WX__ACCOUNTS__SHOP__TOKEN": "shoptoken",
        "WX__ACCOUNTS__SHOP__MODE": "plain",
    }
    settings = load_settings(env)
    assert [a.name for a in settings.accounts] == ["default", "shop"]
    assert settings.account("shop").path == "/shop"
    assert settings.account("shop").mode is Mode.PLAIN


def test_settings_plugins_from_comma_separated_variable() -> None:
    settings = load_settings({**GOOD_ENV, "WX_PLUGINS": "a.b:c, d.e:f ,"})
    assert settings.account("default").plugins == ("a.b:c", "d.e:f")


def test_settings_previous_key_is_tried_second() -> None:
    previous = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
    settings = load_settings({**GOOD_ENV, "WX_PREVIOUS_ENCODING_AES_KEY": previous})
    assert settings.account("default").encoding_aes_keys == (AES_KEY, previous)


BAD_CASES: list[tuple[str, dict[str, str], str]] = [
    ("token-missing", {"WX_TOKEN": ""}, "WX_TOKEN"),
    ("token-too-short", {"WX_TOKEN": "ab"}, "WX_TOKEN"),
    ("token-too-long", {"WX_TOKEN": "a" * 33}, "WX_TOKEN"),
    ("token-punctuation", {"WX_TOKEN": "abc-def"}, "WX_TOKEN"),
    ("aes-key-42", {"WX_ENCODING_AES_KEY": AES_KEY[:42]}, "WX_ENCODING_AES_KEY"),
    ("aes-key-symbol", {"WX_ENCODING_AES_KEY": AES_KEY[:42] + "+"}, "WX_ENCODING_AES_KEY"),
    ("aes-key-missing-in-secure", {"WX_ENCODING_AES_KEY": ""}, "WX_ENCODING_AES_KEY"),
    ("previous-key-bad", {"WX_PREVIOUS_ENCODING_AES_KEY": "short"}, "WX_PREVIOUS_ENCODING_AES_KEY"),
    ("appid-missing", {"WX_APPID": ""}, "WX_APPID"),
    ("mode-unknown", {"WX_MODE": "safe"}, "WX_MODE"),
    ("tolerance-text", {"WX_TIMESTAMP_TOLERANCE": "soon"}, "WX_TIMESTAMP_TOLERANCE"),
    ("tolerance-negative", {"WX_TIMESTAMP_TOLERANCE": "-1"}, "WX_TIMESTAMP_TOLERANCE"),
    ("body-size-tiny", {"WX_MAX_BODY_SIZE": "10"}, "WX_MAX_BODY_SIZE"),
    ("log-format", {"WX_LOG_FORMAT": "xml"}, "WX_LOG_FORMAT"),
    ("path", {"WX_PATH": "wechat"}, "WX_PATH"),
    ("bool", {"WX_LOAD_ENTRY_POINTS": "maybe"}, "WX_LOAD_ENTRY_POINTS"),
]


@pytest.mark.parametrize(
    ("change", "key"), [(c, k) for _, c, k in BAD_CASES], ids=[i for i, _, _ in BAD_CASES]
)
def test_settings_error_names_the_key_and_hides_the_value(change: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**GOOD_ENV, **change})
    message = str(caught.value)
    assert message.startswith(key)
    for secret in (TOKEN, AES_KEY, AES_KEY[:42]):
        assert secret not in message


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"colour": "blue"}, "colour: is not a setting"),
        ({"accounts": {"default": {"tokn": "x"}}}, "accounts.default.tokn"),
        ({"accounts": {"Bad Name": {"token": TOKEN}}}, "accounts.Bad Name"),
        ({"accounts": []}, "defines no account"),
        ({"plugins": [1, 2]}, "WX_PLUGINS"),
        (
            {"accounts": {"shop": {"token": TOKEN, "path": "/wechat"}}},
            "two accounts share the path /wechat",
        ),
    ],
    ids=[
        "unknown-key",
        "unknown-account-key",
        "account-name",
        "no-accounts",
        "plugins-type",
        "dup-path",
    ],
)
def test_settings_structural_errors(overrides: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load_settings(GOOD_ENV, overrides)


def test_settings_secrets_are_masked_everywhere() -> None:
    env = {**GOOD_ENV, "WX_APPSECRET": "s3cr3tappsecretvalue"}
    settings = load_settings(env)
    text = repr(settings) + str(settings) + repr(settings.account("default"))
    for secret in (TOKEN, AES_KEY, "s3cr3tappsecretvalue"):
        assert secret not in text
    assert "********" in text


def test_secret_repr_and_reveal() -> None:
    secret = Secret("hidden")
    assert repr(secret) == str(secret) == "Secret('********')"
    assert f"{secret}" == "Secret('********')"
    assert secret.reveal() == "hidden"
    assert not Secret("")
