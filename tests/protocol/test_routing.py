"""The router: rule kinds, order, and what handler return values become."""

from __future__ import annotations

import re
from typing import Any

import pytest

from wxserver.protocol.errors import HandlerError
from wxserver.protocol.handlers import HandlerSet
from wxserver.protocol.messages import (
    EventMessage,
    Message,
    TextMessage,
)
from wxserver.protocol.parsing import parse_message
from wxserver.protocol.replies import NO_REPLY, ImageReply, TextReply
from wxserver.protocol.routing import Router, as_reply
from wxserver.testing import build_event, build_message


def text(content: str) -> Message:
    return parse_message(build_message("text", Content=content))


def event(name: str, key: str | None = None) -> Message:
    return parse_message(build_event(name, key))


def reply_text(router: Router, message: Message) -> str | None:
    reply = router.dispatch(message).reply
    return reply.content if isinstance(reply, TextReply) else None


def test_routing_decorators_return_the_function_unchanged() -> None:
    handlers = HandlerSet("t")

    def handler(message: Message) -> str:
        return "x"

    assert handlers.text("a")(handler) is handler
    assert handlers.event("CLICK")(handler) is handler
    assert handlers.fallback()(handler) is handler


def test_routing_text_exact_and_any() -> None:
    handlers = HandlerSet("t")
    handlers.text("hello")(lambda m: "exact")
    handlers.text()(lambda m: "any")
    router = Router([handlers])
    assert reply_text(router, text("hello")) == "exact"
    assert reply_text(router, text("hello!")) == "any"


def test_routing_exact_text_is_not_a_regex() -> None:
    handlers = HandlerSet("t")
    handlers.text("a.c")(lambda m: "exact")
    router = Router([handlers])
    assert router.dispatch(text("abc")).handler is None
    assert reply_text(router, text("a.c")) == "exact"


def test_routing_text_regex_passes_named_groups() -> None:
    handlers = HandlerSet("weather")
    seen: dict[str, Any] = {}

    @handlers.text(regex=r"weather (?P<city>\w+)( (?P<day>\w+))?")
    def forecast(message: TextMessage, city: str, day: str | None) -> str:
        seen.update(city=city, day=day)
        return f"{city}: sunny"

    router = Router([handlers])
    dispatched = router.dispatch(text("weather 北京"))
    assert isinstance(dispatched.reply, TextReply)
    assert dispatched.reply.content == "北京: sunny"
    assert dispatched.handler == "weather.forecast"
    assert seen == {"city": "北京", "day": None}
    assert router.dispatch(text("the weather today")).handler is None  # full match only


def test_routing_text_accepts_compiled_pattern() -> None:
    handlers = HandlerSet("t")
    handlers.text(regex=re.compile(r"hi", re.IGNORECASE))(lambda m: "hi")
    assert reply_text(Router([handlers]), text("HI")) == "hi"


def test_routing_text_rejects_both_exact_and_regex() -> None:
    with pytest.raises(TypeError):
        HandlerSet("t").text("a", regex="b")


def test_routing_message_type_is_case_insensitive() -> None:
    handlers = HandlerSet("t")
    handlers.message("IMAGE", "voice")(lambda m: m.msg_type)
    router = Router([handlers])
    assert (
        reply_text(router, parse_message(build_message("image", PicUrl="u", MediaId="m")))
        == "image"
    )
    assert router.dispatch(text("x")).handler is None


@pytest.mark.parametrize("name", ["CLICK", "click", "Click"])
def test_routing_event_names_are_case_insensitive(name: str) -> None:
    handlers = HandlerSet("t")
    handlers.event("click", key="MENU_A")(lambda m: "menu a")
    assert reply_text(Router([handlers]), event(name, "MENU_A")) == "menu a"


def test_routing_event_key_and_key_regex() -> None:
    handlers = HandlerSet("t")
    handlers.event("CLICK", key="A")(lambda m: "a")
    handlers.event("CLICK", key_regex=r"ITEM_(?P<number>\d+)")(lambda m, number: f"item {number}")
    router = Router([handlers])
    assert reply_text(router, event("CLICK", "A")) == "a"
    assert reply_text(router, event("CLICK", "ITEM_42")) == "item 42"
    assert router.dispatch(event("CLICK", "B")).handler is None


def test_routing_event_rejects_both_key_and_key_regex() -> None:
    with pytest.raises(TypeError):
        HandlerSet("t").event("CLICK", key="a", key_regex="b")


def test_routing_scene_matches_subscribe_via_qr_and_scan() -> None:
    handlers = HandlerSet("t")
    handlers.event("subscribe", "SCAN", key="promo")(lambda m: f"{m.event} promo")
    router = Router([handlers])
    assert reply_text(router, event("subscribe", "qrscene_promo")) == "subscribe promo"
    assert reply_text(router, event("SCAN", "promo")) == "SCAN promo"
    assert router.dispatch(event("subscribe")).handler is None


def test_routing_first_non_none_answer_wins_in_registration_order() -> None:
    first, second = HandlerSet("first"), HandlerSet("second")
    first.text()(lambda m: None)
    first.text()(lambda m: "first")
    second.text()(lambda m: "second")
    assert reply_text(Router([first, second]), text("x")) == "first"
    assert reply_text(Router([second, first]), text("x")) == "second"


