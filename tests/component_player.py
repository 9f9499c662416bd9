"""Play WeChat's Open Platform against an app in-process: pushes and authorizers' messages."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from flask import Flask

from tests.fakewechat import COMPONENT_APP_ID, COMPONENT_SECRET, FakeWeChat
from tests.support import HERMETIC_ENV, config_with
from wxserver import create_app
from wxserver.services.component import ComponentServices
from wxserver.services.config import Component
from wxserver.testing import ReplyResult, build_message, open_reply, sign_request

# The component's own Token and key: not the default account's.
COMPONENT_TOKEN = "componenttoken42"
COMPONENT_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
AUTHORIZER = "wx1234567890abcdef"
AUTHORIZER_USER = "gh_2b2c3d4e5f60"
PLUGINS = ["tests.component_handlers:handlers", "wxserver.builtin.echo:handlers"]


def component_app(fake: FakeWeChat, *, start: bool = True, **component: Any) -> Flask:
    """An app with the echo account and a component of the fake, on the in-process store;
    ``start``: what a worker starts (the request for a ticket) done before the test goes on."""
    config = config_with()
    config["api_base_url"] = fake.url
    config["component"] = {
        "app_id": COMPONENT_APP_ID,
        "app_secret": COMPONENT_SECRET,
        "token": COMPONENT_TOKEN,
        "encoding_aes_key": COMPONENT_KEY,
        "plugins": PLUGINS,
        **component,
    }
    app = create_app(config, environ=HERMETIC_ENV)
    if start:
        started = services_of(app).start()
        assert started is not None
        started.result(timeout=10)
    return app


def services_of(app: Flask) -> ComponentServices:
    services = app.extensions["wxserver"].component
    assert isinstance(services, ComponentServices)
    return services


def settings_of(app: Flask) -> Component:
    component = app.extensions["wxserver"].settings.component
    assert isinstance(component, Component)
    return component


def event_body(info_type: str, format: str = "xml", **fields: Any) -> bytes:
    """The plaintext of a push to the authorization-event URL."""
    document = {"AppId": COMPONENT_APP_ID, "CreateTime": int(time.time()), "InfoType": info_type}
    document.update(fields)
    if format == "json":
        return json.dumps(document).encode()
    inner = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in document.items())
    return f"<xml>{inner}</xml>".encode()


def push(app: Flask, body: bytes, **query: str) -> tuple[int, bytes]:
    """POST a push, sealed as WeChat seals it, to the authorization-event URL; ``query``
    overrides parameters of the signed query string."""
    component = settings_of(app)
    signed = sign_request(component, body, "secure")
    response = app.test_client().post(
        component.path, query_string={**signed.query, **query}, data=signed.body
    )
    return response.status_code, response.get_data()


def post_message(app: Flask, body: bytes, authorizer: str = AUTHORIZER) -> ReplyResult:
    """POST an authorizer's message to the message URL; the reply as WeChat reads it."""
    component = settings_of(app)
    signed = sign_request(component, body, "secure")
    path = component.message_path.replace("$APPID$", authorizer)
    response = app.test_client().post(path, query_string=signed.query, data=signed.body)
    return open_reply(component, response.status_code, response.get_data(), response.content_type)


def text(content: str, to_user: str = AUTHORIZER_USER, format: str = "xml", **fields: Any) -> bytes:
    return build_message("text", Content=content, to_user=to_user, format=format, **fields)


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll ``condition`` until it is true; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)
