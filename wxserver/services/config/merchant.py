"""Validation of the ``pay`` table: the WeChat Pay merchant, its APIv3 key and its keys.

Every key file named is read and parsed here, once, at start-up, so that a wrong path or a
certificate pasted incompletely is an error naming its setting rather than a 401 at the first
payment.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wxserver.protocol.errors import ConfigError
from wxserver.protocol.pay.crypto import apiv3_key
from wxserver.protocol.pay.errors import PayKeyError
from wxserver.protocol.pay.keys import (
    PUBLIC_KEY_PREFIX,
    load_certificates,
    load_private_key,
    load_public_key,
)
from wxserver.protocol.secret import Secret
from wxserver.services.config.defaults import ENVIRONMENT
from wxserver.services.config.model import Merchant

__all__ = ["DEFAULT_PAY_PATH", "merchant"]

DEFAULT_PAY_PATH = "/wechat/pay/notify"
DEFAULT_BUDGET = 4.0
_KEYS = {
    "mch_id",
    "apiv3_key",
    "public_key_id",
    "public_key_file",
    "platform_cert_files",
    "private_key_file",
    "cert_serial",
    "path",
    "api_base_url",
    "budget",
}
_ENV_NAME_OF = {".".join(path): name for name, (path, _) in ENVIRONMENT.items()}
_MCH_ID_RE = re.compile(r"[0-9]{6,32}")
_PATH_RE = re.compile(r"/[A-Za-z0-9._~/-]*")
_CONSOLE = "商户平台 > 账户中心 > API安全"


def _label(key: str) -> str:
    path = f"pay.{key}"
    env_name = _ENV_NAME_OF.get(path)
    return f"{env_name} ({path})" if env_name else path


def _read(key: str, name: str) -> bytes:
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise ConfigError(_label(key), f"cannot read {name} ({exc.strerror})", "") from None


def _text(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    return "" if value is None else str(value).strip()


def _files(raw: Mapping[str, Any]) -> tuple[str, ...]:
    value = raw.get("platform_cert_files") or []
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(_label("platform_cert_files"), "must be a list of PEM file paths", "")
    return tuple(value)


def _check_key(key: str, problem: PayKeyError, fix: str) -> ConfigError:
    return ConfigError(_label(key), str(problem), fix)


def _budget(value: Any) -> float:
    if isinstance(value, str):  # from a WX__PAY__BUDGET variable
        with contextlib.suppress(ValueError):
            value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.5 <= value <= 4.5:
        raise ConfigError(
            _label("budget"),
            f"must be from 0.5 to 4.5 seconds, got {value!r}",
            "WeChat Pay stops waiting at 5 s; 4 leaves room for the network.",
        )
    return float(value)


def merchant(raw: Any, taken_paths: tuple[str, ...]) -> Merchant | None:
    """The Merchant of the ``pay`` table, or None when no mch_id is set (pay is off)."""
    if not isinstance(raw, Mapping):
        raise ConfigError("pay", "must be a table", "Write it as [pay] in the TOML file.")
    for key in raw:
        if key not in _KEYS:
            raise ConfigError(f"pay.{key}", "is not a pay setting", f"Use {sorted(_KEYS)}.")
    mch_id = _text(raw, "mch_id")
    if not mch_id:
        if any(raw.get(key) for key in _KEYS - {"path", "budget"}):
            raise ConfigError(
                _label("mch_id"),
                "is not set, but other pay settings are",
                f"Copy 商户号 ({_CONSOLE}).",
            )
        return None
    if not _MCH_ID_RE.fullmatch(mch_id):
        raise ConfigError(_label("mch_id"), f"is {mch_id!r}, not a 商户号 (digits)", "")
    try:
        apiv3_key(_text(raw, "apiv3_key"))
    except PayKeyError as exc:
        raise _check_key("apiv3_key", exc, f"Copy the APIv3密钥 set in {_CONSOLE}.") from None
    public_key_id, public_key_file = _text(raw, "public_key_id"), _text(raw, "public_key_file")
    if bool(public_key_id) != bool(public_key_file):
        missing = "public_key_file" if public_key_id else "public_key_id"
        raise ConfigError(
            _label(missing), "is needed with the other", "Set the 微信支付公钥 ID and its PEM file."
        )
    if public_key_id:
        try:
            load_public_key(public_key_id, _read("public_key_file", public_key_file))
        except PayKeyError as exc:
            key = "public_key_id" if not public_key_id.startswith(PUBLIC_KEY_PREFIX) else None
            raise _check_key(
                key or "public_key_file", exc, f"Download the 微信支付公钥 from {_CONSOLE}."
            ) from None
    cert_files = _files(raw)
    for name in cert_files:
        try:
            load_certificates(_read("platform_cert_files", name), origin=name)
        except PayKeyError as exc:
            raise _check_key("platform_cert_files", exc, "Use the PEM 平台证书 files.") from None
    private_key_file, cert_serial = _text(raw, "private_key_file"), _text(raw, "cert_serial")
    if bool(private_key_file) != bool(cert_serial):
        missing = "cert_serial" if private_key_file else "private_key_file"
        raise ConfigError(
            _label(missing),
            "is needed with the other to download platform certificates",
            f"Set apiclient_key.pem's path and the 商户API证书 serial ({_CONSOLE}).",
        )
    if private_key_file:
        try:
            load_private_key(_read("private_key_file", private_key_file), origin=private_key_file)
        except PayKeyError as exc:
            raise _check_key("private_key_file", exc, "Use apiclient_key.pem.") from None
    if not (public_key_id or cert_files or private_key_file):
        raise ConfigError(
            "pay",
            "has no key to verify WeChat Pay's signatures with",
            "Set WX_PAY_PUBLIC_KEY_ID and WX_PAY_PUBLIC_KEY_FILE (微信支付公钥), or "
            "WX_PAY_PLATFORM_CERT_FILES, or WX_PAY_PRIVATE_KEY_FILE and WX_PAY_CERT_SERIAL to "
            "download the platform certificates.",
        )
    path = _text(raw, "path") or DEFAULT_PAY_PATH
    if not _PATH_RE.fullmatch(path):
        raise ConfigError(
            _label("path"), f"is {path!r}", f"Use a URL path such as {DEFAULT_PAY_PATH}."
        )
    if path in taken_paths:
        raise ConfigError(_label("path"), f"is {path}, an account's path too", "Give each its own.")
    base_url = _text(raw, "api_base_url").rstrip("/")
    if base_url and not base_url.startswith(("http://", "https://")):
        raise ConfigError(
            _label("api_base_url"), f"is {base_url!r}", "Use https://api.mch.weixin.qq.com."
        )
    return Merchant(
        mch_id=mch_id,
        apiv3_key=Secret(_text(raw, "apiv3_key")),
        path=path,
        public_key_id=public_key_id,
        public_key_file=public_key_file,
        platform_cert_files=cert_files,
        private_key_file=private_key_file,
        cert_serial=cert_serial,
        api_base_url=base_url,
        budget=_budget(raw.get("budget", DEFAULT_BUDGET)),
    )
