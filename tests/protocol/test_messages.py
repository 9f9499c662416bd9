"""The message classes themselves: frozen, slotted, keyword-only, with a read-only ``raw``."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from wxserver.protocol.builders import (
    MESSAGE_TYPES,
)
from wxserver.protocol.events import (
    ClickEvent,
    PicEvent,
    SubscribeMsgItem,
)
from wxserver.protocol.messages import (
    EventMessage,
    Message,
    TextMessage,
    UnknownMessage,
)
from wxserver.protocol.parsing import parse_message

FIXTURES = Path(__file__).parent.parent / "data" / "messages"


def _text(**overrides: Any) -> TextMessage:
    values: dict[str, Any] = {
        "to_user_name": "gh_1",
        "from_user_name": "o_user",
        "create_time": 1700000000,
        "msg_type": "text",
        "msg_id": 42,
        "content": "hello",
    }
    values.update(overrides)
    return TextMessage(**values)


def _fixture(name: str) -> Message:
    return parse_message((FIXTURES / name).read_bytes())


@pytest.mark.parametrize(
    ("message", "attribute"),
    [
        (_text(), "content"),
        (_text(), "to_user_name"),
        (_text(), "raw"),
        (
            ClickEvent(
                to_user_name="a", from_user_name="b", create_time=1, msg_type="event", event="CLICK"
            ),
            "event_key",
        ),
    ],
    ids=["field", "common-field", "raw", "event"],
)
def test_message_is_frozen(message: Message, attribute: str) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(message, attribute, "changed")


def test_message_nested_value_objects_are_frozen() -> None:
    item = SubscribeMsgItem(template_id="t")
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.template_id = "other"  # type: ignore[misc]


@pytest.mark.parametrize("cls", MESSAGE_TYPES, ids=[cls.__name__ for cls in MESSAGE_TYPES])
def test_message_types_are_frozen_slotted_keyword_only_dataclasses(cls: type[Message]) -> None:
    params = getattr(cls, "__dataclass_params__")  # noqa: B009 - not in the type stubs
    assert params.frozen
    assert "__slots__" in cls.__dict__
    assert all(f.kw_only for f in dataclasses.fields(cls))
    assert cls.__doc__


def test_message_has_no_instance_dict() -> None:
    assert not hasattr(_text(), "__dict__")


def test_message_rejects_positional_arguments() -> None:
    build: Any = TextMessage  # positional calls are what is being refused
    with pytest.raises(TypeError):
        build("gh_1", "o_user", 1, "text", content="hello")


def test_message_raw_is_read_only() -> None:
    message = _fixture("text.xml")
    assert isinstance(message.raw, MappingProxyType)
    with pytest.raises(TypeError):
        message.raw["Content"] = "changed"  # type: ignore[index]


def test_message_raw_is_read_only_all_the_way_down() -> None:
    message = _fixture("event_pic_photo_or_album.xml")
    info: Any = message.raw["SendPicsInfo"]
    with pytest.raises(TypeError):
        info["Count"] = "9"
    items = info["PicList"]["item"]
    assert isinstance(items, tuple)
    with pytest.raises(TypeError):
        items[0]["PicMd5Sum"] = "forged"


def test_message_raw_is_a_copy_of_the_given_mapping() -> None:
    given: dict[str, Any] = {"Content": "hello", "Nested": {"A": ["1"]}}
    message = _text(raw=given)
    given["Content"] = "changed"
    given["Nested"]["A"].append("2")
    assert message.raw == {"Content": "hello", "Nested": {"A": ("1",)}}


def test_message_raw_defaults_to_empty() -> None:
    assert _text().raw == {}


def test_message_repr_leaves_out_raw() -> None:
    message = _fixture("text.xml")
    assert "raw" not in repr(message)
    assert "6054768590064713728" in repr(message)
    assert "MsgId" not in repr(message)


def test_message_equality_ignores_raw() -> None:
    assert _text(raw={"A": "1"}) == _text(raw={"B": "2"})
    assert _text(content="a") != _text(content="b")


def test_message_is_hashable() -> None:
    event = _fixture("event_pic_sysphoto.xml")
    assert isinstance(event, PicEvent)
    assert hash(event) == hash(_fixture("event_pic_sysphoto.xml"))
    assert len({_text(), _text(), _text(content="other")}) == 2


def test_message_replace_keeps_raw_read_only() -> None:
    original = _fixture("text.xml")
    assert isinstance(original, TextMessage)
    message = dataclasses.replace(original, content="edited")
    assert message.content == "edited"
    assert isinstance(message.raw, MappingProxyType)
    assert message.raw["Content"] == "weather Shenzhen"


@pytest.mark.parametrize("name", ["event_masssendjobfinish.xml", "text_bare_wecom.xml"])
def test_message_survives_pickle_and_deepcopy(name: str) -> None:
    message = _fixture(name)
    round_trip = pickle.loads(pickle.dumps(message))  # noqa: S301 - bytes made just above
    for copied in (round_trip, copy.deepcopy(message)):
        assert type(copied) is type(message)
        assert copied == message
        assert copied.raw == message.raw
        assert isinstance(copied.raw, MappingProxyType)


def test_message_key_of_built_message_uses_typed_fields() -> None:
    assert _text().key == "gh_1:o_user:42"
    assert _text(msg_id=None).key == "gh_1:o_user:1700000000::"


def test_message_key_of_built_event_uses_typed_fields() -> None:
    event = ClickEvent(
        to_user_name="gh_1",
        from_user_name="o_user",
        create_time=5,
        msg_type="event",
        event="CLICK",
        event_key="MENU",
    )
    assert isinstance(event, EventMessage)
    assert event.key == "gh_1:o_user:5:CLICK:MENU"


def test_message_key_of_unknown_message_reads_raw() -> None:
    message = UnknownMessage(
        to_user_name="gh_1",
        from_user_name="o_user",
        create_time=5,
        msg_type="hologram",
        raw={"MsgId": "77"},
    )
    assert message.key == "gh_1:o_user:77"
