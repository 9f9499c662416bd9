"""The app under a real gunicorn process on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

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
