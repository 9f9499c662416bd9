"""The simulator starts only on development settings, against a server on this machine."""

from __future__ import annotations

import tomllib

import pytest

from tests.servers import ROOT
from tests.web.simulator.support import development, simulator_app
from wxserver.web.simulator import ProductionSettingsError
from wxserver.web.simulator.guard import DEVELOPMENT_TOKEN, check_development, is_loopback


def test_guard_development_token_is_the_development_configs() -> None:
    config = tomllib.loads((ROOT / "config" / "development.toml").read_text("utf-8"))
    assert config["accounts"]["default"]["token"] == DEVELOPMENT_TOKEN


def test_guard_accepts_the_development_settings() -> None:
    settings = development()
    check_development(settings, settings.account("default"))


@pytest.mark.parametrize(
    ("environ", "reason"),
    [
        (
            {
                "WX_ENV": "production",
                "WX_TOKEN": DEVELOPMENT_TOKEN,
                "WX_APPID": "wx0000000000devapp",
                "WX_ENCODING_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            },
            "production's",
        ),
        ({"WX_TOKEN": "aRealToken2024"}, "Token other than the development one"),
        ({"WX_BIND": "0.0.0.0:8000"}, "not a loopback address"),
        ({"WX_BIND": "192.0.2.10:8000"}, "not a loopback address"),
        ({"WX_BIND": "wechat.example.com:80"}, "not a loopback address"),
    ],
    ids=["env-production", "real-token", "bind-any", "bind-lan", "bind-host-name"],
)
def test_guard_refuses_production_settings(environ: dict[str, str], reason: str) -> None:
    settings = development(**environ)
    with pytest.raises(ProductionSettingsError, match=reason):
        check_development(settings, settings.account("default"))
    with pytest.raises(ProductionSettingsError, match=reason):
        simulator_app(environ=environ)


def test_guard_never_shows_the_token_it_refused() -> None:
    with pytest.raises(ProductionSettingsError) as refused:
        simulator_app(environ={"WX_TOKEN": "aRealToken2024"})
    assert "aRealToken2024" not in str(refused.value)


@pytest.mark.parametrize(
    ("bind", "local"),
    [
        ("127.0.0.1:8000", True),
        ("127.0.0.2:8000", True),
        ("localhost:8000", True),
        ("[::1]:8000", True),
        ("::1", True),
        ("unix:/run/wxserver.sock", True),
        ("0.0.0.0:8000", False),
        ("[::]:8000", False),
        ("10.0.0.5:8000", False),
        ("example.com:8000", False),
    ],
)
def test_guard_is_loopback(bind: str, local: bool) -> None:
    assert is_loopback(bind) is local
