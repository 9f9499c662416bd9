"""How a failed start is told: one paragraph with the key, its value (masked) and the fix.

Every way of starting the server stops on a bad setting or a plugin that cannot be imported with
the same paragraph and a non-zero exit: gunicorn (``wsgi:app`` or ``'wxserver:create_app()'``),
``flask --app wxserver:create_app run``, ``wxserver run`` and ``wxserver worker``. The commands
print it themselves; for the servers that import the app, :func:`report_when_uncaught` has the
interpreter print it in place of the traceback. The traceback is shown only when asked for, with
``WX_DEBUG=1`` (``wxserver --debug`` sets it).
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Mapping
from dataclasses import fields
from types import TracebackType

from wxserver.protocol.errors import ConfigError, PluginError, WxServerError
from wxserver.services.config.environment import unknown_names
from wxserver.services.config.model import Account, Settings

__all__ = ["DEBUG_ENV", "debug_requested", "failure_report", "report_when_uncaught"]

DEBUG_ENV = "WX_DEBUG"
_HINT = f"(Run with {DEBUG_ENV}=1, or wxserver --debug, to see the traceback.)"
# The settings whose values never show: those the model keeps as Secret.
_SECRETS = frozenset(
    field.name for model in (Settings, Account) for field in fields(model) if field.type == "Secret"
)
_SHOWN_LENGTH = 60


def debug_requested(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the user asked for tracebacks (``WX_DEBUG`` set to anything but 0/false/no)."""
    value = (os.environ if environ is None else environ).get(DEBUG_ENV, "").strip().lower()
    return value not in ("", "0", "false", "no", "off")


def failure_report(error: WxServerError, environ: Mapping[str, str] | None = None) -> str:
    """The paragraph that tells why the server cannot start, at most four lines, no secret."""
    environ = os.environ if environ is None else environ
    if isinstance(error, ConfigError):
        variable = _variable(error.key, environ)
        value = f"; its value: {_shown(variable, environ)}" if variable else ""
        lines = [f"wxserver cannot start: {error.key} {error.problem}{value}."]
        if error.fix:
            lines.append(f"Fix: {error.fix}")
    elif isinstance(error, PluginError):
        shown = _shown("WX_PLUGINS", environ)
        lines = [f"wxserver cannot start: {error}{_where(error)}; WX_PLUGINS: {shown}."]
        lines.append(f"Fix: {_plugin_fix(error)}")
    else:
        lines = [f"wxserver cannot start: {error}"]
    notes = unknown_names(environ)
    if notes:
        lines.append("Note: " + " ".join(notes[:3]))
    lines.append(_HINT)
    return "\n".join(lines)


def report_when_uncaught(error: WxServerError) -> None:
    """Have the interpreter print ``error``'s report, not its traceback, if nothing catches it.

    A server that imports the app (gunicorn with ``preload_app``, ``flask run``) lets a failure
    of the factory end the process; the report then replaces the traceback, unless WX_DEBUG asks
    for it. Installed once per process; other exceptions keep the hook that was there.
    """
    if getattr(sys.excepthook, "wxserver_report", False):
        return
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, trace: TracebackType | None) -> None:
        if isinstance(value, WxServerError) and not debug_requested():
            sys.stderr.write(failure_report(value) + "\n")
            sys.stderr.flush()
        else:
            previous(kind, value, trace)

    hook.wxserver_report = True  # type: ignore[attr-defined]
    del error  # the hook tells any wxserver error: the one that ends the process
    sys.excepthook = hook


def _variable(key: str, environ: Mapping[str, str]) -> str | None:
    """The environment variable a ConfigError's key stands for, where there is one."""
    first = key.split(" ", 1)[0]
    if first.startswith("WX_"):
        return first
    path = key.split(" ", 1)[0].split(".")
    name = "WX__" + "__".join(part.upper() for part in path)
    return name if name in environ else None


def _shown(variable: str, environ: Mapping[str, str]) -> str:
    if variable not in environ:
        return "not set in the environment"
    value = environ[variable]
    if not value:
        return "'' (empty)"
    if _secret(variable):
        return f"set, {len(value)} characters (hidden)"
    text = repr(value)
    return text if len(text) <= _SHOWN_LENGTH else text[: _SHOWN_LENGTH - 4] + "...'"


def _secret(variable: str) -> bool:
    name = variable.removeprefix("WX__").removeprefix("WX_").lower()
    setting = name.rsplit("__", 1)[-1]
    aliases = {"appsecret": "app_secret", "appid": "app_id"}
    return aliases.get(setting, setting) in _SECRETS


def _where(error: PluginError) -> str:
    """Where importing the plugin failed, from the cause's traceback (a SyntaxError says so)."""
    cause = _cause(error)
    if cause is None or isinstance(cause, SyntaxError | ModuleNotFoundError):
        return ""
    frames = [
        frame
        for frame in traceback.extract_tb(cause.__traceback__)
        if not frame.filename.startswith("<")
    ]
    return f" (at {frames[-1].filename}, line {frames[-1].lineno})" if frames else ""


def _cause(error: BaseException) -> BaseException | None:
    # A server that re-raises with `from None` (flask run) drops __cause__ but keeps __context__.
    return error.__cause__ or error.__context__


def _plugin_fix(error: PluginError) -> str:
    cause = _cause(error)
    if isinstance(cause, ModuleNotFoundError):
        return (
            "Install the package that holds it into this Python environment (pip install ...), "
            "or add the folder holding the module to WX_PLUGIN_PATH."
        )
    if cause is not None:
        return "Fix the error in the plugin's code, or remove the plugin from WX_PLUGINS."
    return "Point WX_PLUGINS at a HandlerSet, as 'module:attribute'."
