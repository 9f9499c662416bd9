"""Which handler takes a WeChat Pay notification: rules registered with ``@handlers.pay``.

A rule names event types (``TRANSACTION.SUCCESS``, ``REFUND.SUCCESS`` ..., case-insensitive) or
none, for every type. The first rule that takes a notification's event type handles it, in the
order the handler sets are loaded and their rules registered. A handler is called with the typed
notification; returning normally means handled, raising means failed (WeChat sends it again).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from wxserver.protocol.pay.notifications import PayNotification

__all__ = ["PayRouter", "PayRule"]


@dataclass(frozen=True, slots=True)
class PayRule:
    """One pay handler with the event types it takes (empty: every type)."""

    name: str
    handler: Callable[..., Any]
    event_types: frozenset[str]
    # Run as a durable job (wxserver worker) rather than on a thread of the web process.
    background: bool = False

    def takes(self, notification: PayNotification) -> bool:
        """Whether this rule handles ``notification``."""
        return not self.event_types or notification.event_type.upper() in self.event_types


class _HasPayRules(Protocol):
    @property
    def pay_rules(self) -> Sequence[PayRule]: ...


class PayRouter:
    """The pay rules of some handler sets, in a fixed order."""

    def __init__(self, handler_sets: Iterable[_HasPayRules]) -> None:
        self.rules = tuple(rule for hs in handler_sets for rule in hs.pay_rules)

    def match(self, notification: PayNotification) -> PayRule | None:
        """The rule that handles ``notification``, or None when no rule takes its type."""
        return next((rule for rule in self.rules if rule.takes(notification)), None)

    def rule(self, name: str) -> PayRule | None:
        """The rule registered as ``name`` (a job names the rule it runs)."""
        return next((rule for rule in self.rules if rule.name == name), None)
