"""Handler sets, the plugin unit: handlers registered with decorators, each with its rule.

A decorator registers the function and returns it unchanged, with or without parentheses:
``@handlers.text`` takes every text message, ``@handlers.text("help")`` the exact text ``help``,
``@handlers.text(r"^weather (?P<city>\\w+)$")`` a regular expression (a pattern anchored with
``^`` and ``$``, or holding a named group, reads as one; ``regex=`` says so for any other).
A regular expression must match the whole text, and its named groups are passed to the handler
as keyword arguments.

Subscribe and SCAN events are matched on their *scene*: ``key="promo"`` matches a SCAN with
EventKey ``promo`` and a subscribe through the same QR code, whose EventKey is ``qrscene_promo``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from wxserver.protocol.events import ScanEvent, SubscribeEvent
from wxserver.protocol.messages import EventMessage, Message, TextMessage
from wxserver.protocol.pay.routing import PayRule

Handler = Callable[..., Any]
H = TypeVar("H", bound=Handler)
Matcher = Callable[[Message], Mapping[str, str] | None]
Pattern = str | re.Pattern[str]

# What makes a positional text pattern a regular expression, and what only looks like one.
_REGEX_MARKS = ("(?P<",)
_REGEX_LOOKS = ("\\", "(?", ".*", ".+")


@dataclass(frozen=True, slots=True)
class Rule:
    """One registered handler with the test that selects it."""

    name: str
    handler: Handler
    matcher: Matcher
    fallback: bool = False
    # Run as a job outside the request (see Deferred): for handlers that may take seconds.
    background: bool = False


def _compile(pattern: Pattern) -> re.Pattern[str]:
    return pattern if isinstance(pattern, re.Pattern) else re.compile(pattern)


def text_pattern(pattern: Pattern) -> tuple[str | None, re.Pattern[str] | None]:
    """Read a positional text pattern as (exact text, None) or (None, regular expression).

    A compiled pattern, a string anchored at both ends, or one holding a named group is a regular
    expression; a string that only looks like one (a backslash, a group, ``.*``) is refused, so
    that a pattern never silently matches nothing.
    """
    if isinstance(pattern, re.Pattern):
        return None, pattern
    if (pattern.startswith("^") and pattern.endswith("$") and len(pattern) > 1) or any(
        mark in pattern for mark in _REGEX_MARKS
    ):
        return None, re.compile(pattern)
    if any(mark in pattern for mark in _REGEX_LOOKS):
        raise TypeError(
            f"text({pattern!r}) looks like a regular expression but would match that exact text; "
            f"anchor it as text(r'^...$') or pass it as text(regex={pattern!r}), or use "
            f"text(exact={pattern!r}) for the text itself"
        )
    return pattern, None


def _routing_key(message: EventMessage) -> str | None:
    if isinstance(message, SubscribeEvent | ScanEvent):
        return message.scene
    return message.event_key


def _any(_message: Message) -> Mapping[str, str] | None:
    return {}


@dataclass
class HandlerSet:
    """A named group of handlers, registered with decorators, loaded as one plugin."""

    name: str
    rules: list[Rule] = field(default_factory=list)
    # WeChat Pay notification handlers (see :meth:`pay`), apart: they take no messages.
    pay_rules: list[PayRule] = field(default_factory=list)

    def _register(
        self, matcher: Matcher, *, fallback: bool = False, background: bool = False
    ) -> Callable[[H], H]:
        def decorator(handler: H) -> H:
            label = f"{self.name}.{getattr(handler, '__name__', 'handler')}"
            self.rules.append(Rule(label, handler, matcher, fallback, background))
            return handler

        return decorator

    @overload
    def text(self, pattern: H, /) -> H: ...
    @overload
    def text(
        self,
        pattern: Pattern | None = None,
        /,
        *,
        exact: str | None = None,
        regex: Pattern | None = None,
        background: bool = False,
    ) -> Callable[[H], H]: ...
    def text(
        self,
        pattern: Pattern | Handler | None = None,
        /,
        *,
        exact: str | None = None,
        regex: Pattern | None = None,
        background: bool = False,
    ) -> Any:
        """Text messages: all of them, the exact text ``exact``, or those matching ``regex``.

        ``pattern`` is either, read as :func:`text_pattern` says; ``@handlers.text`` without
        parentheses takes every text message.
        """
        if callable(pattern):
            return self.text()(pattern)
        if pattern is not None:
            if exact is not None or regex is not None:
                raise TypeError("text() takes one pattern: positional, exact= or regex=")
            exact, regex = text_pattern(pattern)
        if exact is not None and regex is not None:
            raise TypeError("text() takes either exact= or regex=, not both")
        compiled = _compile(regex) if regex is not None else None

        def matcher(message: Message) -> Mapping[str, str] | None:
            if not isinstance(message, TextMessage):
                return None
            if compiled is not None:
                found = compiled.fullmatch(message.content)
                return None if found is None else found.groupdict()
            if exact is not None and message.content != exact:
                return None
            return {}

        return self._register(matcher, background=background)

    @overload
    def message(self, msg_type: H, /) -> H: ...
    @overload
    def message(self, *msg_types: str, background: bool = False) -> Callable[[H], H]: ...
    def message(self, *msg_types: str | Handler, background: bool = False) -> Any:
        """Messages whose MsgType is one of ``msg_types`` (any message when none is given)."""
        if len(msg_types) == 1 and callable(msg_types[0]):
            return self.message()(msg_types[0])
        wanted = frozenset(kind.lower() for kind in msg_types if isinstance(kind, str))

        def matcher(message: Message) -> Mapping[str, str] | None:
            if wanted and message.msg_type.lower() not in wanted:
                return None
            return {}

        return self._register(matcher, background=background)

    @overload
    def event(self, event: H, /) -> H: ...
    @overload
    def event(
        self,
        *events: str,
        key: str | None = None,
        key_regex: Pattern | None = None,
        background: bool = False,
    ) -> Callable[[H], H]: ...
    def event(
        self,
        *events: str | Handler,
        key: str | None = None,
        key_regex: Pattern | None = None,
        background: bool = False,
    ) -> Any:
        """Events named ``events`` (case-insensitive; all events when none is given).

        ``key`` matches the EventKey exactly (the scene for subscribe and SCAN); ``key_regex`` is
        full-matched against it and its named groups become keyword arguments.
        """
        if len(events) == 1 and callable(events[0]):
            return self.event()(events[0])
        if key is not None and key_regex is not None:
            raise TypeError("event() takes either key= or key_regex=, not both")
        wanted = frozenset(name.lower() for name in events if isinstance(name, str))
        compiled = _compile(key_regex) if key_regex is not None else None

        def matcher(message: Message) -> Mapping[str, str] | None:
            if not isinstance(message, EventMessage):
                return None
            if wanted and message.event.lower() not in wanted:
                return None
            routing_key = _routing_key(message)
            if key is not None and routing_key != key:
                return None
            if compiled is not None:
                found = compiled.fullmatch(routing_key or "")
                return None if found is None else found.groupdict()
            return {}

        return self._register(matcher, background=background)

    @overload
    def fallback(self, handler: H, /) -> H: ...
    @overload
    def fallback(self, /, *, background: bool = False) -> Callable[[H], H]: ...
    def fallback(self, handler: Handler | None = None, /, *, background: bool = False) -> Any:
        """Any message no other rule answered, unknown types included."""
        register = self._register(_any, fallback=True, background=background)
        return register if handler is None else register(handler)

    @overload
    def pay(self, event_type: H, /) -> H: ...
    @overload
    def pay(self, *event_types: str, background: bool = False) -> Callable[[H], H]: ...
    def pay(self, *event_types: str | Handler, background: bool = False) -> Any:
        """WeChat Pay notifications of ``event_types`` (every type when none is given).

        The handler receives the typed notification (``TransactionNotification``,
        ``RefundNotification`` ...); returning normally means handled, raising means failed and
        WeChat sends it again. Each notification is handled once however often it arrives.
        ``background=True`` runs it as a durable job of ``wxserver worker``.
        """
        if len(event_types) == 1 and callable(event_types[0]):
            return self.pay()(event_types[0])
        wanted = frozenset(kind.upper() for kind in event_types if isinstance(kind, str))

        def decorator(handler: H) -> H:
            label = f"{self.name}.{getattr(handler, '__name__', 'handler')}"
            self.pay_rules.append(PayRule(label, handler, wanted, background))
            return handler

        return decorator
