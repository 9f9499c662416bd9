"""Validation of the merged settings tree: every value checked once, errors that name the fix."""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from wxserver.protocol.callback import Kind, Mode
from wxserver.protocol.crypto import AesKey
from wxserver.protocol.errors import ConfigError, IllegalAesKeyError
from wxserver.protocol.secret import Secret
from wxserver.protocol.wire import Format
from wxserver.services.addresses import parse_network
from wxserver.services.config.component import check_paths, component_settings
from wxserver.services.config.defaults import DEFAULT_ACCOUNT, DEFAULTS, ENVIRONMENT
from wxserver.services.config.merchant import merchant
from wxserver.services.config.model import COMPONENT, Account, Settings, TokenMode
from wxserver.services.exchange import Continuation

_ENV_NAME_OF = {".".join(path): name for name, (path, _) in ENVIRONMENT.items()}

_TOKEN_RE = re.compile(r"[A-Za-z0-9]{3,32}")
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_PATH_RE = re.compile(r"/[A-Za-z0-9._~/-]*")


def _label(path: str) -> str:
    """Name a setting the way the user sets it: the WX_ variable when there is one."""
    env_name = _ENV_NAME_OF.get(path)
    return f"{env_name} ({path})" if env_name else path


def validate(tree: dict[str, Any]) -> Settings:
    """The Settings of a merged tree; ConfigError naming the first bad key and its fix."""
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
    component = component_settings(
        tree["component"], tolerance=tolerance, budget=float(budget), plugins=plugins
    )
    accounts_tree = tree["accounts"]
    if isinstance(accounts_tree, Mapping) and component is not None:
        accounts_tree = _without_unset_default(accounts_tree)
    if not isinstance(accounts_tree, Mapping) or not (accounts_tree or component):
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
    check_paths(component, paths)
    return Settings(
        env=str(tree["env"]),
        bind=str(tree["bind"]),
        max_body_size=max_body,
        log_format=log_format,
        wechat_timeout=float(timeout),
        dedup_ttl=dedup_ttl,
        # A Redis URL may carry a password.
        store_url=Secret(str(tree["store_url"])),
        store_fallback_url=str(tree["store_fallback_url"]),
        api_base_url=_base_url(tree["api_base_url"]),
        internal_secret=_internal_secret(tree["internal_secret"]),
        load_entry_points=bool(tree["load_entry_points"]),
        callback_ip_allowlist=_callback_ip_allowlist(tree["callback_ip_allowlist"], accounts),
        trusted_proxies=_trusted_proxies(tree),
        accounts=accounts,
        pay=merchant(tree.get("pay") or {}, tuple(paths)),
        plugin_path=_string_list(tree, ("plugin_path",), what="folders"),
        worker_elsewhere=_shared_queue(tree["worker_elsewhere"], str(tree["store_url"])),
        component=component,
    )


def _shared_queue(worker_elsewhere: Any, store_url: str) -> bool:
    """Refuse a queue the worker cannot reach: a local store with the worker on another host."""
    if not isinstance(worker_elsewhere, bool):
        raise ConfigError(
            _label("worker_elsewhere"), f"is {worker_elsewhere!r}", "Use true or false."
        )
    scheme = store_url.partition(":")[0].strip().lower()
    if worker_elsewhere and scheme in ("lmdb", "sqlite"):
        raise ConfigError(
            _label("store_url"),
            f"is a {scheme}:// store on this host's disk, but the job worker runs on another host "
            "(WX_WORKER_ELSEWHERE, on by default where DYNO is set: a container per Procfile "
            "process), so the jobs queued beside the store would never reach it",
            "Set WX_STORE_URL to a Redis URL that web and worker share, e.g. "
            "redis://host:6379/0 (on Heroku: the Redis add-on's REDIS_URL).",
        )
    return worker_elsewhere


def _without_unset_default(accounts: Mapping[str, Any]) -> dict[str, Any]:
    """The accounts, less a default account nobody configured (a server of a component only)."""
    default = accounts.get(DEFAULT_ACCOUNT)
    if isinstance(default, Mapping) and not default.get("token"):
        return {name: raw for name, raw in accounts.items() if name != DEFAULT_ACCOUNT}
    return dict(accounts)


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


def _default_continuation(kind: Kind, app_secret: str) -> Continuation:
    # A mini-program has no passive text reply, so holding WeChat's attempts gains nothing:
    # with an AppSecret, a reply always goes out through the customer-service API.
    if kind is Kind.MINIPROGRAM and app_secret:
        return Continuation.CUSTOMER_SERVICE
    return Continuation.RETRY


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
    "format",
}


def _account(
    name: str, raw: dict[str, Any], tolerance: int, budget: float, plugins: tuple[str, ...]
) -> Account:
    prefix = f"accounts.{name}."
    if not _NAME_RE.fullmatch(name):
        raise ConfigError(
            f"accounts.{name}", "is not a valid account name", "Use lowercase letters and digits."
        )
    if name == COMPONENT:
        raise ConfigError(
            f"accounts.{name}", "is the name of the Open Platform component", "Use another name."
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
            _label(prefix + "kind"), f"is {texts['kind']!r}", "Use mp, wecom or miniprogram."
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
            Continuation,
            raw.get("continuation") or _default_continuation(kind, texts["app_secret"]),
            prefix + "continuation",
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
        format=_choice(Format, raw.get("format") or Format.XML, prefix + "format"),
    )
