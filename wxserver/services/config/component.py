"""Validation of an Open Platform component's settings: the ``[component]`` table, WX_COMPONENT_*.

A component (第三方平台, :class:`~wxserver.services.config.model.Component`) has its own AppID and
AppSecret, and one Token and EncodingAESKey for both of its push URLs: the authorization-event
URL (授权事件接收URL: component_verify_ticket, authorized, updateauthorized, unauthorized) and the
message URL (消息与事件接收URL), which holds ``$APPID$`` where WeChat puts the AppID of the
authorizer account a message is for. The authorizers' messages reach handler sets like an
account's: ``plugins`` (by default the top-level ones), after the built-in release-check set
(全网发布接入检测) unless ``release_check`` is off.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from wxserver.protocol.crypto import AesKey
from wxserver.protocol.errors import ConfigError, IllegalAesKeyError
from wxserver.protocol.secret import Secret
from wxserver.protocol.wire import Format
from wxserver.services.config.defaults import ENVIRONMENT
from wxserver.services.config.model import APPID_PLACEHOLDER, Component

_KEYS = {
    "app_id",
    "app_secret",
    "token",
    "encoding_aes_key",
    "previous_encoding_aes_key",
    "path",
    "message_path",
    "format",
    "plugins",
    "release_check",
}
_REQUIRED = ("app_id", "app_secret", "token", "encoding_aes_key")
_TOKEN_RE = re.compile(r"[A-Za-z0-9]{3,32}")
_PATH_RE = re.compile(r"/[A-Za-z0-9._~/-]*")
_ENV_NAME_OF = {".".join(path): name for name, (path, _) in ENVIRONMENT.items()}


def _label(key: str) -> str:
    path = f"component.{key}"
    env_name = _ENV_NAME_OF.get(path)
    return f"{env_name} ({path})" if env_name else path


def _text(raw: Mapping[str, Any], key: str) -> str:
    return str(raw.get(key) or "").strip()


def _path(raw: Mapping[str, Any], key: str, default: str) -> str:
    path = _text(raw, key) or default
    if not _PATH_RE.fullmatch(path.replace(APPID_PLACEHOLDER, "APPID")):
        raise ConfigError(_label(key), f"is {path!r}", f"Use a URL path such as {default}.")
    return path


def component_settings(
    raw: Any, *, tolerance: int, budget: float, plugins: tuple[str, ...]
) -> Component | None:
    """The component of the ``component`` table; None when none is configured."""
    if not isinstance(raw, Mapping):
        raise ConfigError("component", "must be a table", "Write it as [component] in TOML.")
    for key in raw:
        if key not in _KEYS:
            raise ConfigError(
                f"component.{key}", "is not a component setting", f"Use {sorted(_KEYS)}."
            )
    if not any(_text(raw, key) for key in _REQUIRED):
        return None
    for key in _REQUIRED:
        if not _text(raw, key):
            raise ConfigError(
                _label(key),
                "is required for an Open Platform component",
                "Copy it from the Open Platform console (第三方平台 > 开发资料).",
            )
    token = _text(raw, "token")
    if not _TOKEN_RE.fullmatch(token):
        raise ConfigError(
            _label("token"), f"must be 3 to 32 letters or digits (it has {len(token)})", ""
        )
    for key in ("encoding_aes_key", "previous_encoding_aes_key"):
        if _text(raw, key):
            try:
                AesKey.from_encoding_aes_key(_text(raw, key))
            except IllegalAesKeyError as exc:
                raise ConfigError(_label(key), str(exc).rstrip("."), "") from None
    path = _path(raw, "path", "/wechat/component")
    message_path = _path(raw, "message_path", f"/wechat/component/{APPID_PLACEHOLDER}")
    if message_path.count(APPID_PLACEHOLDER) != 1:
        raise ConfigError(
            _label("message_path"),
            f"is {message_path!r}, without exactly one {APPID_PLACEHOLDER}",
            f"Use the console's form, e.g. /wechat/component/{APPID_PLACEHOLDER}.",
        )
    try:
        format_ = Format(_text(raw, "format") or Format.XML)
    except ValueError:
        raise ConfigError(
            _label("format"), f"is {raw.get('format')!r}", "Use xml or json."
        ) from None
    chosen = raw.get("plugins", list(plugins))
    if isinstance(chosen, str):
        chosen = [part.strip() for part in chosen.split(",") if part.strip()]
    if not isinstance(chosen, list | tuple) or not all(isinstance(p, str) for p in chosen):
        raise ConfigError(_label("plugins"), "must be a list of 'module:attr' strings", "")
    release_check = raw.get("release_check", True)
    if not isinstance(release_check, bool):
        raise ConfigError(_label("release_check"), f"is {release_check!r}", "Use true or false.")
    return Component(
        app_id=_text(raw, "app_id"),
        app_secret=Secret(_text(raw, "app_secret")),
        token=Secret(token),
        encoding_aes_key=Secret(_text(raw, "encoding_aes_key")),
        previous_encoding_aes_key=Secret(_text(raw, "previous_encoding_aes_key")),
        path=path,
        message_path=message_path,
        format=format_,
        plugins=tuple(chosen),
        release_check=release_check,
        timestamp_tolerance=tolerance,
        reply_budget=budget,
    )


def check_paths(component: Component | None, account_paths: list[str]) -> None:
    """Refuse a component URL that an account's path also answers."""
    if component is None:
        return
    prefix = component.message_path.split(APPID_PLACEHOLDER, 1)[0]
    if component.path.startswith(prefix):
        raise ConfigError(
            _label("path"), "lies under the message path", "Give each URL its own path."
        )
    for path in account_paths:
        if path == component.path or path.startswith(prefix):
            raise ConfigError(
                "component", f"an account's path {path} overlaps the component's URLs", ""
            )
