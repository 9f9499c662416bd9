"""The simulator's app: its page and JSON API, answered only for its own host and port."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.web.simulator.support import simulator_app

BASE = "http://127.0.0.1:8100"


@pytest.fixture
def app() -> Flask:
    return simulator_app(port=8100)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def test_app_serves_the_page_and_its_files(client: FlaskClient) -> None:
    page = client.get("/", base_url=BASE)
    assert page.status_code == 200
    assert b'role="log"' in page.data
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    for name in ("simulator.js", "simulator.css"):
        assert client.get(f"/static/{name}", base_url=BASE).status_code == 200


@pytest.mark.parametrize(
    "base_url",
    ["http://evil.example:8100", "http://127.0.0.1:8101", "http://localhost"],
    ids=["other-name", "other-port", "no-port"],
)
def test_app_answers_only_its_own_host(client: FlaskClient, base_url: str) -> None:
    assert client.get("/api/state", base_url=base_url).status_code == 403
    assert client.get("/", base_url=base_url).status_code == 403


def test_app_answers_localhost_too(client: FlaskClient) -> None:
    assert client.get("/api/state", base_url="http://localhost:8100").status_code == 200


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"data": {"type": "text", "content": "x"}}, 403),
        (
            {
                "json": {"type": "text", "content": "x"},
                "headers": {"Origin": "http://evil.example"},
            },
            403,
        ),
        ({"json": {"type": "sticker"}, "headers": {"Origin": BASE}}, 400),
        ({"json": {"type": "text", "content": "x", "mode": "loud"}}, 400),
        ({"json": {"type": "text", "content": "x", "openid": "has space"}}, 400),
    ],
    ids=["form-post", "other-origin", "same-origin", "unknown-mode", "bad-openid"],
)
def test_app_send_takes_json_from_its_own_page(
    client: FlaskClient, kwargs: dict[str, object], status: int
) -> None:
    answer = client.post("/api/send", base_url=BASE, **kwargs)
    assert answer.status_code == status
    if status == 400:
        assert answer.get_json()["error"]


def test_app_send_to_a_server_that_is_not_there(client: FlaskClient) -> None:
    answer = client.post("/api/send", base_url=BASE, json={"type": "text", "content": "anyone?"})
    assert answer.status_code == 200
    entries = client.get("/api/entries?after=0&wait=0", base_url=BASE).get_json()["entries"]
    assert [entry["from"] for entry in entries] == ["user", "account"]
    bubble = entries[1]["bubble"]
    assert bubble["kind"] == "error"
    assert bubble["text"].startswith("could not reach the server")
    assert entries[1]["details"]["retries"] == 0
    assert "start the simulator with --server-log" in entries[1]["details"]["handler_note"]


def test_app_state_has_the_account_modes_and_menu(client: FlaskClient) -> None:
    state = client.get("/api/state", base_url=BASE).get_json()
    assert state["account"] == {"name": "default", "app_id": "wx0000000000devapp"}
    assert state["mode"] == "compat"
    assert state["modes"] == ["plain", "compat", "secure"]
    assert [button["name"] for button in state["menu"]["button"]] == ["今日推荐", "工具", "关于"]
    assert state["server_log"] is False


def test_app_state_names_a_broken_menu_file(tmp_path: Path) -> None:
    broken = tmp_path / "menu.toml"
    broken.write_text('[[button]]\ntype = "click"\nname = "no key"\n')
    client = simulator_app(environ={"WX_MENU_FILE": str(broken)}).test_client()
    state = client.get("/api/state", base_url=BASE).get_json()
    assert state["menu"] is None
    assert "a click button needs 'key'" in state["menu_error"]


@pytest.mark.parametrize("query", ["after=x", "wait=soon"], ids=["after", "wait"])
def test_app_entries_refuses_a_bad_query(client: FlaskClient, query: str) -> None:
    assert client.get(f"/api/entries?{query}", base_url=BASE).status_code == 400


def test_app_entries_tell_the_page_which_simulator_it_is(app: Flask) -> None:
    first = app.test_client().get("/api/entries?wait=0", base_url=BASE).get_json()
    other = simulator_app(port=8100).test_client()
    second = other.get("/api/entries?wait=0", base_url=BASE).get_json()
    assert first["epoch"] != second["epoch"]
    assert first["entries"] == []
