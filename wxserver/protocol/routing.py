"""Handler sets (the plugin unit) and the router that dispatches a message to them.

A handler is called as ``handler(message, **named_groups)`` and returns a Reply, a str (a text
reply), ``NO_REPLY`` (answer ``success``) or None (let the next handler try). Rules are tried in a
fixed order: every specific rule of every handler set, in the order the sets were loaded and the
rules were registered, then the fallbacks in the same order. The first answer that is not None wins.

Subscribe and SCAN events are matched on their *scene*: ``key="promo"`` matches a SCAN with
EventKey ``promo`` and a subscribe through the same QR code, whose EventKey is ``qrscene_promo``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from wxserver.protocol.errors import HandlerError, XmlError
from wxserver.protocol.events import (
    ScanEvent,
    SubscribeEvent,
)
from wxserver.protocol.messages import (
    EventMessage,
    Message,
    TextMessage,
    UnknownEvent,
)
from wxserver.protocol.parsing import message_from_fields
from wxserver.protocol.replies import NO_REPLY, Deferred, NoReply, Reply, TextReply

Handler = Callable[..., Any]
H = TypeVar("H", bound=Handler)
Matcher = Callable[[Message], Mapping[str, str] | None]


@dataclass(frozen=True, slots=True)
class Rule:
    """One registered handler with the test that selects it."""

    name: str
    handler: Handler
    matcher: Matcher
    fallback: bool = False
    # Run as a job outside the request (see Deferred): for handlers that may take seconds.
    background: bool = False


@dataclass(frozen=True, slots=True)
class Dispatched:
    """What the router decided: the reply, who gave it, and the handler's error if it raised."""

    reply: Reply | NoReply | Deferred
    handler: str | None
    error: BaseException | None = None


def _compile(pattern: str | re.Pattern[str]) -> re.Pattern[str]:
    return pattern if isinstance(pattern, re.Pattern) else re.compile(pattern)


# The fields a menu event carries besides its name and key, with neutral values, so that a probe
# for a scan-code, photo or location-picker key is built as its own class, as WeChat's would be.
_PROBE_FIELDS: dict[str, Any] = {
    "ToUserName": "gh_handles_event_probe",
    "FromUserName": "oHandlesEventProbe",
    "CreateTime": "0",
    "MsgType": "event",
    "ScanCodeInfo": {"ScanType": "qrcode", "ScanResult": ""},
    "SendPicsInfo": {"Count": "0"},
    "SendLocationInfo": {"Location_X": "0", "Location_Y": "0", "Scale": "0", "Label": ""},
}


def _probe_event(event: str, key: str) -> EventMessage:
    """An event named ``event`` with EventKey ``key``, as the parser would build it."""
    fields = {**_PROBE_FIELDS, "Event": event, "EventKey": key}
    try:
        message = message_from_fields(fields)
    except XmlError:
        # An event with required fields the probe lacks (LOCATION, TEMPLATESENDJOBFINISH ...):
        # rules select on the name and the key, which an UnknownEvent carries just the same.
        message = None
    if isinstance(message, EventMessage):
        return message
    return UnknownEvent(
        to_user_name=fields["ToUserName"],
        from_user_name=fields["FromUserName"],
        create_time=0,
        msg_type="event",
        event=event,
        event_key=key,
    )


def _routing_key(message: EventMessage) -> str | None:
    if isinstance(message, SubscribeEvent | ScanEvent):
        return message.scene
    return message.event_key


