"""Typed errors of the WeChat API: every ``errcode != 0`` becomes one of these.

The class says what the caller should do, so code reads the class and never the number:

- ``TokenInvalidError`` (40001, 40014, 42001): the access_token was rejected; ask the token owner
  for a fresh one naming the token that failed, then retry once.
- ``RetryableApiError`` (-1, 45011): the platform is busy or we call too often; back off.
- ``ConfigAlertError`` (40164, 40013, 48001, 45009, 8950x and a wrong AppSecret): retrying cannot
  help until a person changes something; ``action`` says what, in plain words.
- ``DropError`` (43004, 45015, 45047): this message cannot reach this user now; drop it or fall
  back to another channel.
- ``OtherApiError``: anything else, usually a bug in the request.

``ApiUnavailableError`` is not an ApiError: it means no usable answer came back at all (every base
URL refused, timed out or answered 5xx), so there is no errcode to classify.
"""

from __future__ import annotations

import re
from typing import ClassVar

from wxserver.protocol.errors import WxServerError

WHITELIST_PATH = "设置与开发 > 基本配置 > IP白名单"

# What each errcode means, in our own words; the platform's errmsg is kept beside it.
MEANINGS: dict[int, str] = {
    -1: "The WeChat platform is busy.",
    40001: "The access_token is invalid or no longer the latest one.",
    40002: "The grant_type is invalid.",
    40003: "The OpenID is invalid or does not belong to this account.",
    40013: "The AppID is invalid.",
    40014: "The access_token is malformed or invalid.",
    40029: "The OAuth code is invalid or has expired.",
    40125: "The AppSecret is invalid.",
    40163: "The OAuth code has already been used.",
    40164: "The calling IP address is not in the account's IP whitelist.",
    40201: "No server URL is configured for callbacks.",
    40202: "The callback check action is invalid (use dns, ping or all).",
    40203: "The callback check operator is invalid (use CHINANET, UNICOM, CAP or DEFAULT).",
    41001: "The access_token parameter is missing.",
    41002: "The appid parameter is missing.",
    41004: "The secret parameter is missing.",
    42001: "The access_token has expired.",
    43004: "The recipient does not follow the account.",
    45009: "The daily call quota of this API is used up.",
    45011: "The API is called too often.",
    45015: "The customer-service reply window for this user has closed.",
    45047: "Too many customer-service messages were sent to this user in the current window.",
    48001: "This account is not authorised to use this API.",
    89501: "This IP address is waiting for the administrator's confirmation.",
    89503: "Calls from this IP address need the administrator's confirmation.",
    89506: "The administrator refused this IP address twice within 24 hours.",
    89507: "The administrator refused this IP address; it is blocked for an hour.",
}

_TOKEN_INVALID = frozenset({40001, 40014, 42001})
_RETRYABLE = frozenset({-1, 45011})
_DROP = frozenset({43004, 45015, 45047})
_ALERT = frozenset({40013, 40125, 40164, 45009, 48001, 89501, 89503, 89506, 89507})
# On the token endpoints a 40001 does not mean "old token": no token was sent. It means the
# AppSecret was refused.
TOKEN_PATHS = frozenset({"/cgi-bin/token", "/cgi-bin/stable_token"})
_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")


class ApiError(WxServerError):
    """The WeChat API answered with ``errcode != 0``."""

    category: ClassVar[str] = "other"

    def __init__(self, errcode: int, errmsg: str, meaning: str = "", action: str = "") -> None:
        self.errcode = errcode
        self.errmsg = errmsg
        self.meaning = meaning or MEANINGS.get(errcode, "An error the client does not know.")
        self.action = action
        text = f"WeChat API error {errcode}: {self.meaning}"
        if action:
            text += f" {action}"
        super().__init__(f"{text} (errmsg: {errmsg})")

    def __reduce__(self) -> tuple[type[ApiError], tuple[int, str, str, str]]:
        # Keeps the error intact when it crosses a process boundary (multiprocessing, logging).
        return (type(self), (self.errcode, self.errmsg, self.meaning, self.action))