def test_routing_fallbacks_run_after_every_specific_rule() -> None:
    early, late = HandlerSet("early"), HandlerSet("late")
    early.fallback()(lambda m: "fallback")
    late.text()(lambda m: "specific")
    router = Router([early, late])
    assert reply_text(router, text("x")) == "specific"
    assert reply_text(router, event("CLICK", "k")) == "fallback"
    assert [rule.name for rule in router.rules] == ["late.<lambda>", "early.<lambda>"]


def test_routing_unknown_types_reach_the_fallback() -> None:
    handlers = HandlerSet("t")
    handlers.fallback()(lambda m: type(m).__name__)
    router = Router([handlers])
    assert (
        reply_text(router, parse_message(build_message("hologram", Beam="x"))) == "UnknownMessage"
    )
    assert reply_text(router, event("teleport_event")) == "UnknownEvent"


def test_routing_no_match_answers_success() -> None:
    dispatched = Router([]).dispatch(text("x"))
    assert dispatched.reply is NO_REPLY
    assert dispatched.handler is None


def test_routing_raising_handler_is_reported_not_raised() -> None:
    handlers = HandlerSet("t")

    @handlers.text()
    def broken(message: Message) -> str:
        raise ValueError("boom")

    dispatched = Router([handlers]).dispatch(text("x"))
    assert dispatched.reply is NO_REPLY
    assert dispatched.handler == "t.broken"
    assert isinstance(dispatched.error, ValueError)


def test_routing_wrong_return_type_is_a_handler_error() -> None:
    handlers = HandlerSet("t")
    handlers.text()(lambda m: 42)
    dispatched = Router([handlers]).dispatch(text("x"))
    assert isinstance(dispatched.error, HandlerError)
    assert "returned int" in str(dispatched.error)


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (None, None),
        ("hi", TextReply(content="hi")),
        (ImageReply(media_id="m"), ImageReply(media_id="m")),
        (NO_REPLY, NO_REPLY),
    ],
    ids=["none", "str", "reply", "no-reply"],
)
def test_routing_as_reply(result: object, expected: object) -> None:
    assert as_reply(result) == expected


def test_routing_event_handler_ignores_normal_messages() -> None:
    handlers = HandlerSet("t")
    handlers.event()(lambda m: "event")
    router = Router([handlers])
    assert router.dispatch(text("x")).handler is None
    location = parse_message(
        build_event("LOCATION", Latitude=23.1, Longitude=113.3, Precision=65.0)
    )
    assert isinstance(location, EventMessage)
    assert reply_text(router, location) == "event"


# --- handles_event: the question a menu check asks ---------------------------------------------


def test_routing_handles_event_exact_key_and_case_insensitive_name() -> None:
    handlers = HandlerSet("t")
    handlers.event("CLICK", key="MENU_A")(lambda m: "a")
    router = Router([handlers])
    assert router.handles_event("CLICK", "MENU_A")
    assert router.handles_event("click", "MENU_A")
    assert not router.handles_event("CLICK", "MENU_B")
    assert not router.handles_event("scancode_push", "MENU_A")


def test_routing_handles_event_key_regex() -> None:
    handlers = HandlerSet("t")
    handlers.event("CLICK", key_regex=r"ITEM_(?P<n>\d+)")(lambda m, n: n)
    router = Router([handlers])
    assert router.handles_event("CLICK", "ITEM_42")
    assert not router.handles_event("CLICK", "ITEM_X")


@pytest.mark.parametrize(
    "event",
    [
        "scancode_push",
        "scancode_waitmsg",
        "pic_sysphoto",
        "pic_photo_or_album",
        "pic_weixin",
        "location_select",
    ],
)
def test_routing_handles_event_menu_event_types(event: str) -> None:
    handlers = HandlerSet("t")
    handlers.event(event, key="K")(lambda m: "k")
    assert Router([handlers]).handles_event(event, "K")
    assert not Router([handlers]).handles_event(event, "other")


def test_routing_handles_event_catch_all_rules_take_every_key() -> None:
    any_event = HandlerSet("events")
    any_event.event()(lambda m: "e")
    any_message = HandlerSet("messages")
    any_message.message()(lambda m: "m")
    for handlers in (any_event, any_message):
        assert Router([handlers]).handles_event("CLICK", "whatever")


def test_routing_handles_event_ignores_fallbacks_and_text_rules() -> None:
    handlers = HandlerSet("t")
    handlers.text()(lambda m: "t")
    handlers.message("text", "image")(lambda m: "m")
    handlers.fallback()(lambda m: "f")
    assert not Router([handlers]).handles_event("CLICK", "K")


def test_routing_handles_event_calls_no_handler() -> None:
    called: list[Message] = []
    handlers = HandlerSet("t")
    handlers.event("CLICK")(called.append)
    assert Router([handlers]).handles_event("CLICK", "K")
    assert called == []


def test_routing_handles_event_for_events_with_required_fields() -> None:
    # LOCATION needs a latitude the probe does not carry: its name and key still decide.
    handlers = HandlerSet("t")
    handlers.event("LOCATION")(lambda m: "l")
    assert Router([handlers]).handles_event("LOCATION", "")


def test_routing_handles_event_with_the_echo_set() -> None:
    from wxserver.builtin.echo import handlers  # noqa: PLC0415 - the shipped catch-all set

    assert Router([handlers]).handles_event("CLICK", "ANY_KEY_AT_ALL")
