"""Settings: layered, validated once at start-up, frozen afterwards.

Layers, each overriding the one before: the embedded defaults below, a TOML file from ``config/``
(``config/<WX_ENV>.toml``, or the file named by ``WX_CONFIG``), the environment, and the mapping a
test passes to ``create_app``. The ``WX_*`` variables use the MP console's own terms and configure
the account called ``default``; any setting, including those of other accounts, can also be set
with a ``WX__``-prefixed path such as ``WX__ACCOUNTS__SHOP__TOKEN``.
"""

from __future__ import annotations

import copy
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wxserver.protocol.errors import ConfigError
from wxserver.services.config.defaults import DEFAULTS, ENVIRONMENT
from wxserver.services.config.model import Settings
from wxserver.services.config.validation import validate

__all__ = ["load_settings"]

_ENV_NAME_OF = {".".join(path): name for name, (path, _) in ENVIRONMENT.items()}

_TOKEN_RE = re.compile(r"[A-Za-z0-9]{3,32}")
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_PATH_RE = re.compile(r"/[A-Za-z0-9._~/-]*")


def load_settings(
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    config_dir: Path | None = None,
) -> Settings:
    """Merge the layers and validate them; raise ConfigError naming the key and its fix."""
    environ = os.environ if environ is None else environ
    tree = copy.deepcopy(DEFAULTS)
    env_name = environ.get("WX_ENV") or _overridden_env(overrides) or tree["env"]
    tree["env"] = env_name
    _merge(tree, _read_toml(environ, env_name, config_dir))
    _merge(tree, _from_environment(environ))
    if overrides:
        _merge(tree, copy.deepcopy(dict(overrides)))
    return validate(tree)


def _overridden_env(overrides: Mapping[str, Any] | None) -> str | None:
    value = (overrides or {}).get("env")
    return value if isinstance(value, str) else None


def _read_toml(
    environ: Mapping[str, str], env_name: str, config_dir: Path | None
) -> dict[str, Any]:
    explicit = environ.get("WX_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError("WX_CONFIG", f"{path} is not a file", "Point it at a TOML file.")
    else:
        folder = config_dir or Path(environ.get("WX_CONFIG_DIR", "config"))
        path = folder / f"{env_name}.toml"
        if not path.is_file():
            return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"is not valid TOML ({exc})", "Fix the file.") from exc


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, (path, kind) in ENVIRONMENT.items():
        if name in environ and name not in ("WX_ENV",):
            _put(tree, path, _convert(name, environ[name], kind))
    for name, value in environ.items():
        if name.startswith("WX__") and len(name) > 4:
            path = tuple(part.lower() for part in name[4:].split("__"))
            _put(tree, path, value)
    return tree


def _convert(name: str, text: str, kind: str) -> Any:
    if kind == "int":
        try:
            return int(text.strip())
        except ValueError:
            raise ConfigError(name, f"must be a whole number, got {text!r}", "") from None
    if kind == "float":
        try:
            return float(text.strip())
        except ValueError:
            raise ConfigError(name, f"must be a number of seconds, got {text!r}", "") from None
    if kind == "bool":
        lowered = text.strip().lower()
        if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            raise ConfigError(name, f"must be true or false, got {text!r}", "")
        return lowered in ("1", "true", "yes", "on")
    if kind == "list":
        return [part.strip() for part in text.split(",") if part.strip()]
    return text.strip()


def _put(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = tree
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


def _merge(base: dict[str, Any], layer: Mapping[str, Any]) -> None:
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