class TokenInvalidError(ApiError):
    """40001, 40014, 42001: the access_token used was rejected; refresh it once and retry."""

    category = "token"


class RetryableApiError(ApiError):
    """-1 (busy) or 45011 (too frequent): back off, then try again."""

    category = "retry"


class ConfigAlertError(ApiError):
    """A condition only a person can fix; ``action`` says what to do. Never retried in a loop."""

    category = "alert"


class DropError(ApiError):
    """The message cannot reach this user now (not a follower, window closed, quota used)."""

    category = "drop"


class OtherApiError(ApiError):
    """Any other errcode: most often a malformed request."""


class ApiUnavailableError(WxServerError):
    """No usable answer from any base URL: connection refused, timed out, 5xx or not JSON.

    ``outcome_unknown`` is True when a request that must not be repeated (a message send) may
    have reached WeChat before the connection failed: it was not retried and may or may not have
    been delivered.
    """

    def __init__(self, path: str, attempts: list[str], outcome_unknown: bool = False) -> None:
        self.path = path
        self.attempts = tuple(attempts)
        self.outcome_unknown = outcome_unknown
        tail = (
            " The request may have been processed; it was not repeated."
            if outcome_unknown
            else " Check outbound network access to api.weixin.qq.com (wxserver api-ip lists "
            "its addresses)."
        )
        super().__init__(f"no usable answer for {path}: {'; '.join(attempts)}.{tail}")

    def __reduce__(self) -> tuple[type[ApiUnavailableError], tuple[str, list[str], bool]]:
        return (type(self), (self.path, list(self.attempts), self.outcome_unknown))


def _ip_in(errmsg: str) -> str:
    match = _IPV4.search(errmsg)
    return match.group(0) if match else "(see errmsg)"


def _alert_action(errcode: int, errmsg: str) -> str:
    ip = _ip_in(errmsg)
    actions = {
        40013: "Copy the AppID (开发者ID) from the MP console, 设置与开发 > 基本配置, "
        "into WX_APPID.",
        40125: "Copy the AppSecret from the MP console, 设置与开发 > 基本配置, into WX_APPSECRET "
        "(reset it there if nobody has it).",
        40164: f"Add this server's IP {ip} to the IP whitelist in the MP console: "
        f"{WHITELIST_PATH}.",
        45009: "Stop calling this API until the quota resets at midnight (Beijing time), or reset "
        "it now with /cgi-bin/clear_quota (10 times a month).",
        48001: "Grant this API to the account: check 设置与开发 > 接口权限 in the MP console; most "
        "APIs need a verified (认证) service account.",
        89501: f"Ask the account's administrator to approve calls from {ip} in the confirmation "
        "message WeChat sent them; pause calls until then.",
        89503: f"The administrator has been sent a confirmation request for {ip}: ask them to "
        f"approve it, or add {ip} to the whitelist ({WHITELIST_PATH}); pause calls until then.",
        89506: f"The administrator refused {ip} twice: it is blocked for 24 hours. Add it to the "
        f"whitelist ({WHITELIST_PATH}) or call from another IP.",
        89507: f"The administrator refused {ip}: it is blocked for one hour. Add it to the "
        f"whitelist ({WHITELIST_PATH}) or wait.",
    }
    return actions.get(errcode, "")


def classify(errcode: int, errmsg: str, *, path: str = "") -> ApiError:
    """The typed error for ``errcode`` returned by ``path`` (the path changes what 40001 means)."""
    if path in TOKEN_PATHS and errcode in (40001, 40125):
        return ConfigAlertError(
            errcode, errmsg, "The AppSecret was refused.", _alert_action(40125, errmsg)
        )
    if errcode in _TOKEN_INVALID:
        return TokenInvalidError(errcode, errmsg)
    if errcode in _RETRYABLE:
        return RetryableApiError(errcode, errmsg)
    if errcode in _ALERT:
        return ConfigAlertError(errcode, errmsg, action=_alert_action(errcode, errmsg))
    if errcode in _DROP:
        return DropError(errcode, errmsg)
    return OtherApiError(errcode, errmsg)
