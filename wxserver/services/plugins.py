"""Load handler sets from ``module:attr`` specs and from the ``wxserver.handlers`` entry points.

Order is part of the contract, since the first answering handler wins: the configured specs in the
order given (a spec may also be the name of an entry point), then every other installed entry point
sorted by name. A set that cannot be loaded stops start-up with a message naming it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable, Sequence
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from wxserver.protocol.errors import PluginError
from wxserver.protocol.handlers import HandlerSet

GROUP = "wxserver.handlers"


def _check(obj: object, origin: str) -> HandlerSet:
    if not isinstance(obj, HandlerSet):
        raise PluginError(
            f"handler set {origin} is a {type(obj).__name__}, not a wxserver.HandlerSet; "
            "point the spec at the HandlerSet object, e.g. 'myapp.handlers:handlers'"
        )
    return obj


def load_spec(spec: str) -> HandlerSet:
    """Import ``module:attr`` and return the HandlerSet it names."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise PluginError(f"handler set {spec!r} is not of the form 'module:attr'")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import-time failure of third-party code stops start-up
        raise PluginError(
            f"handler set {spec!r} could not be imported: {type(exc).__name__}: {exc}"
        ) from exc
    obj: object = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise PluginError(f"handler set {spec!r}: module {module_name} has no {attr}") from None
    return _check(obj, repr(spec))


def _load_entry_point(entry: EntryPoint) -> HandlerSet:
    try:
        obj = entry.load()
    except Exception as exc:  # as above: name the plugin, keep the cause
        raise PluginError(
            f"handler set entry point {entry.name!r} ({entry.value}) could not be loaded: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return _check(obj, f"entry point {entry.name!r}")


def extend_search_path(folders: Sequence[str]) -> None:
    """Put ``folders`` (WX_PLUGIN_PATH) in front of ``sys.path``, in order, each once.

    A plugin that is not installed as a package is imported from one of them, as PYTHONPATH
    would; relative folders are taken from the current directory.
    """
    for folder in reversed([str(Path(folder).absolute()) for folder in folders]):
        if folder not in sys.path:
            sys.path.insert(0, folder)


def load_handler_sets(
    specs: Sequence[str],
    *,
    use_entry_points: bool = True,
    installed: Iterable[EntryPoint] | None = None,
    search_path: Sequence[str] = (),
) -> list[HandlerSet]:
    """Return the handler sets named by ``specs`` then the other installed entry points.

    ``search_path``: folders to import plugins from besides the installed packages.
    """
    extend_search_path(search_path)
    available = {
        entry.name: entry
        for entry in (entry_points(group=GROUP) if installed is None else installed)
    }
    loaded: list[HandlerSet] = []
    used: set[str] = set()
    for spec in specs:
        if ":" not in spec and spec in available:
            loaded.append(_load_entry_point(available[spec]))
            used.add(spec)
        else:
            loaded.append(load_spec(spec))
    if use_entry_points:
        for name in sorted(available.keys() - used):
            loaded.append(_load_entry_point(available[name]))
    unique: list[HandlerSet] = []
    for handler_set in loaded:
        if all(handler_set is not seen for seen in unique):
            unique.append(handler_set)
    return unique
