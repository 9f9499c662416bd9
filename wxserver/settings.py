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
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Any

from wxserver.accounts import Account, Kind, Mode, Secret, Settings, TokenMode
from wxserver.addresses import parse_network
from wxserver.crypto import AesKey
from wxserver.defaults import DEFAULT_ACCOUNT, DEFAULTS, ENVIRONMENT
from wxserver.deferred import Continuation
from wxserver.errors import ConfigError, IllegalAesKeyError

__all__ = [
    "DEFAULTS",
    "DEFAULT_ACCOUNT",
    "ENVIRONMENT",
    "Account",
    "Kind",
    "Mode",
    "Secret",
    "Settings",
    "TokenMode",
    "load_settings",
]

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
    return _validate(tree)


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


def _label(path: str) -> str:
    """Name a setting the way the user sets it: the WX_ variable when there is one."""
    env_name = _ENV_NAME_OF.get(path)
    return f"{env_name} ({path})" if env_name else path


def _validate(tree: dict[str, Any]) -> Settings:
    known = set(DEFAULTS) | {"timestamp_tolerance"}
    for key in tree:
        if key not in known:
            raise ConfigError(
                key, "is not a setting wxserver knows", f"Use one of {sorted(known)}."
            )
    max_body = _integer(tree, "max_body_size", minimum=1024)
    tolerance = _integer(tree, "timestamp_tolerance", minimum=0)
    budget = _budget(tree["reply_budget"], "reply_budget")
    timeout = tree["wechat_timeout"]
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 1 <= timeout <= 5:
        raise ConfigError(
            _label("wechat_timeout"),
            f"must be from 1 to 5 seconds, got {timeout!r}",
            "WeChat waits 5 s; leave it unset outside tests.",
        )
    dedup_ttl = _integer(tree, "dedup_ttl", minimum=60)
    log_format = str(tree["log_format"])
    if log_format not in ("text", "json"):
        raise ConfigError(_label("log_format"), f"is {log_format!r}", "Use 'text' or 'json'.")
    plugins = _string_list(tree, ("plugins",))
    accounts_tree = tree["accounts"]
    if not isinstance(accounts_tree, Mapping) or not accounts_tree:
        raise ConfigError("accounts", "defines no account", "Add an [accounts.default] table.")
    accounts = tuple(
        _account(str(name), dict(raw), tolerance, float(budget), plugins)
        for name, raw in accounts_tree.items()
    )
    for account in accounts:
        _check_continuation(account, float(timeout))
    paths = [account.path for account in accounts]
    for path in paths:
        if paths.count(path) > 1:
            raise ConfigError(
                "accounts", f"two accounts share the path {path}", "Give each its own."
            )
    return Settings(
        env=str(tree["env"]),
        bind=str(tree["bind"]),
        max_body_size=max_body,
        log_format=log_format,
        wechat_timeout=float(timeout),
        dedup_ttl=dedup_ttl,
        # A Redis URL may carry a password.
        store_url=Secret(str(tree["store_url"])),
        api_base_url=_base_url(tree["api_base_url"]),
        internal_secret=_internal_secret(tree["internal_secret"]),
        load_entry_points=bool(tree["load_entry_points"]),
        callback_ip_allowlist=_callback_ip_allowlist(tree["callback_ip_allowlist"], accounts),
        trusted_proxies=_trusted_proxies(tree),
        accounts=accounts,
    )


def _check_continuation(account: Account, wechat_timeout: float) -> None:
    prefix = f"accounts.{account.name}."
    if account.reply_budget >= wechat_timeout:
        raise ConfigError(
            _label(prefix + "reply_budget"),
            f"is {account.reply_budget} s, not less than WeChat's {wechat_timeout} s",
            "Leave room for the network: 4.5 s against WeChat's 5 s.",
        )
    if account.continuation is Continuation.CUSTOMER_SERVICE and not account.app_secret:
        raise ConfigError(
            _label(prefix + "continuation"),
            "is customer-service, which sends late replies through the WeChat API",
            "Set the AppSecret (WX_APPSECRET), or use continuation = retry.",
        )


