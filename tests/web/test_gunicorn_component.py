"""A component under real gunicorn processes and the fake platform: ticket, restart, release check.

The server starts without a ticket and asks for one (api_start_push_ticket); the fake pushes it,
sealed with the component's Token and key, to the authorization-event URL. The server restarts on
the same store and still holds it: it does not ask again, and the component_access_token that
the release check needs is fetched with it. Then the Open Platform's release check, end to end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.component_player import COMPONENT_KEY, COMPONENT_TOKEN
from tests.fakewechat import COMPONENT_APP_ID, COMPONENT_SECRET, FakeWeChat, Sent
from tests.servers import Server, free_port, gunicorn
from wxserver.builtin.releasecheck import TEST_APP_ID, TEST_USER_NAME
from wxserver.services.config import Component, load_settings
from wxserver.testing import build_event, build_message, open_reply, sign_request

START_PUSH = "/cgi-bin/component/api_start_push_ticket"
USER = "ozy4qt5QUADNXORxCVipKMV9dss0"


def _until(condition: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWeChat]:
    with FakeWeChat() as running:
        yield running


@pytest.fixture(scope="module")
def env(fake: FakeWeChat, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    store = tmp_path_factory.mktemp("component") / "store.lmdb"
    return {
        "WX_ENV": "test",
        "WX_COMPONENT_APPID": COMPONENT_APP_ID,
        "WX_COMPONENT_APPSECRET": COMPONENT_SECRET,
        "WX_COMPONENT_TOKEN": COMPONENT_TOKEN,
        "WX_COMPONENT_ENCODING_AES_KEY": COMPONENT_KEY,
        "WX_API_BASE_URL": fake.url,
        "WX_PLUGINS": "wxserver.builtin.echo:handlers",
        "WX_LOAD_ENTRY_POINTS": "false",
        # Both servers of this module use it: what one keeps, the next one finds.
        "WX_STORE_URL": f"lmdb:///{store}",
    }


@pytest.fixture(scope="module")
def component(env: dict[str, str]) -> Component:
    found = load_settings(env).component
    assert found is not None
    return found


@pytest.fixture(scope="module")
def server(fake: FakeWeChat, env: dict[str, str], component: Component) -> Iterator[Server]:
    """The first server; it is stopped and a second one started on the same store."""
    port = free_port()
    fake.component.push_to(f"http://127.0.0.1:{port}/wechat/component", component)
    with gunicorn(env, port=port) as first:
        assert _until(lambda: fake.component.pushes() == [200]), fake.component.pushes()
        assert fake.calls(START_PUSH) == 1
        _ = first
    with gunicorn(env) as second:
        yield second


def _post(server: Server, component: Component, body: bytes, authorizer: str) -> Any:
    signed = sign_request(component, body, "secure")
    response = httpx.post(
        f"{server.url}/wechat/component/{authorizer}",
        params=signed.query,
        content=signed.body,
        timeout=10,
    )
    content_type = response.headers.get("content-type", "")
    return open_reply(component, response.status_code, response.content, content_type)


def test_gunicorn_component_ticket_push_survives_a_restart(
    server: Server, fake: FakeWeChat
) -> None:
    time.sleep(1.0)  # the second server's start-up has had its chance to ask
    assert fake.calls(START_PUSH) == 1  # it holds the pushed ticket: no need to ask again
    assert fake.component.pushes() == [200]


@pytest.mark.parametrize("event", ["LOCATION", "subscribe"])
def test_gunicorn_component_release_check_event(
    server: Server, component: Component, event: str
) -> None:
    result = _post(server, component, build_event(event, to_user=TEST_USER_NAME), TEST_APP_ID)
    assert result.encrypted
    assert result.content == f"{event}from_callback"


def test_gunicorn_component_release_check_text(server: Server, component: Component) -> None:
    body = build_message("text", Content="TESTCOMPONENT_MSG_TYPE_TEXT", to_user=TEST_USER_NAME)
    result = _post(server, component, body, TEST_APP_ID)
    assert result.content == "TESTCOMPONENT_MSG_TYPE_TEXT_callback"


def test_gunicorn_component_release_check_query_auth_code(
    server: Server, component: Component, fake: FakeWeChat
) -> None:
    code = fake.component.authorization_code(TEST_APP_ID)
    body = build_message(
        "text", Content=f"QUERY_AUTH_CODE:{code}", to_user=TEST_USER_NAME, from_user=USER
    )
    answered = time.monotonic()
    result = _post(server, component, body, TEST_APP_ID)
    assert result.is_success  # the empty passive reply

    def from_api() -> list[Sent]:
        return [sent for sent in fake.sent if sent.body.get("touser") == USER]

    sent = _until(from_api, timeout=10)
    took = time.monotonic() - answered
    assert len(sent) == 1, f"nothing within 10 s ({took:.1f} s)"
    assert sent[0].body["text"] == {"content": f"{code}_from_api"}
    assert sent[0].app_id == TEST_APP_ID  # sent with the token api_query_auth gave for the code
    issued = fake.component.state.current[TEST_APP_ID]
    assert fake._state.tokens[issued].calls == 1
    # The component_access_token behind api_query_auth came from the ticket kept before the
    # restart: one fetch, with that ticket.
    assert fake.calls("/cgi-bin/component/api_component_token") == 1


def test_gunicorn_component_other_accounts_reach_the_handlers(
    server: Server, component: Component
) -> None:
    body = build_message("text", Content="hello", to_user="gh_2b2c3d4e5f60")
    assert _post(server, component, body, "wx1234567890abcdef").content == "hello\nseen 1"


def test_gunicorn_component_store_keeps_the_authorizer(
    server: Server, env: dict[str, str], fake: FakeWeChat
) -> None:
    from wxserver.services.component.authorizers import Authorizers  # noqa: PLC0415
    from wxserver.services.store import open_store  # noqa: PLC0415

    store = open_store(env["WX_STORE_URL"])
    authorizers = Authorizers(store, COMPONENT_APP_ID)
    found = _until(lambda: authorizers.get(TEST_APP_ID))
    assert found is not None
    assert found.refresh_token == fake.component.state.refresh_tokens[TEST_APP_ID]
    assert Path(env["WX_STORE_URL"].removeprefix("lmdb:///")).exists()
