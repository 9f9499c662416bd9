"""A string that never shows itself: tokens, keys and passwords in settings and reprs."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Secret:
    """A string that never shows itself in a repr, a str() or a log line."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        """Return the secret text, for the one place that needs it."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('********')" if self._value else "Secret('')"

    __str__ = __repr__
