"""The plugin API does what it reads as: bare decorators, and patterns that read as regexes."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from wxserver import HandlerSet, Message, TextMessage, TextReply
from wxserver.protocol.parsing import parse_message
from wxserver.protocol.routing import Router
from wxserver.testing import build_event, build_message


def _text(content: str) -> TextMessage:
    message = parse_message(build_message("text", Content=content))
    assert isinstance(message, TextMessage)
    return message


def _answer(handlers: HandlerSet, message: Message) -> object:
    return Router([handlers]).dispatch(message).reply


def test_handlers_bare_text_decorator_takes_every_text_and_returns_the_function() -> None:
    handlers = HandlerSet("bare")

    @handlers.text
    def echo(message: TextMessage) -> str:
        return message.content.upper()

    assert echo(_text("x")) == "X"  # still the function, callable as written
    assert len(handlers.rules) == 1
    assert _answer(handlers, _text("hi")) == TextReply("HI")
    assert Router([handlers]).dispatch(_text("hi")).handler == "bare.echo"


@pytest.mark.parametrize("decorator", ["message", "event", "fallback"])
def test_handlers_bare_decorators_register_and_return_the_function(decorator: str) -> None:
    handlers = HandlerSet("bare")

    def handler(message: Message) -> str:
        return "ok"

    register: Callable[[Callable[[Message], str]], object] = getattr(handlers, decorator)
    assert register(handler) is handler
    assert [rule.name for rule in handlers.rules] == ["bare.handler"]
    event = parse_message(build_event("CLICK", "K"))
    assert Router([handlers]).dispatch(event).handler == "bare.handler"


def test_handlers_anchored_positional_pattern_is_a_regex_with_named_groups() -> None:
    handlers = HandlerSet("weather")

    @handlers.text(r"^weather (?P<city>\w+)$")
    def forecast(message: TextMessage, city: str) -> str:
        return f"{city}: sunny"

    router = Router([handlers])
    assert router.dispatch(_text("weather Paris")).handler == "weather.forecast"
    assert router.dispatch(_text("weather")).handler is None


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("help", "help", "help me"),
        ("help?", "help?", "help"),
        ("[Smile]", "[Smile]", "S"),
        ("^_^", "^_^", ""),
        (r"(?P<n>\d+) items", "3 items", "three items"),
        (re.compile(r"\d+"), "42", "4a"),
    ],
    ids=["exact", "question", "emoticon-code", "emoticon", "named-group", "compiled"],
)
def test_handlers_positional_pattern_reads_as_written(
    pattern: str | re.Pattern[str], matches: str, misses: str
) -> None:
    handlers = HandlerSet("p")
    handlers.text(pattern)(lambda message, **groups: "yes")
    router = Router([handlers])
    assert router.dispatch(_text(matches)).handler is not None
    assert router.dispatch(_text(misses)).handler is None


@pytest.mark.parametrize("pattern", [r"weather (\w+)", "say .*", r"a\.b", "(?i)hello"])
def test_handlers_pattern_that_only_looks_like_a_regex_fails_at_import(pattern: str) -> None:
    with pytest.raises(TypeError, match=r"regex="):
        HandlerSet("p").text(pattern)


def test_handlers_text_takes_one_pattern() -> None:
    with pytest.raises(TypeError, match="one pattern"):
        HandlerSet("p").text("a", regex="b")
    with pytest.raises(TypeError, match="not both"):
        HandlerSet("p").text(exact="a", regex="b")
