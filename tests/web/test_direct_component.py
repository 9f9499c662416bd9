"""A component's message URL answered straight from the environ, and through Flask: the same."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, g

from tests.component_player import AUTHORIZER, component_app, services_of, settings_of, text
from tests.fakewechat import FakeWeChat
from wxserver.testing import open_reply, sign_request

VIEW = "component.messages"


@pytest.fixture
def app(fake: FakeWeChat) -> Iterator[Flask]:
    built = component_app(fake)
    yield built
    services_of(built).api.close()


def counting_view(app: Flask) -> list[str]:
    """Wrap the message URL's view so that each call through Flask is recorded."""
    calls: list[str] = []
    view = app.view_functions[VIEW]

    def wrapped(**kwargs: Any) -> Any:
        calls.append(kwargs["app_id"])
        return view(**kwargs)

    app.view_functions[VIEW] = wrapped
    return calls


def exchange(app: Flask, path: str, content: str) -> tuple[int, dict[str, str], str]:
    """One sealed message to ``path``: status, headers and the reply's text."""
    component = settings_of(app)
    signed = sign_request(component, text(content), "secure")
    response = app.test_client().post(path, query_string=signed.query, data=signed.body)
    reply = open_reply(component, response.status_code, response.get_data(), response.content_type)
    headers = {k: v for k, v in response.headers.items() if k != "Content-Length"}
    return response.status_code, headers, reply.content or ""


def test_direct_component_message_answers_without_a_flask_request(app: Flask) -> None:
    calls = counting_view(app)
    status, headers, content = exchange(app, f"/wechat/component/{AUTHORIZER}", "hi")
    assert (status, content) == (200, "hi\nseen 1")
    assert headers["Content-Type"] == "application/xml"
    assert calls == []


def test_direct_component_message_and_flask_give_the_same_answer(app: Flask) -> None:
    calls = counting_view(app)
    direct = exchange(app, f"/wechat/component/{AUTHORIZER}", "same")

    @app.before_request
    def hook() -> None:
        g.seen = True

    through_flask = exchange(app, f"/wechat/component/{AUTHORIZER}", "same")
    assert calls == [AUTHORIZER]
    assert through_flask == direct


@pytest.mark.parametrize(
    "path",
    ["/wechat/component/wx..x", "/wechat/component/" + "a" * 33, "/wechat/component/a/b"],
    ids=["dots", "too-long", "two-segments"],
)
def test_direct_component_leaves_what_is_not_an_app_id_to_flask(app: Flask, path: str) -> None:
    status, _, _ = exchange(app, path, "x")
    assert status == 404
