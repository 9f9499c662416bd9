"""The callback's query string reads exactly as werkzeug's ``request.args.to_dict()`` reads it."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from wxserver.protocol.querystring import parse_query, raw_value

CASES = [
    "",
    "signature=ab12&timestamp=1700000000&nonce=42&openid=oUser-_x&encrypt_type=aes",
    "a=1&a=2",  # the first wins, as MultiDict.to_dict() keeps it
    "flag&b=",  # no "=", and an empty value
    "&&a=1&&",  # empty pairs
    "a=x%3Dy%26z",  # escaped separators stay in the value
    "q=hello+world&p=%2B",  # "+" is a space, "%2B" a plus
    "name=%E4%BD%A0%E5%A5%BD",  # UTF-8 percent escapes
    "k%20ey=v",  # an escaped name
    "pct=%zz&tail=%",  # a lone or malformed "%" stays as it is
    "a==b",  # only the first "=" separates
]


def werkzeug_args(query: bytes) -> dict[str, str]:
    environ = EnvironBuilder(path="/").get_environ()
    environ["QUERY_STRING"] = query.decode("latin-1")  # as a WSGI server passes it (PEP 3333)
    args: MultiDict[str, str] = Request(environ).args
    return args.to_dict()


@pytest.mark.parametrize("query", CASES)
def test_querystring_parse_matches_werkzeug(query: str) -> None:
    assert parse_query(query) == werkzeug_args(query.encode("latin-1"))


def test_querystring_escapes_that_are_not_utf8_become_replacement_characters() -> None:
    # werkzeug keeps such an escape as it was sent; either way no signature can match it.
    assert parse_query("bad=%FF%FE&half=%E4%BD&ok=1") == {
        "bad": "\ufffd\ufffd",
        "half": "\ufffd",
        "ok": "1",
    }


def test_querystring_raw_utf8_bytes_read_as_werkzeug_reads_them() -> None:
    raw = "nonce=1&text=你好".encode()
    # A WSGI server hands the query over as latin-1 text (PEP 3333).
    assert parse_query(raw.decode("latin-1")) == werkzeug_args(raw)
    assert parse_query(raw.decode("latin-1"))["text"] == "你好"


def test_querystring_raw_value_keeps_bytes_that_are_not_utf8() -> None:
    assert raw_value("echostr=%FF%00abc&nonce=1", "echostr") == b"\xff\x00abc"
    assert raw_value("nonce=1&echostr=a+b&echostr=second", "echostr") == b"a b"
    assert raw_value("nonce=1", "echostr") is None
