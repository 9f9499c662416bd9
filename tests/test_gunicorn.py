"""The app under a real gunicorn process on 127.0.0.1, and the CLI against it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.servers import BIN, ROOT, Server, gunicorn
from tests.support import AES_KEY, APP_ID, TOKEN
from wxserver.services.config import Mode, load_settings
from wxserver.testing import build_message, open_reply, sign_handshake, sign_request

ENV = {
    "WX_ENV": "test",
    "WX_TOKEN": TOKEN,
    "WX_APPID": APP_ID,
    "WX_ENCODING_AES_KEY": AES_KEY,
    "WX_MODE": "compat",
    "WX_PLUGINS": "wxserver.builtin.echo:handlers",
    "WX_LOAD_ENTRY_POINTS": "false",
    "WX_MAX_BODY_SIZE": "4096",
}
ACCOUNT = load_settings(ENV).account("default")


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with gunicorn(ENV) as running:
        yield running


def test_gunicorn_handshake(server: Server) -> None:
    response = httpx.get(
        f"{server.url}/wechat", params=sign_handshake(ACCOUNT, "98765"), timeout=10
    )
    assert response.status_code == 200
    assert response.content == b"98765"


@pytest.mark.parametrize("mode", list(Mode), ids=[m.value for m in Mode])
def test_gunicorn_text_round_trip(server: Server, mode: Mode) -> None:
    signed = sign_request(ACCOUNT, build_message("text", Content=f"over {mode}"), mode)
    response = httpx.post(
        f"{server.url}/wechat", params=signed.query, content=signed.body, timeout=10
    )
    result = open_reply(
        ACCOUNT, response.status_code, response.content, response.headers["content-type"]
    )
    assert result.status == 200
    assert result.encrypted is (mode is not Mode.PLAIN)
    assert result.content == f"over {mode}\nseen 1"


def _chunks(body: bytes, size: int = 512) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_gunicorn_chunked_body_over_limit_is_413(server: Server) -> None:
    signed = sign_request(ACCOUNT, build_message("text", Content="x" * 8000), "plain")
    response = httpx.post(
        f"{server.url}/wechat", params=signed.query, content=_chunks(signed.body), timeout=10
    )
    assert response.status_code == 413


def test_gunicorn_chunked_body_within_limit_is_answered(server: Server) -> None:
    signed = sign_request(ACCOUNT, build_message("text", Content="chunked"), "plain")
    response = httpx.post(
        f"{server.url}/wechat", params=signed.query, content=_chunks(signed.body, 64), timeout=10
    )
    assert response.status_code == 200
    assert b"chunked\nseen 1" in response.content


def test_gunicorn_refusals_are_4xx_without_traceback(server: Server) -> None:
    bad_signature = httpx.post(
        f"{server.url}/wechat",
        params={"signature": "0" * 40, "timestamp": "1", "nonce": "1"},
        content=b"<xml/>",
        timeout=10,
    )
    assert bad_signature.status_code == 403
    signed = sign_request(ACCOUNT, b"<xml><unclosed>", "plain")
    malformed = httpx.post(
        f"{server.url}/wechat", params=signed.query, content=signed.body, timeout=10
    )
    assert malformed.status_code == 400
    for response in (bad_signature, malformed):
        assert "Traceback" not in response.text


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**{k: v for k, v in os.environ.items() if not k.startswith("WX")}, **(env or ENV)}
    return subprocess.run(
        [str(BIN / "wxserver"), *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("mode", list(Mode), ids=[m.value for m in Mode])
def test_cli_simulate_gets_the_echo_in_each_mode(server: Server, mode: Mode) -> None:
    done = _cli(
        "simulate", "--url", f"{server.url}/wechat", "--mode", mode.value, "--content", "sim"
    )
    assert done.returncode == 0, done.stderr
    assert f"({mode.value} mode) -> 200" in done.stdout
    assert "<Content><![CDATA[sim\nseen 1]]></Content>" in done.stdout
    assert ("encrypted reply, decrypted:" in done.stdout) is (mode is not Mode.PLAIN)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--type", "image"), "image\nseen 1"),
        (("--type", "event", "--event", "CLICK", "--event-key", "MENU_A"), "event CLICK MENU_A"),
    ],
    ids=["image", "click"],
)
def test_cli_simulate_other_types(server: Server, args: tuple[str, ...], expected: str) -> None:
    done = _cli("simulate", "--url", f"{server.url}/wechat", *args)
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout


def test_cli_simulate_handshake(server: Server) -> None:
    done = _cli("simulate", "--url", f"{server.url}/wechat", "--handshake")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "handshake OK" in done.stdout


def test_cli_simulate_wrong_token_reports_403(server: Server) -> None:
    done = _cli("simulate", "--url", f"{server.url}/wechat", env={**ENV, "WX_TOKEN": "wrongtoken"})
    assert done.returncode == 1
    assert "-> 403" in done.stdout


def test_cli_simulate_unreachable_server_is_a_clear_error() -> None:
    done = _cli("simulate", "--url", "http://127.0.0.1:9/wechat")
    assert done.returncode == 1
    assert "could not reach" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_check_config_masks_secrets() -> None:
    done = _cli("check-config")
    assert done.returncode == 0, done.stderr
    assert "configuration OK" in done.stdout
    assert "handler sets=echo" in done.stdout
    assert TOKEN not in done.stdout
    assert AES_KEY not in done.stdout


def test_cli_check_config_reports_bad_setting_without_traceback() -> None:
    done = _cli("check-config", env={**ENV, "WX_TOKEN": "x"})
    assert done.returncode == 1
    assert "WX_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_new_keys_are_valid() -> None:
    done = _cli("new-keys")
    values: dict[str, Any] = dict(line.split("=", 1) for line in done.stdout.split())
    settings = load_settings({**ENV, **values, "WX_MODE": "secure"})
    assert settings.account("default").token.reveal() == values["WX_TOKEN"]


def test_gunicorn_plugin_failure_stops_start_up_naming_it() -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WX")},
        **ENV,
        "WX_PLUGINS": "wxserver_missing_plugin:handlers",
        "WX_BIND": "127.0.0.1:0",
    }
    done = subprocess.run(
        [str(BIN / "gunicorn"), "-c", "config/gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "wxserver_missing_plugin" in done.stderr
