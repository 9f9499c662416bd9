"""An Open Platform component's two URLs in-process: pushes, authorizations and messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest
from flask import Flask

from tests.component_player import (
    AUTHORIZER,
    COMPONENT_KEY,
    component_app,
    event_body,
    post_message,
    push,
    services_of,
    text,
    wait_for,
)
from tests.fakewechat import FakeWeChat
from tests.metric_values import value
from tests.web_apps import close_apis
from wxserver.protocol.secret import Secret
from wxserver.services.component.alarms import MESSAGE_FAILURE, REFUSED_PUSH
from wxserver.testing import WeChatTestClient, build_event, sign_request


@pytest.fixture
def app(fake: FakeWeChat) -> Iterator[Flask]:
    built = component_app(fake)
    yield built
    close_apis(built)
    services_of(built).api.close()


def _scrape(app: Flask) -> str:
    return str(app.extensions["wxserver"].metrics.exposition().decode())


def _authorized(app: Flask, fake: FakeWeChat, app_id: str = AUTHORIZER) -> None:
    ticket = event_body("component_verify_ticket", ComponentVerifyTicket=fake.component.ticket())
    assert push(app, ticket) == (200, b"success")
    code = fake.component.authorization_code(app_id)
    body = event_body("authorized", AuthorizerAppid=app_id, AuthorizationCode=code)
    assert push(app, body) == (200, b"success")
    assert wait_for(lambda: services_of(app).authorizers.get(app_id))


def test_component_ticket_push_is_stored_and_answered_success(app: Flask, fake: FakeWeChat) -> None:
    ticket = fake.component.ticket()
    body = event_body("component_verify_ticket", ComponentVerifyTicket=ticket)
    assert push(app, body) == (200, b"success")
    services = services_of(app)
    assert services.tickets.current() == ticket
    assert value(_scrape(app), "wxserver_component_tickets_total", result="stored") == 1
    # The ticket is what the component_access_token is fetched with.
    assert services.owner.current()
    assert fake.calls("/cgi-bin/component/api_component_token") == 1


@pytest.mark.parametrize(
    "query",
    [{"msg_signature": "0" * 40}, {"signature": "0" * 40}, {"timestamp": "1"}],
    ids=["msg_signature", "signature", "stale"],
)
def test_component_refused_push_is_counted_for_the_alarm(app: Flask, query: dict[str, str]) -> None:
    status, _ = push(app, event_body("component_verify_ticket", ComponentVerifyTicket="t"), **query)
    assert status == 403
    services = services_of(app)
    assert services.tickets.current() is None
    tally = services.alarms.tally(REFUSED_PUSH)
    assert tally is not None
    assert tally.count == 1
    assert "Error" in tally.last_reason
    assert value(_scrape(app), "wxserver_component_tickets_total", result="refused") == 1


def test_component_push_sealed_with_another_key_is_refused(app: Flask) -> None:
    component = app.extensions["wxserver"].settings.component
    other = replace(component, encoding_aes_key=Secret(COMPONENT_KEY[::-1]))
    signed = sign_request(
        other, event_body("component_verify_ticket", ComponentVerifyTicket="t"), "secure"
    )
    response = app.test_client().post(component.path, query_string=signed.query, data=signed.body)
    assert response.status_code == 400
    assert b"-4000" in response.get_data()
    assert services_of(app).alarms.tally(REFUSED_PUSH) is not None


def test_component_ticket_push_without_a_ticket_is_recorded(app: Flask) -> None:
    assert push(app, event_body("component_verify_ticket")) == (200, b"success")
    tally = services_of(app).alarms.tally(REFUSED_PUSH)
    assert tally is not None
    assert "without ComponentVerifyTicket" in tally.last_reason


def test_component_authorized_event_keeps_the_authorizer_and_its_tokens(
    app: Flask, fake: FakeWeChat
) -> None:
    _authorized(app, fake)
    services = services_of(app)
    assert services.authorizers.app_ids() == [AUTHORIZER]
    assert (
        services.authorizers.refresh_token(AUTHORIZER)
        == (fake.component.state.refresh_tokens[AUTHORIZER])
    )
    record = services.token_owner(AUTHORIZER).record()
    assert record is not None
    assert record.value == fake.component.state.current[AUTHORIZER]  # adopted, not refetched
    assert fake.component.refreshes() == []


def test_component_unauthorized_event_forgets_the_authorizer(app: Flask, fake: FakeWeChat) -> None:
    _authorized(app, fake)
    body = event_body("unauthorized", AuthorizerAppid=AUTHORIZER)
    assert push(app, body) == (200, b"success")
    services = services_of(app)
    assert services.authorizers.app_ids() == []
    assert services.authorizers.get(AUTHORIZER) is None


def test_component_unknown_info_type_is_answered_success(app: Flask) -> None:
    assert push(app, event_body("notify_third_fasteregister")) == (200, b"success")


def test_component_authorizer_message_reaches_the_handlers_with_its_authorizer(
    app: Flask, fake: FakeWeChat
) -> None:
    _authorized(app, fake)
    result = post_message(app, text("whoami"))
    assert result.encrypted  # sealed with the component's key, as WeChat requires
    assert result.content == f"{AUTHORIZER} {AUTHORIZER}"
    assert post_message(app, text("hello")).content == "hello\nseen 1"


def test_component_handler_context_api_sends_with_the_authorizer_token(
    app: Flask, fake: FakeWeChat
) -> None:
    _authorized(app, fake)
    assert post_message(app, text("send")).is_success
    (sent,) = wait_for(lambda: fake.sent)
    assert sent.app_id == AUTHORIZER
    assert sent.body["text"] == {"content": "sent through the authorizer"}


def test_component_authorizer_message_in_json(fake: FakeWeChat) -> None:
    app = component_app(fake, format="json")
    result = post_message(app, text("json please", format="json"))
    assert json.loads(result.xml)["Content"] == "json please\nseen 1"
    ticket = fake.component.ticket()
    body = event_body("component_verify_ticket", "json", ComponentVerifyTicket=ticket)
    assert push(app, body) == (200, b"success")
    assert services_of(app).tickets.current() == ticket


@pytest.mark.parametrize("app_id", ["wx..", "wx" + "0" * 40, "wx%24APPID%24"])
def test_component_message_url_refuses_what_is_not_an_app_id(app: Flask, app_id: str) -> None:
    assert post_message(app, text("x"), authorizer=app_id).status == 404


def test_component_refused_message_is_an_authorizer_failure(app: Flask) -> None:
    component = app.extensions["wxserver"].settings.component
    path = component.message_path.replace("$APPID$", AUTHORIZER)
    query = {"msg_signature": "0" * 40, "timestamp": "1700000000", "nonce": "1"}
    response = app.test_client().post(path, query_string=query, data=b"<xml/>")
    assert response.status_code == 403
    tally = services_of(app).alarms.tally(MESSAGE_FAILURE)
    assert tally is not None
    assert tally.last_reason.startswith("refused-StaleRequestError")
    assert value(_scrape(app), "wxserver_authorizer_message_failures_total") == 1


def test_component_events_of_an_ordinary_authorizer_go_to_the_handlers(app: Flask) -> None:
    body = build_event("CLICK", "MENU_A", to_user="gh_2b2c3d4e5f60")
    assert post_message(app, body).content == "event CLICK MENU_A\nseen 1"


def test_component_account_paths_keep_working(app: Flask) -> None:
    assert WeChatTestClient(app).send_text("still here").content == "still here\nseen 1"


def test_component_app_starts_no_thread_until_its_process_serves(fake: FakeWeChat) -> None:
    services = services_of(component_app(fake, start=False))
    assert services.started is None  # gunicorn's master would fork right after building it
    assert fake.calls("/cgi-bin/component/api_start_push_ticket") == 0
    started = services.start()
    assert started is not None
    started.result(timeout=10)
    assert services.start() is started  # once per process
    assert fake.calls("/cgi-bin/component/api_start_push_ticket") == 1
