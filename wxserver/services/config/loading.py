"""Settings: layered, validated once at start-up, frozen afterwards.

Layers, each overriding the one before: the embedded defaults below, a TOML file from ``config/``
(``config/<WX_ENV>.toml``, or the file named by ``WX_CONFIG``), the environment, and the mapping a
test passes to ``create_app``. The ``WX_*`` variables use the MP console's own terms and configure
the account called ``default``; any setting, including those of other accounts, can also be set
with a ``WX__``-prefixed path such as ``WX__ACCOUNTS__SHOP__TOKEN``.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wxserver.protocol.errors import ConfigError
from wxserver.services.config.defaults import DEFAULTS, ENVIRONMENT
from wxserver.services.config.environment import from_environment
from wxserver.services.config.model import Settings
from wxserver.services.config.validation import validate

__all__ = ["config_file", "load_settings"]

_ENV_NAME_OF = {".".join(path): name for name, (path, _) in ENVIRONMENT.items()}

_TOKEN_RE = re.compile(r"[A-Za-z0-9]{3,32}")
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_PATH_RE = re.compile(r"/[A-Za-z0-9._~/-]*")


def load_settings(
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    config_dir: Path | None = None,
    require_file: bool = False,
) -> Settings:
    """Merge the layers and validate them; raise ConfigError naming the key and its fix.

    ``require_file``: the environment was named on purpose (``wxserver --env``), so its TOML
    file must exist.
    """
    environ = os.environ if environ is None else environ
    tree = copy.deepcopy(DEFAULTS)
    env_name = environ.get("WX_ENV") or _overridden_env(overrides) or tree["env"]
    tree["env"] = env_name
    # A Procfile platform (Heroku, Dokku) runs each process in a container of its own.
    tree["worker_elsewhere"] = "DYNO" in environ
    path = config_file(environ, env_name, config_dir, required=require_file)
    if path is not None:
        _merge(tree, _read_toml(path))
    _merge(tree, from_environment(environ))
    if overrides:
        _merge(tree, copy.deepcopy(dict(overrides)))
    return validate(tree)


def _overridden_env(overrides: Mapping[str, Any] | None) -> str | None:
    value = (overrides or {}).get("env")
    return value if isinstance(value, str) else None


def config_file(
    environ: Mapping[str, str],
    env_name: str,
    config_dir: Path | None = None,
    *,
    required: bool = False,
) -> Path | None:
    """The TOML file to read: ``WX_CONFIG``, or ``<config dir>/<env>.toml``; None if there is none.

    A file asked for by name (``WX_CONFIG``, or ``required``) must exist. Without one, the
    environment may have no file (the embedded defaults and the environment then say it all),
    unless its name is a near miss of a file that is there: that is a misspelling.
    """
    explicit = environ.get("WX_CONFIG")
    if explicit:
        path = Path(explicit).absolute()
        if not path.is_file():
            raise ConfigError(
                "WX_CONFIG",
                f"names {path}, which is not a file (tried {path})",
                "Point WX_CONFIG (or wxserver --config) at the TOML file.",
            )
        return path
    folder = (config_dir or Path(environ.get("WX_CONFIG_DIR", "config"))).absolute()
    path = folder / f"{env_name}.toml"
    if path.is_file():
        return path
    there = sorted(found.stem for found in folder.glob("*.toml")) if folder.is_dir() else []
    close = difflib.get_close_matches(env_name, there, n=1, cutoff=0.8)
    if required or close:
        hint = f"did you mean {close[0]}? " if close else ""
        where = f"environments there: {', '.join(there)}" if there else f"no {folder}"
        raise ConfigError(
            "WX_ENV",
            f"{env_name!r} names no configuration file (tried {path}; {where})",
            f"{hint}Run from the folder holding config/, set WX_CONFIG_DIR to the folder, "
            "or pass the file with wxserver --config FILE (WX_CONFIG).",
        )
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"is not valid TOML ({exc})", "Fix the file.") from exc


def _merge(base: dict[str, Any], layer: Mapping[str, Any]) -> None:
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
