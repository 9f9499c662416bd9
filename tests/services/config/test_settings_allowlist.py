"""The allow-list's settings: off by default, the trusted proxies, and what each needs."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Any

import pytest

from tests.support import TOKEN
from wxserver.protocol.errors import ConfigError
from wxserver.services.config import load_settings

GOOD_ENV = {"WX_ENV": "test", "WX_TOKEN": TOKEN}
LOOPBACK = (ip_network("127.0.0.1/32"), ip_network("::1/128"))


def test_settings_allowlist_off_and_loopback_trusted_by_default() -> None:
    settings = load_settings(GOOD_ENV)
    assert settings.callback_ip_allowlist is False
    assert settings.trusted_proxies == LOOPBACK


def test_settings_trusted_proxies_from_the_gunicorn_variable() -> None:
    env = {**GOOD_ENV, "WX_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.5,fd00::/8"}
    settings = load_settings(env)
    assert settings.trusted_proxies == (
        ip_network("10.0.0.0/8"),
        ip_network("192.168.1.5/32"),
        ip_network("fd00::/8"),
    )


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        pytest.param("10.0.0.0/33", "'10.0.0.0/33', which is not valid", id="bad-prefix"),
        pytest.param("10.0.0.1/8", "has host bits set", id="host-bits"),
        pytest.param("127.0.0.1,nginx.local", "'nginx.local'", id="a-name"),
        pytest.param("*", "trusts every client", id="star"),
    ],
)
def test_settings_bad_trusted_proxies_name_the_variable(value: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match="WX_TRUSTED_PROXIES") as caught:
        load_settings({**GOOD_ENV, "WX_TRUSTED_PROXIES": value})
    assert fragment in str(caught.value)


def test_settings_allowlist_needs_an_appsecret() -> None:
    env = {**GOOD_ENV, "WX_CALLBACK_IP_ALLOWLIST": "true"}
    with pytest.raises(ConfigError, match=r"WX_CALLBACK_IP_ALLOWLIST .*AppSecret"):
        load_settings(env)
    settings = load_settings({**env, "WX_APPSECRET": "s" * 32})
    assert settings.callback_ip_allowlist is True


@pytest.mark.parametrize(
    ("environ", "overrides"),
    [
        pytest.param({"WX_CALLBACK_IP_ALLOWLIST": "maybe"}, None, id="environment"),
        pytest.param({}, {"callback_ip_allowlist": "yes"}, id="not-a-bool"),
    ],
)
def test_settings_allowlist_must_be_a_boolean(
    environ: dict[str, str], overrides: dict[str, Any] | None
) -> None:
    with pytest.raises(ConfigError, match="WX_CALLBACK_IP_ALLOWLIST"):
        load_settings({**GOOD_ENV, **environ}, overrides)
