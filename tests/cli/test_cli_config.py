"""``wxserver check-config`` and ``wxserver new-keys``."""

from __future__ import annotations

from typing import Any

from tests.cli.echo_account import ENV, run_cli
from tests.support import AES_KEY, TOKEN
from wxserver.services.config import load_settings


def test_cli_check_config_masks_secrets() -> None:
    done = run_cli("check-config")
    assert done.returncode == 0, done.stderr
    assert "configuration OK" in done.stdout
    assert "handler sets=echo" in done.stdout
    assert TOKEN not in done.stdout
    assert AES_KEY not in done.stdout


def test_cli_check_config_reports_bad_setting_without_traceback() -> None:
    done = run_cli("check-config", env={**ENV, "WX_TOKEN": "x"})
    assert done.returncode == 1
    assert "WX_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_new_keys_are_valid() -> None:
    done = run_cli("new-keys")
    values: dict[str, Any] = dict(line.split("=", 1) for line in done.stdout.split())
    settings = load_settings({**ENV, **values, "WX_MODE": "secure"})
    assert settings.account("default").token.reveal() == values["WX_TOKEN"]


def test_cli_check_config_shows_the_component_with_secrets_masked() -> None:
    component = {
        "WX_COMPONENT_APPID": "wx00000fakecomponent",
        "WX_COMPONENT_APPSECRET": "componentsecret123",
        "WX_COMPONENT_TOKEN": "componenttoken42",
        "WX_COMPONENT_ENCODING_AES_KEY": AES_KEY,
    }
    done = run_cli("check-config", env={**ENV, **component})
    assert done.returncode == 0, done.stderr
    assert (
        "component wx00000fakecomponent: events=/wechat/component "
        "messages=/wechat/component/$APPID$ format=xml"
    ) in done.stdout
    assert "handler sets=release-check, echo" in done.stdout
    for secret in ("componentsecret123", "componenttoken42", AES_KEY):
        assert secret not in done.stdout
