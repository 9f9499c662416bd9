"""Typed, lenient reads from the field dict of a callback body.

``FieldReader`` turns WeChat's text values into ints, floats, flags and nested readers. It is
strict about nothing: the platform adds, drops and reshapes fields without notice, and a message
refused for a missing field is a message lost (WeChat shows the user 该公众号暂时无法提供服务).
So a field that is absent, empty or malformed reads as empty; ``raw`` keeps what arrived. The
``*Head`` dicts are the keyword arguments every message (or event) class shares.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

_INTEGER = re.compile(r"[ \t\r\n]*[+-]?[0-9]+[ \t\r\n]*")
_DECIMAL = re.compile(r"[ \t\r\n]*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t\r\n]*")


def _repetitions(value: Any) -> Sequence[Any]:
    # Lists come from the parser, tuples from a message's read-only ``raw``.
    if isinstance(value, list | tuple):
        return value
    return () if value is None else (value,)


class FieldReader:
    """Lenient, typed reads from one level of a field dict: a field WeChat left out, left empty
    or sent in a shape this reader does not expect is an empty field, never an error.

    Text is "" (or None from the ``opt_`` reads) when absent; numbers are None when absent or
    not numbers; a repeated field gives its first value. Also useful to a handler reading ``raw``
    of an UnknownMessage or UnknownEvent.
    """

    __slots__ = ("_fields",)

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self._fields = fields

    def opt_text(self, name: str) -> str | None:
        """The text of ``name``: "" when empty or holding elements, None when absent."""
        value = self._fields.get(name)
        if isinstance(value, str):
            return value
        if value is None:
            return "" if name in self._fields else None
        if isinstance(value, list | tuple):
            first = value[0] if value else None
            return first if isinstance(first, str) else ""
        return ""

    def text(self, name: str) -> str:
        """The text of ``name``, "" when absent."""
        value = self.opt_text(name)
        return "" if value is None else value

    def opt_int(self, name: str) -> int | None:
        """A whole number; None when absent, empty or not a whole number."""
        value = self.opt_text(name)
        if not value:
            return None
        if value.isascii() and value.isdigit():  # nearly always: plain digits, as WeChat sends
            return int(value)
        return int(value) if _INTEGER.fullmatch(value) is not None else None

    def opt_number(self, name: str) -> float | None:
        """A decimal number such as a coordinate; None when absent, empty or not a number."""
        value = self.opt_text(name)
        if not value or _DECIMAL.fullmatch(value) is None:
            return None
        return float(value)

    def opt_flag(self, name: str) -> bool | None:
        """A 0/1 flag; None when absent, empty or anything else."""
        value = self.opt_int(name)
        return None if value not in (0, 1) else value == 1

    def child(self, name: str) -> FieldReader:
        """The fields inside ``name``; empty when it is absent or holds no elements."""
        value = self._fields.get(name)
        if isinstance(value, list | tuple) and value:
            value = value[0]
        return FieldReader(value if isinstance(value, Mapping) else {})

    def children(self, name: str) -> list[FieldReader]:
        """One reader per repetition of ``name`` that holds elements."""
        return [
            FieldReader(item)
            for item in _repetitions(self._fields.get(name))
            if isinstance(item, Mapping)
        ]

    def integers(self, name: str) -> tuple[int, ...]:
        """The whole numbers among the repetitions of ``name``, in order."""
        values = (
            FieldReader({name: item}).opt_int(name) for item in _repetitions(self._fields.get(name))
        )
        return tuple(value for value in values if value is not None)

    def has(self, name: str) -> bool:
        """Whether ``name`` is present at this level."""
        return name in self._fields


class _Head(TypedDict):
    """Keyword arguments common to every message class."""

    to_user_name: str
    from_user_name: str
    create_time: int
    msg_type: str
    agent_id: str | None
    raw: Mapping[str, Any]


class NormalHead(_Head):
    """Keyword arguments common to every normal message class."""

    msg_id: int | None
    msg_data_id: str | None
    idx: int | None


class EventHead(_Head):
    """Keyword arguments common to every event class."""

    event: str
    event_key: str | None


def read_head(f: FieldReader, fields: Mapping[str, Any]) -> _Head:
    """The fields every message carries; empty (0 for CreateTime) where absent or malformed."""
    return {
        "to_user_name": f.text("ToUserName"),
        "from_user_name": f.text("FromUserName"),
        "create_time": f.opt_int("CreateTime") or 0,
        "msg_type": f.text("MsgType"),
        "agent_id": f.opt_text("AgentID"),
        "raw": fields,
    }
