"""The WeChat API's errcodes, classified: the error each one raises and what an alert says to do."""

from __future__ import annotations

import pickle

import pytest

from wxserver.protocol.api_errors import (
    ApiError,
    ApiUnavailableError,
    ConfigAlertError,
    DropError,
    OtherApiError,
    RetryableApiError,
    TokenInvalidError,
    classify,
)
from wxserver.protocol.errors import WxServerError

GETCALLBACKIP = "/cgi-bin/getcallbackip"

CLASSIFIED: list[tuple[int, str, type[ApiError]]] = [
    (40001, GETCALLBACKIP, TokenInvalidError),
    (40014, GETCALLBACKIP, TokenInvalidError),
    (42001, GETCALLBACKIP, TokenInvalidError),
    (-1, GETCALLBACKIP, RetryableApiError),
    (45011, GETCALLBACKIP, RetryableApiError),
    (40164, GETCALLBACKIP, ConfigAlertError),
    (48001, GETCALLBACKIP, ConfigAlertError),
    (40013, "/cgi-bin/stable_token", ConfigAlertError),
    (45009, GETCALLBACKIP, ConfigAlertError),
    (89501, GETCALLBACKIP, ConfigAlertError),
    (89503, GETCALLBACKIP, ConfigAlertError),
    (89506, GETCALLBACKIP, ConfigAlertError),
    (89507, GETCALLBACKIP, ConfigAlertError),
    (40001, "/cgi-bin/stable_token", ConfigAlertError),  # no token was sent: the secret
    (40125, "/cgi-bin/token", ConfigAlertError),
    (43004, "/cgi-bin/message/custom/send", DropError),
    (45015, "/cgi-bin/message/custom/send", DropError),
    (45047, "/cgi-bin/message/custom/send", DropError),
    (40003, "/cgi-bin/message/custom/send", OtherApiError),
    (99999, GETCALLBACKIP, OtherApiError),
]


@pytest.mark.parametrize(
    ("errcode", "path", "kind"),
    CLASSIFIED,
    ids=[f"{code}-{path.rsplit('/', 1)[-1]}" for code, path, _ in CLASSIFIED],
)
def test_api_errcodes_are_classified(errcode: int, path: str, kind: type[ApiError]) -> None:
    error = classify(errcode, "platform text", path=path)
    assert type(error) is kind
    assert isinstance(error, ApiError)
    assert isinstance(error, WxServerError)
    assert error.errcode == errcode
    assert error.errmsg == "platform text"
    assert error.meaning
    assert "platform text" in str(error)


ALERTS = [
    (
        40164,
        "invalid ip 203.0.113.7 ipv6 ::ffff:203.0.113.7, not in whitelist rid: 64f1",
        "Add this server's IP 203.0.113.7 to the IP whitelist in the MP console: "
        "设置与开发 > 基本配置 > IP白名单.",
    ),
    (45009, "reach max api daily quota limit", "/cgi-bin/clear_quota"),
    (48001, "api unauthorized", "设置与开发 > 接口权限"),
    (40013, "invalid appid", "WX_APPID"),
    (89503, "risky ip 203.0.113.7", "approve it"),
    (89501, "ip 203.0.113.7 waiting for admin confirm", "pause calls until then"),
    (89506, "ip 203.0.113.7 refused twice", "blocked for 24 hours"),
    (89507, "ip 203.0.113.7 refused", "blocked for one hour"),
]


@pytest.mark.parametrize(("errcode", "errmsg", "says"), ALERTS, ids=[str(a[0]) for a in ALERTS])
def test_api_alerts_say_what_to_do(errcode: int, errmsg: str, says: str) -> None:
    error = classify(errcode, errmsg)
    assert isinstance(error, ConfigAlertError)
    assert says in error.action
    assert says in str(error)


def test_api_errors_survive_a_process_boundary() -> None:
    error = classify(40164, "invalid ip 203.0.113.7")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object, just pickled
    assert type(copy) is ConfigAlertError
    assert (copy.errcode, copy.errmsg, copy.action, str(copy)) == (
        error.errcode,
        error.errmsg,
        error.action,
        str(error),
    )
    unavailable = ApiUnavailableError("/x", ["a: refused"], outcome_unknown=True)
    assert pickle.loads(pickle.dumps(unavailable)).outcome_unknown is True  # noqa: S301
