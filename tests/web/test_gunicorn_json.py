"""JSON push under a real gunicorn process on 127.0.0.1: answered in JSON in every mode."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.cli.echo_account import run_cli
from tests.servers import Server, gunicorn
from tests.support import AES_KEY, APP_ID, TOKEN
from wxserver.services.config import Mode, load_settings
from wxserver.testing import build_message, open_reply, sign_request

ENV = {
    "WX_ENV": "test",
    "WX_TOKEN": TOKEN,
    "WX_APPID": APP_ID,
    "WX_ENCODING_AES_KEY": AES_KEY,
    "WX_MODE": "compat",
    "WX_FORMAT": "json",
    "WX_PLUGINS": "wxserver.builtin.echo:handlers",
    "WX_LOAD_ENTRY_POINTS": "false",
}
ACCOUNT = load_settings(ENV).account("default")


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with gunicorn(ENV, workers=1) as running:
        yield running


@pytest.mark.parametrize("mode", list(Mode), ids=[m.value for m in Mode])
def test_gunicorn_json_message_answered_in_json(server: Server, mode: Mode) -> None:
    body = build_message("text", Content=f"json over {mode}", format="json")
    signed = sign_request(ACCOUNT, body, mode)
    response = httpx.post(
        f"{server.url}/wechat",
        params=signed.query,
        content=signed.body,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    sent = json.loads(response.content)
    assert ("Encrypt" in sent) is (mode is not Mode.PLAIN)
    # Read as WeChat reads it: MsgSignature verified, then decrypted, then JSON again.
    result = open_reply(
        ACCOUNT, response.status_code, response.content, response.headers["content-type"]
    )
    assert result.encrypted is (mode is not Mode.PLAIN)
    assert result.content == f"json over {mode}\nseen 1"
    assert json.loads(result.xml)["FromUserName"] == "gh_wxserver_test"


def test_gunicorn_json_duplicate_key_is_400(server: Server) -> None:
    signed = sign_request(ACCOUNT, b'{"MsgType": "text", "MsgType": "event"}', "plain")
    response = httpx.post(
        f"{server.url}/wechat", params=signed.query, content=signed.body, timeout=10
    )
    assert response.status_code == 400
    assert b"repeats the key" in response.content


def test_gunicorn_json_wxserver_simulate_speaks_json(server: Server) -> None:
    done = run_cli("simulate", "--url", f"{server.url}/wechat", "--mode", "secure", env=ENV)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "encrypted reply, decrypted:" in done.stdout
    reply = json.loads(done.stdout.split("decrypted:\n", 1)[1])
    assert reply["Content"] == "hello\nseen 1"
