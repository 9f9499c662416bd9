"""The de-duplication key of a parsed message: its MsgId, or its time, event and key."""

from __future__ import annotations

from tests.protocol.message_bodies import FIXTURES, OA, USER, event_body, text_fields
from wxserver.protocol.parsing import message_from_fields, parse_message


def test_message_key_uses_msg_id() -> None:
    message = parse_message((FIXTURES / "text.xml").read_bytes())
    assert message.key == f"{OA}:{USER}:6054768590064713728"


def test_message_key_of_event_uses_time_event_and_key() -> None:
    message = parse_message((FIXTURES / "event_click.xml").read_bytes())
    assert message.key == f"{OA}:{USER}:1700000105:CLICK:MENU_WEATHER"


def test_message_key_of_event_without_event_key_leaves_it_empty() -> None:
    message = parse_message((FIXTURES / "event_subscribe.xml").read_bytes())
    assert message.key == f"{OA}:{USER}:1700000100:subscribe:"


def test_message_key_of_job_finish_events_adds_msg_id() -> None:
    first = parse_message(
        event_body("TEMPLATESENDJOBFINISH", "<MsgID>1</MsgID><Status>ok</Status>")
    )
    second = parse_message(
        event_body("TEMPLATESENDJOBFINISH", "<MsgID>2</MsgID><Status>ok</Status>")
    )
    assert first.key == f"{OA}:{USER}:1700000000:TEMPLATESENDJOBFINISH::1"
    assert first.key != second.key


def test_message_key_of_unknown_message_uses_its_msg_id() -> None:
    message = parse_message((FIXTURES / "unknown_msgtype.xml").read_bytes())
    assert message.key == f"{OA}:{USER}:24265148013386070"


def test_message_key_without_msg_id_falls_back_to_time() -> None:
    message = message_from_fields(text_fields(MsgId=None))
    assert message.key == f"{OA}:{USER}:1700000000::"
