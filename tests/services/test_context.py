"""What handlers reach through current_context(): account, store, and the user's session."""

from __future__ import annotations

import sys
import types

import pytest

from tests.support import AppFactory, config_with
from wxserver import HandlerSet, TextMessage, current_context
from wxserver.testing import WeChatTestClient

handlers = HandlerSet("steps")


@handlers.text("next")
def next_step(message: TextMessage) -> str:
    session = current_context().session
    session["step"] = session.get("step", 0) + 1
    return f"step {session['step']} for {current_context().account.name}"


@handlers.text("forget")
def forget(message: TextMessage) -> str:
    current_context().session.clear()
    return "forgotten"


@handlers.text("peek")
def peek(message: TextMessage) -> str:
    return f"store has {type(current_context().store).__name__}"


@pytest.fixture
def client(make_app: AppFactory) -> WeChatTestClient:
    module = types.ModuleType("wxtest_steps")
    module.handlers = handlers  # type: ignore[attr-defined]
    sys.modules["wxtest_steps"] = module
    config = config_with()
    config["plugins"] = ["wxtest_steps:handlers"]
    return WeChatTestClient(make_app(config))


def test_context_session_carries_a_conversation_per_user(client: WeChatTestClient) -> None:
    assert client.send_text("next").content == "step 1 for default"
    assert client.send_text("next").content == "step 2 for default"
    other = client.send_text("next", from_user="oAnotherUser000000000000000")
    assert other.content == "step 1 for default"
    assert client.send_text("forget").content == "forgotten"
    assert client.send_text("next").content == "step 1 for default"


def test_context_session_is_not_read_unless_used(client: WeChatTestClient) -> None:
    store = client.app.extensions["wxserver"].store
    assert client.send_text("peek").content == f"store has {type(store).__name__}"
    assert store.get("session:default:oWxServerTestUser0000000000") is None


def test_context_outside_a_handler_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="only available inside a handler"):
        current_context()
