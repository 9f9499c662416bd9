"""The router that dispatches a message to the rules of its handler sets.

A handler is called as ``handler(message, **named_groups)`` and returns a Reply, a str (a text
reply), ``NO_REPLY`` (answer ``success``) or None (let the next handler try). Rules are tried in a
fixed order: every specific rule of every handler set, in the order the sets were loaded and the
rules were registered, then the fallbacks in the same order. The first answer that is not None wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from wxserver.protocol.errors import HandlerError
from wxserver.protocol.handlers import HandlerSet, Rule
from wxserver.protocol.messages import EventMessage, Message
from wxserver.protocol.parsing import message_from_fields
from wxserver.protocol.replies import NO_REPLY, Deferred, NoReply, Reply, TextReply


@dataclass(frozen=True, slots=True)
class Dispatched:
    """What the router decided: the reply, who gave it, and the handler's error if it raised."""

    reply: Reply | NoReply | Deferred
    handler: str | None
    error: BaseException | None = None


# The head of a made-up event: rules select events on their name and key alone.
_PROBE_HEAD: dict[str, Any] = {
    "ToUserName": "gh_handles_event_probe",
    "FromUserName": "oHandlesEventProbe",
    "CreateTime": "0",
    "MsgType": "event",
}


def _probe_event(event: str, key: str) -> EventMessage:
    """An event named ``event`` with EventKey ``key``, built as the parser builds WeChat's."""
    message = message_from_fields({**_PROBE_HEAD, "Event": event, "EventKey": key})
    if not isinstance(message, EventMessage):  # MsgType event always builds an event
        raise TypeError(f"{type(message).__name__} is not an event")
    return message


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
