"""The release-check set (全网发布接入检测) through a component's message URL, in-process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from tests.component_player import (
    AUTHORIZER,
    component_app,
    event_body,
    post_message,
    push,
    services_of,
    text,
    wait_for,
)
from tests.fakewechat import FakeWeChat
from wxserver.builtin.releasecheck import TEST_APP_ID, TEST_USER_NAME
from wxserver.testing import build_event


@pytest.fixture
def app(fake: FakeWeChat) -> Iterator[Flask]:
    built = component_app(fake)
    ticket = event_body("component_verify_ticket", ComponentVerifyTicket=fake.component.ticket())
    assert push(built, ticket) == (200, b"success")
    yield built
    services_of(built).api.close()


@pytest.mark.parametrize("event", ["LOCATION", "subscribe", "CLICK"])
def test_release_check_event_gets_event_from_callback(app: Flask, event: str) -> None:
    body = build_event(event, to_user=TEST_USER_NAME)
    result = post_message(app, body, authorizer=TEST_APP_ID)
    assert result.encrypted
    assert result.content == f"{event}from_callback"


def test_release_check_text_gets_its_callback(app: Flask) -> None:
    result = post_message(app, text("TESTCOMPONENT_MSG_TYPE_TEXT", TEST_USER_NAME), TEST_APP_ID)
    assert result.content == "TESTCOMPONENT_MSG_TYPE_TEXT_callback"


def test_release_check_query_auth_code_answers_empty_then_sends_from_api(
    app: Flask, fake: FakeWeChat
) -> None:
    code = fake.component.authorization_code(TEST_APP_ID)
    body = text(f"QUERY_AUTH_CODE:{code}", TEST_USER_NAME, from_user="ozy4qt5QUADNXORxCVipKMV9dss0")
    result = post_message(app, body, authorizer=TEST_APP_ID)
    assert result.is_success
    (sent,) = wait_for(lambda: fake.sent, timeout=10)
    assert sent.body == {
        "touser": "ozy4qt5QUADNXORxCVipKMV9dss0",
        "msgtype": "text",
        "text": {"content": f"{code}_from_api"},
    }
    # Sent with the token api_query_auth returned for the code: the only call it authorised.
    assert sent.app_id == TEST_APP_ID
    issued = fake.component.state.current[TEST_APP_ID]
    assert fake._state.tokens[issued].calls == 1
    assert services_of(app).authorizers.get(TEST_APP_ID) is not None


@pytest.mark.parametrize(
    "content", ["TESTCOMPONENT_MSG_TYPE_TEXT", "QUERY_AUTH_CODE:abc"], ids=["text", "code"]
)
def test_release_check_leaves_every_other_account_to_its_handlers(
    app: Flask, fake: FakeWeChat, content: str
) -> None:
    result = post_message(app, text(content), authorizer=AUTHORIZER)
    assert result.content == f"{content}\nseen 1"
    assert (
        post_message(app, build_event("LOCATION"), AUTHORIZER).content == "event LOCATION\nseen 1"
    )
    assert fake.calls("/cgi-bin/component/api_query_auth") == 0


def test_release_check_can_be_turned_off(fake: FakeWeChat) -> None:
    app = component_app(fake, release_check=False)
    body = text("TESTCOMPONENT_MSG_TYPE_TEXT", TEST_USER_NAME)
    assert post_message(app, body, TEST_APP_ID).content == "TESTCOMPONENT_MSG_TYPE_TEXT\nseen 1"