@dataclass
class HandlerSet:
    """A named group of handlers, registered with decorators, loaded as one plugin."""

    name: str
    rules: list[Rule] = field(default_factory=list)

    def _register(
        self, matcher: Matcher, *, fallback: bool = False, background: bool = False
    ) -> Callable[[H], H]:
        def decorator(handler: H) -> H:
            label = f"{self.name}.{getattr(handler, '__name__', 'handler')}"
            self.rules.append(Rule(label, handler, matcher, fallback, background))
            return handler

        return decorator

    def text(
        self,
        exact: str | None = None,
        *,
        regex: str | re.Pattern[str] | None = None,
        background: bool = False,
    ) -> Callable[[H], H]:
        """Text messages: all of them, those equal to ``exact``, or those matching ``regex``.

        A regex is searched with ``re.fullmatch``; its named groups are passed to the handler as
        keyword arguments.
        """
        if exact is not None and regex is not None:
            raise TypeError("text() takes either exact text or regex=, not both")
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

    def message(self, *msg_types: str, background: bool = False) -> Callable[[H], H]:
        """Messages whose MsgType is one of ``msg_types`` (any message when none is given)."""
        wanted = frozenset(kind.lower() for kind in msg_types)

        def matcher(message: Message) -> Mapping[str, str] | None:
            if wanted and message.msg_type.lower() not in wanted:
                return None
            return {}

        return self._register(matcher, background=background)

    def event(
        self,
        *events: str,
        key: str | None = None,
        key_regex: str | re.Pattern[str] | None = None,
        background: bool = False,
    ) -> Callable[[H], H]:
        """Events named ``events`` (case-insensitive; all events when none is given).

        ``key`` matches the EventKey exactly (the scene for subscribe and SCAN); ``key_regex`` is
        full-matched against it and its named groups become keyword arguments.
        """
        if key is not None and key_regex is not None:
            raise TypeError("event() takes either key= or key_regex=, not both")
        wanted = frozenset(name.lower() for name in events)
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

    def fallback(self, *, background: bool = False) -> Callable[[H], H]:
        """Any message no other rule answered, unknown types included."""
        return self._register(lambda message: {}, fallback=True, background=background)


_REPLIES = (Reply, NoReply, Deferred)


def as_reply(result: object) -> Reply | NoReply | Deferred | None:
    """Turn what a handler returned into a reply; raise HandlerError for anything else."""
    if isinstance(result, str):
        return TextReply(result)
    if result is None or isinstance(result, _REPLIES):
        return result
    raise HandlerError(
        f"a handler returned {type(result).__name__}; "
        "return a Reply, a str, NO_REPLY, Deferred or None"
    )


class Router:
    """Dispatches a message through handler sets in a fixed, documented order."""

    def __init__(self, handler_sets: Sequence[HandlerSet]) -> None:
        self.handler_sets = tuple(handler_sets)
        rules = [rule for hs in self.handler_sets for rule in hs.rules]
        self._rules = tuple(r for r in rules if not r.fallback) + tuple(
            r for r in rules if r.fallback
        )

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The rules in the order they are tried."""
        return self._rules

    def handles_event(self, event: str, key: str) -> bool:
        """Whether a rule would take the event ``event`` with EventKey ``key`` (as sent).

        Answers without calling any handler: the rules' tests are run on a made-up event. A
        catch-all rule, ``@handlers.event()`` or ``@handlers.message()``, takes every key; a
        fallback does not count, because it stands for "nobody handles this". Used to refuse a
        menu whose click keys would reach no handler.
        """
        probe = _probe_event(event, key)
        return any(rule.matcher(probe) is not None for rule in self._rules if not rule.fallback)

    def dispatch(self, message: Message) -> Dispatched:
        """Run the first matching handler that answers; a raising handler answers ``success``.

        A background rule is not run here: it answers a Deferred naming itself, for the job.
        """
        for rule in self._rules:
            groups = rule.matcher(message)
            if groups is None:
                continue
            if rule.background:
                return Dispatched(Deferred(rule=rule.name, groups=groups), rule.name)
            try:
                reply = as_reply(rule.handler(message, **groups))
            except Exception as exc:  # a handler's bug must never become a 5xx
                return Dispatched(NO_REPLY, rule.name, exc)
            if reply is not None:
                return Dispatched(reply, rule.name)
        return Dispatched(NO_REPLY, None)

    def finish(self, deferred: Deferred, message: Message) -> Dispatched:
        """Do the work of ``deferred`` (in the job worker): its rule, or its function."""
        name = deferred.rule or getattr(deferred.call, "__qualname__", "deferred")
        try:
            if deferred.rule is not None:
                rule = next((r for r in self._rules if r.name == deferred.rule), None)
                if rule is None:
                    raise HandlerError(
                        f"no rule {deferred.rule!r} is loaded to finish this message"
                    )
                result = rule.handler(message, **deferred.groups)
            else:
                assert deferred.call is not None  # noqa: S101 - Deferred checks one is set
                result = deferred.call(*deferred.args)
            reply = as_reply(result)
            if isinstance(reply, Deferred):
                raise HandlerError("deferred work returned another Deferred")
        except Exception as exc:  # as in dispatch: logged by the caller, answered success
            return Dispatched(NO_REPLY, name, exc)
        return Dispatched(NO_REPLY if reply is None else reply, name)
