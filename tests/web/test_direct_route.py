"""The callback URL answered straight from the environ, and through Flask: the same answers.

The app hands an account's exact path to its route without a Flask request unless something on
the app would observe one (a request hook, a request signal receiver). These tests
show when each way is taken, and that both give the same status, headers and body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, g
from flask.signals import request_started

from tests.support import AppFactory
from wxserver.testing import build_message, open_reply, sign_handshake, sign_request

PATH = "/wechat"
VIEW = "callback.account_default"


def counting_view(app: Flask) -> list[str]:
    """Wrap the blueprint's view so that each call through Flask is recorded."""
    calls: list[str] = []
    view = app.view_functions[VIEW]

    def wrapped(**kwargs: Any) -> Any:
        calls.append(kwargs["account"])
        return view(**kwargs)

    app.view_functions[VIEW] = wrapped
    return calls


@pytest.fixture
def receiver() -> Iterator[list[object]]:
    seen: list[object] = []

    def on_started(sender: object, **_extra: object) -> None:
        seen.append(sender)

    request_started.connect(on_started)
    yield seen
    request_started.disconnect(on_started)


def exchange(app: Flask, mode: str = "compat", content: str = "hi") -> tuple[int, str, str]:
    """One signed message through the app: status, content type and the reply's text."""
    account = app.extensions["wxserver"].settings.account("default")
    signed = sign_request(account, build_message("text", Content=content), mode)
    response = app.test_client().post(PATH, query_string=signed.query, data=signed.body)
    reply = open_reply(account, response.status_code, response.get_data(), response.content_type)
    return response.status_code, response.content_type, reply.content or ""


def test_direct_route_answers_without_a_flask_request(make_app: AppFactory) -> None:
    app = make_app()
    calls = counting_view(app)
    assert exchange(app) == (200, "application/xml", "hi\nseen 1")
    assert calls == []


def test_direct_route_request_hook_sends_the_callback_through_flask(make_app: AppFactory) -> None:
    app = make_app()
    calls = counting_view(app)
    hooked: list[str] = []

    @app.before_request
    def remember() -> None:
        g.seen = True
        hooked.append("before")

    assert exchange(app) == (200, "application/xml", "hi\nseen 1")
    assert calls == ["default"]
    assert hooked == ["before"]


def test_direct_route_signal_receiver_sends_the_callback_through_flask(
    make_app: AppFactory, receiver: list[object]
) -> None:
    app = make_app()
    calls = counting_view(app)
    assert exchange(app)[0] == 200
    assert calls == ["default"]
    assert receiver == [app]


def test_direct_route_other_paths_and_methods_go_through_flask(make_app: AppFactory) -> None:
    app = make_app()
    calls = counting_view(app)
    client = app.test_client()
    assert client.put(PATH).status_code == 405
    assert client.post(PATH + "/").status_code == 404
    assert client.get("/healthz").status_code == 200
    assert calls == []


def test_direct_route_hook_added_after_a_direct_request_sees_the_next_one(
    make_app: AppFactory,
) -> None:
    # The way is chosen per request: a hook registered late still sees every later request.
    app = make_app()
    calls = counting_view(app)
    assert exchange(app)[0] == 200
    assert calls == []
    seen: list[str] = []

    @app.before_request
    def hook() -> None:
        seen.append("hook")

    assert exchange(app) == (200, "application/xml", "hi\nseen 1")
    assert (seen, calls) == (["hook"], ["default"])


def both_ways(make_app: AppFactory, send: Callable[[Flask], Any]) -> tuple[Any, Any]:
    direct = make_app()
    through_flask = make_app()
    through_flask.before_request(lambda: None)
    return send(direct), send(through_flask)


@pytest.mark.parametrize(
    "tamper",
    ["none", "signature", "timestamp", "body", "empty"],
)
def test_direct_route_answers_as_flask_does(make_app: AppFactory, tamper: str) -> None:
    def send(app: Flask) -> tuple[int, list[tuple[str, str]], bytes]:
        account = app.extensions["wxserver"].settings.account("default")
        signed = sign_request(account, build_message("text", Content="x", MsgId=7), "plain")
        query, body = dict(signed.query), signed.body
        if tamper == "signature":
            query["signature"] = "0" * 40
        elif tamper == "timestamp":
            query["timestamp"] = "soon"
        elif tamper == "body":
            body = b"<xml><unclosed>"
        elif tamper == "empty":
            body = b""
        response = app.test_client().post(PATH, query_string=query, data=body)
        headers = sorted((k, v) for k, v in response.headers.items() if k != "Date")
        data = response.get_data()
        if tamper == "none":  # CreateTime is the clock's second: compare the rest
            data = data.split(b"<CreateTime>")[0] + data.split(b"</CreateTime>")[1]
        return response.status_code, headers, data

    direct, through_flask = both_ways(make_app, send)
    assert direct == through_flask
    assert direct[0] == {"none": 200, "signature": 403, "timestamp": 403}.get(tamper, 400)


def test_direct_route_handshake_answers_as_flask_does(make_app: AppFactory) -> None:
    def send(app: Flask) -> tuple[int, str | None, bytes]:
        account = app.extensions["wxserver"].settings.account("default")
        query = sign_handshake(account, "4375120948345356249")
        response = app.test_client().get(PATH, query_string=query)
        return response.status_code, response.content_type, response.get_data()

    direct, through_flask = both_ways(make_app, send)
    assert direct == through_flask == (200, "text/plain; charset=utf-8", b"4375120948345356249")


def test_direct_route_bug_is_logged_and_answered_success_both_ways(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def send(app: Flask) -> tuple[int, bytes]:
        pipeline = app.direct_routes[PATH].pipeline  # type: ignore[attr-defined]

        def broken(*_args: object) -> None:
            raise RuntimeError("a bug")

        monkeypatch.setattr(pipeline, "answer", broken)
        account = app.extensions["wxserver"].settings.account("default")
        signed = sign_request(account, build_message("text", Content="x"), "plain")
        response = app.test_client().post(PATH, query_string=signed.query, data=signed.body)
        return response.status_code, response.get_data()

    with caplog.at_level(logging.ERROR, logger="wxserver.request"):
        direct, through_flask = both_ways(make_app, send)
    # Answered: a 5xx would make WeChat show its user the account is out of service.
    assert direct == through_flask == (200, b"success")
    bugs = [r for r in caplog.records if r.getMessage() == "unexpected error: RuntimeError"]
    assert len(bugs) == 2
    assert all(r.exc_info is not None for r in bugs)
