"""The environment layer of the settings: ``WX_*`` variables read as typed values.

A value is read the way the same value is read in the TOML file, by the kind of the setting it
sets: ``10`` is the number 10 for a number, ``true`` is a boolean, ``["a", "b"]`` is a list (a
comma-separated list also is). A text setting keeps its text as it is, so a Token such as
``1e5`` stays the text ``1e5``. The kind of a ``WX__``-prefixed path is the kind of the setting its
last part names, wherever it sits: ``WX__ACCOUNTS__SHOP__TIMESTAMP_TOLERANCE`` is a number like
``WX_TIMESTAMP_TOLERANCE``.

A ``WX_`` variable that names no setting is reported with the closest name that does, since a
misspelled variable is otherwise silently ignored.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from typing import Any

from wxserver.protocol.errors import ConfigError
from wxserver.services.config.defaults import ENVIRONMENT

__all__ = ["KNOWN_NAMES", "from_environment", "typed_value", "unknown_names"]

# The kind of each setting, by the last part of its path (an account's setting and the top-level
# default of the same name are of one kind).
_KINDS = {path[-1]: kind for path, kind in ENVIRONMENT.values()}
# WX_ variables read elsewhere than the settings tree: which file to read, tracebacks, and the
# gunicorn settings (wxserver/web/gunicorn_conf.py).
_OTHER_NAMES = (
    "WX_CONFIG",
    "WX_CONFIG_DIR",
    "WX_DEBUG",
    "WX_THREADS",
    "WX_WORKER_CLASS",
)
KNOWN_NAMES = frozenset(ENVIRONMENT) | frozenset(_OTHER_NAMES)
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings tree that the ``WX_*`` and ``WX__*`` variables of ``environ`` set."""
    tree: dict[str, Any] = {}
    for name, (path, kind) in ENVIRONMENT.items():
        if name in environ and name != "WX_ENV":
            _put(tree, path, typed_value(name, environ[name], kind))
    for name, text in environ.items():
        if name.startswith("WX__") and len(name) > 4:
            path = tuple(part.lower() for part in name[4:].split("__"))
            _put(tree, path, typed_value(name, text, _KINDS.get(path[-1], "")))
    return tree


def typed_value(name: str, text: str, kind: str) -> Any:
    """``text`` read as a value of ``kind``: int, float, bool, list, paths or str ("" if unknown).

    A value of an unknown kind is read as TOML would read it, and kept as text if TOML reads no
    number, boolean or array in it; validation then says what the setting expects.
    """
    stripped = text.strip()
    if kind == "str":
        return stripped
    if kind in ("list", "paths") and not stripped.startswith("["):
        separator = os.pathsep if kind == "paths" else ","
        return [part.strip() for part in stripped.split(separator) if part.strip()]
    if kind == "bool" and stripped.lower() in _TRUE + _FALSE:
        return stripped.lower() in _TRUE
    value = _toml_value(stripped)
    if kind == "int" and not (isinstance(value, int) and not isinstance(value, bool)):
        raise ConfigError(name, f"must be a whole number, got {text!r}", "")
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(name, f"must be a number of seconds, got {text!r}", "")
        return float(value)
    if kind == "bool" and not isinstance(value, bool):
        raise ConfigError(name, f"must be true or false, got {text!r}", "")
    if kind in ("list", "paths") and not isinstance(value, list):
        raise ConfigError(
            name, f"must be a list, got {text!r}", 'Use a, b or a TOML array ["a", "b"].'
        )
    return stripped if value is None else value


def _toml_value(text: str) -> Any:
    """The value TOML reads in ``text``, or None where it reads none."""
    if not text or "\n" in text:
        return None
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return None


def unknown_names(environ: Mapping[str, str]) -> list[str]:
    """One sentence per ``WX_`` variable that names no setting, with the closest name that does."""
    notes = []
    for name in sorted(environ):
        if not name.startswith("WX_") or name.startswith("WX__") or name in KNOWN_NAMES:
            continue
        close = difflib.get_close_matches(name, KNOWN_NAMES, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else "the README lists the settings."
        notes.append(f"{name} is set but is not a wxserver setting: {hint}")
    return notes


def _put(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = tree
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
