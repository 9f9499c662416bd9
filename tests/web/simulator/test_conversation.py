"""The conversation: numbered entries, a bounded history, and pages waiting for news."""

from __future__ import annotations

import threading
import time

from wxserver.web.simulator.conversation import Conversation


def add(conversation: Conversation, text: str, sender: str = "account") -> None:
    conversation.add(sender, {"kind": "text", "text": text}, exchange="m-1", openid="o")


def texts(conversation: Conversation, after: int) -> list[str]:
    return [entry["bubble"]["text"] for entry in conversation.since(after, 0)[0]]


def test_conversation_numbers_entries_and_returns_those_after() -> None:
    conversation = Conversation()
    for text in ("a", "b", "c"):
        add(conversation, text)
    assert conversation.last == 3
    assert texts(conversation, 1) == ["b", "c"]
    assert texts(conversation, 3) == []


def test_conversation_keeps_the_newest() -> None:
    conversation = Conversation(limit=3)
    for n in range(5):
        add(conversation, str(n))
    assert texts(conversation, 0) == ["2", "3", "4"]


def test_conversation_page_of_an_earlier_simulator_gets_everything() -> None:
    conversation = Conversation()
    add(conversation, "first")
    assert texts(conversation, 40) == ["first"]


def test_conversation_waiting_page_wakes_on_a_new_entry() -> None:
    conversation = Conversation()
    later = threading.Timer(0.2, lambda: add(conversation, "late"))
    later.start()
    started = time.monotonic()
    found, _ = conversation.since(0, 10)
    later.join()
    assert [entry["bubble"]["text"] for entry in found] == ["late"]
    assert time.monotonic() - started < 5


def test_conversation_waits_no_longer_than_asked() -> None:
    conversation = Conversation()
    started = time.monotonic()
    assert conversation.since(0, 0.2) == ([], False)
    assert time.monotonic() - started >= 0.2


def test_conversation_typing_until_the_account_answers() -> None:
    conversation = Conversation()
    conversation.typing(15)
    assert conversation.since(0, 0)[1] is True
    add(conversation, "the user speaks", sender="user")
    assert conversation.since(0, 0)[1] is True
    add(conversation, "the account answers")
    assert conversation.since(0, 0)[1] is False
    conversation.typing(15)
    conversation.typing(0)
    assert conversation.since(0, 0)[1] is False
