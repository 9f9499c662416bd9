"""Typed reads from the field dict of a callback body; every error names the field.

``FieldReader`` turns WeChat's text values into ints, floats, flags and nested readers, raising
XmlError with a sentence that names the element, so a bad body becomes a 400 a person can act on.
The ``*Head`` dicts are the keyword arguments every message (or event) class shares.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from wxserver.protocol.errors import XmlError

_INTEGER = re.compile(r"[ \t\r\n]*[+-]?[0-9]+[ \t\r\n]*")
_DECIMAL = re.compile(r"[ \t\r\n]*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t\r\n]*")


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "...")


def _repetitions(value: Any) -> Sequence[Any]:
    # Lists come from the parser, tuples from a message's read-only ``raw``.
    if isinstance(value, list | tuple):
        return value
    return () if value is None else (value,)


class FieldReader:
    """Typed reads from one level of a field dict; every error is an XmlError naming the field.

    Also useful to a handler reading ``raw`` of an UnknownMessage or UnknownEvent.
    """

    __slots__ = ("_fields", "_path")

    def __init__(self, fields: Mapping[str, Any], path: str = "") -> None:
        self._fields = fields
        self._path = path

    def _where(self, name: str) -> str:
        return f"<{self._path}{name}>"

    def opt_text(self, name: str) -> str | None:
        """The text of ``name``; "" for an empty element, None when absent."""
        value = self._fields.get(name)
        if isinstance(value, str):
            return value
        if value is None:
            return "" if name in self._fields else None
        if isinstance(value, list | tuple):
            raise XmlError(f"{self._where(name)} appears more than once.")
        raise XmlError(f"{self._where(name)} holds elements instead of text.")

    def text(self, name: str, *, empty: bool = True) -> str:
        """The text of a required field; ``empty=False`` also refuses an empty element."""
        value = self.opt_text(name)
        if value is None:
            raise XmlError(f"The message has no {self._where(name)}.")
        if not value and not empty:
            raise XmlError(f"{self._where(name)} is empty.")
        return value

    def opt_int(self, name: str) -> int | None:
        """A whole number, None when absent or empty."""
        value = self.opt_text(name)
        if value is None or not value.strip():
            return None
        if value.isascii() and value.isdigit():  # nearly always: plain digits, as WeChat sends
            return int(value)
        if _INTEGER.fullmatch(value) is None:
            raise XmlError(f"{self._where(name)} must be a whole number, not {_shown(value)}.")
        return int(value)

    def integer(self, name: str) -> int:
        """A required whole number."""
        value = self.opt_int(name)
        if value is None:
            raise XmlError(f"The message has no {self._where(name)} (a whole number).")
        return value

    def number(self, name: str) -> float:
        """A required decimal number such as a coordinate."""
        value = self.opt_text(name)
        if value is None or not value.strip():
            raise XmlError(f"The message has no {self._where(name)} (a number).")
        if _DECIMAL.fullmatch(value) is None:
            raise XmlError(f"{self._where(name)} must be a number, not {_shown(value)}.")
        return float(value)

    def opt_flag(self, name: str) -> bool | None:
        """A 0/1 flag, None when absent or empty."""
        value = self.opt_int(name)
        if value is None:
            return None
        if value not in (0, 1):
            raise XmlError(f"{self._where(name)} must be 0 or 1, not {value}.")
        return value == 1

    def child(self, name: str) -> FieldReader:
        """The fields inside ``name``; empty when it is absent or empty."""
        value = self._fields.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return FieldReader({}, f"{self._path}{name}/")
        if isinstance(value, Mapping):
            return FieldReader(value, f"{self._path}{name}/")
        raise XmlError(f"{self._where(name)} must hold elements.")

    def children(self, name: str) -> list[FieldReader]:
        """One reader per repetition of ``name``."""
        readers = []
        for item in _repetitions(self._fields.get(name)):
            if not isinstance(item, Mapping):
                raise XmlError(f"{self._where(name)} must hold elements.")
            readers.append(FieldReader(item, f"{self._path}{name}/"))
        return readers

    def integers(self, name: str) -> tuple[int, ...]:
        """Repetitions of a whole-number field ``name``, in order."""
        items = _repetitions(self._fields.get(name))
        return tuple(FieldReader({name: item}, self._path).integer(name) for item in items)

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
    """The fields every message carries; XmlError naming the first one missing or malformed."""
    get = fields.get
    to, sender, kind, created = (
        get("ToUserName"),
        get("FromUserName"),
        get("MsgType"),
        get("CreateTime"),
    )
    # The body as WeChat sends it, taken as it is; anything else is read field by field below,
    # where each accessor names what is wrong.
    if (
        type(to) is str
        and to
        and type(sender) is str
        and sender
        and type(kind) is str
        and kind
        and type(created) is str
        and created.isascii()
        and created.isdigit()
        and "AgentID" not in fields
    ):
        return {
            "to_user_name": to,
            "from_user_name": sender,
            "create_time": int(created),
            "msg_type": kind,
            "agent_id": None,
            "raw": fields,
        }
    return {
        "to_user_name": f.text("ToUserName", empty=False),
        "from_user_name": f.text("FromUserName", empty=False),
        "create_time": f.integer("CreateTime"),
        "msg_type": f.text("MsgType", empty=False),
        "agent_id": f.opt_text("AgentID"),
        "raw": fields,
    }