def _budget(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.5 <= value < 5:
        raise ConfigError(
            _label(key),
            f"must be a number of seconds from 0.5 to under 5, got {value!r}",
            "WeChat stops waiting at 5 s; 4.5 leaves room for the network.",
        )
    return float(value)


def _integer(tree: Mapping[str, Any], key: str, *, minimum: int, prefix: str = "") -> int:
    value = tree[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(
            _label(prefix + key), f"must be a whole number of at least {minimum}, got {value!r}", ""
        )
    return value


def _default_menu_file(account: str) -> str:
    return "config/menu.toml" if account == DEFAULT_ACCOUNT else f"config/menu.{account}.toml"


def _choice(enum: type[StrEnum], value: Any, key: str) -> Any:
    try:
        return enum(str(value))
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ConfigError(_label(key), f"is {value!r}", f"Use one of: {allowed}.") from None


def _base_url(value: Any) -> str:
    text = str(value or "").strip().rstrip("/")
    if text and not text.startswith(("http://", "https://")):
        raise ConfigError(
            _label("api_base_url"), f"is {text!r}", "Use a URL such as https://api.weixin.qq.com."
        )
    return text


def _internal_secret(value: Any) -> Secret:
    text = str(value or "")
    if text and len(text) < 16:
        raise ConfigError(
            _label("internal_secret"),
            f"is {len(text)} characters long",
            "Use at least 16 random characters, e.g. from: openssl rand -hex 24.",
        )
    return Secret(text)


def _callback_ip_allowlist(value: Any, accounts: tuple[Account, ...]) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(_label("callback_ip_allowlist"), f"is {value!r}", "Use true or false.")
    # The list comes from getcallbackip, an API call of an Official Account (WeCom has its own).
    if value and not any(a.kind is Kind.MP and a.app_secret for a in accounts):
        raise ConfigError(
            _label("callback_ip_allowlist"),
            "is on, but no Official Account has an AppSecret to fetch WeChat's IP list with",
            "Set WX_APPSECRET (or accounts.<name>.app_secret), or turn the allow-list off.",
        )
    return value


def _trusted_proxies(tree: Mapping[str, Any]) -> tuple[IPv4Network | IPv6Network, ...]:
    fix = "List nginx's addresses or networks, e.g. 127.0.0.1,::1 or 10.0.0.0/8."
    networks: list[IPv4Network | IPv6Network] = []
    for entry in _string_list(tree, ("trusted_proxies",), what="addresses or CIDR networks"):
        if entry == "*":
            # gunicorn accepts it, but then any client could choose the address it is seen with.
            raise ConfigError(_label("trusted_proxies"), "is '*', which trusts every client", fix)
        try:
            networks.append(parse_network(entry))
        except ValueError as exc:
            raise ConfigError(
                _label("trusted_proxies"), f"has {entry!r}, which is not valid ({exc})", fix
            ) from None
    return tuple(networks)


def _string_list(
    tree: Mapping[str, Any],
    path: tuple[str, ...],
    prefix: str = "",
    *,
    what: str = "'module:attr' strings",
) -> tuple[str, ...]:
    value = tree[path[-1]]
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(_label(prefix + path[-1]), f"must be a list of {what}", "")
    return tuple(value)


_ACCOUNT_KEYS = {
    "path",
    "kind",
    "token",
    "app_id",
    "app_secret",
    "encoding_aes_key",
    "previous_encoding_aes_key",
    "mode",
    "timestamp_tolerance",
    "reply_budget",
    "continuation",
    "placeholder",
    "plugins",
    "token_mode",
    "jssdk_domains",
    "cors_origins",
    "oauth_next",
    "menu_file",
}


def _account(
    name: str, raw: dict[str, Any], tolerance: int, budget: float, plugins: tuple[str, ...]
) -> Account:
    prefix = f"accounts.{name}."
    if not _NAME_RE.fullmatch(name):
        raise ConfigError(
            f"accounts.{name}", "is not a valid account name", "Use lowercase letters and digits."
        )
    for key in raw:
        if key not in _ACCOUNT_KEYS:
            raise ConfigError(
                prefix + key, "is not an account setting", f"Use {sorted(_ACCOUNT_KEYS)}."
            )
    raw.setdefault("timestamp_tolerance", tolerance)
    raw.setdefault("reply_budget", budget)
    raw.setdefault("jssdk_domains", [])
    raw.setdefault("cors_origins", [])
    raw.setdefault("plugins", list(plugins))
    texts = {
        key: str(raw.get(key) or "")
        for key in ("path", "kind", "token", "app_id", "app_secret", "mode", "encoding_aes_key")
    }
    texts["previous_encoding_aes_key"] = str(raw.get("previous_encoding_aes_key") or "")
    path = texts["path"] or "/wechat"
    if not _PATH_RE.fullmatch(path):
        raise ConfigError(
            _label(prefix + "path"), f"is {path!r}", "Use a URL path such as /wechat."
        )
    if not _TOKEN_RE.fullmatch(texts["token"]):
        raise ConfigError(
            _label(prefix + "token"),
            f"must be 3 to 32 letters or digits (it has {len(texts['token'])} characters)",
            "Copy the Token from the MP console, 设置与开发 > 基本配置 > 服务器配置.",
        )
    try:
        kind = Kind(texts["kind"] or Kind.MP)
    except ValueError:
        raise ConfigError(
            _label(prefix + "kind"), f"is {texts['kind']!r}", "Use mp or wecom."
        ) from None
    if kind is Kind.WECOM and texts["mode"] in ("", Mode.SECURE):
        # WeCom has no plaintext mode: every callback is encrypted.
        texts["mode"] = Mode.SECURE
    elif kind is Kind.WECOM:
        raise ConfigError(
            _label(prefix + "mode"),
            f"is {texts['mode']!r} but WeCom callbacks are always encrypted",
            "Leave it unset or set it to secure.",
        )
    try:
        mode = Mode(texts["mode"] or Mode.PLAIN)
    except ValueError:
        raise ConfigError(
            _label(prefix + "mode"), f"is {texts['mode']!r}", "Use plain, compat or secure."
        ) from None
    for key in ("encoding_aes_key", "previous_encoding_aes_key"):
        if texts[key]:
            try:
                AesKey.from_encoding_aes_key(texts[key])
            except IllegalAesKeyError as exc:
                raise ConfigError(
                    _label(prefix + key),
                    str(exc).rstrip("."),
                    "Copy the 43-character EncodingAESKey from the MP console.",
                ) from None
    if mode is not Mode.PLAIN and not texts["encoding_aes_key"]:
        raise ConfigError(
            _label(prefix + "encoding_aes_key"),
            f"is required in {mode} mode",
            "Copy the EncodingAESKey from the MP console, or set the mode to plain.",
        )
    if texts["encoding_aes_key"] and not texts["app_id"]:
        raise ConfigError(
            _label(prefix + "app_id"),
            "is required to open encrypted messages",
            "Copy the AppID (开发者ID) from the MP console (for WeCom: the CorpID).",
        )
    return Account(
        name=name,
        path=path,
        kind=kind,
        token=Secret(texts["token"]),
        app_id=texts["app_id"],
        app_secret=Secret(texts["app_secret"]),
        encoding_aes_key=Secret(texts["encoding_aes_key"]),
        previous_encoding_aes_key=Secret(texts["previous_encoding_aes_key"]),
        mode=mode,
        timestamp_tolerance=_integer(raw, "timestamp_tolerance", minimum=0, prefix=prefix),
        reply_budget=_budget(raw["reply_budget"], prefix + "reply_budget"),
        continuation=_choice(
            Continuation, raw.get("continuation") or Continuation.RETRY, prefix + "continuation"
        ),
        placeholder=str(raw.get("placeholder") or ""),
        token_mode=_choice(
            TokenMode, raw.get("token_mode") or TokenMode.STABLE, prefix + "token_mode"
        ),
        jssdk_domains=tuple(
            d.lower() for d in _string_list(raw, ("jssdk_domains",), prefix, what="domain names")
        ),
        cors_origins=_string_list(raw, ("cors_origins",), prefix, what="origins"),
        oauth_next=str(raw.get("oauth_next") or ""),
        menu_file=str(raw.get("menu_file") or _default_menu_file(name)),
        plugins=_string_list(raw, ("plugins",), prefix),
    )
