"""JSON callback bodies: the same fields and typed messages as XML, and JSON's own refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.protocol.message_bodies import FIXTURE_FILES
from wxserver.protocol.errors import JsonError
from wxserver.protocol.jsonparsing import MAX_NUMBER, parse_json, read_json_envelope
from wxserver.protocol.parsing import MAX_DEPTH, message_from_fields, parse_message, parse_xml

# Fields that WeChat's JSON carries as numbers.
_NUMBERS = ("CreateTime", "MsgId", "Idx", "Scale", "Location_X", "Location_Y", "Latitude")


def _as_wechat_json(fields: dict[str, Any]) -> bytes:
    """The JSON WeChat would send for the fields of an XML body: numeric fields as numbers."""
    document: dict[str, Any] = dict(fields)
    for name in _NUMBERS:
        value = document.get(name)
        if isinstance(value, str):
            try:
                document[name] = int(value)
            except ValueError:
                document[name] = float(value)
    return json.dumps(document, ensure_ascii=False).encode()


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=[path.name for path in FIXTURE_FILES])
def test_parse_json_gives_the_message_the_xml_gives(path: Path) -> None:
    xml_message = parse_message(path.read_bytes())
    body = _as_wechat_json(parse_xml(path.read_bytes()))
    json_message = message_from_fields(parse_json(body))
    assert type(json_message) is type(xml_message)
    assert json_message == xml_message


def test_parse_json_reads_scalars_as_text_like_xml() -> None:
    body = (
        b'{"ToUserName": " gh_1 ", "CreateTime": 1700000000, "MsgId": 23182000000000000,'
        b' "Scale": 1.50, "Flag": true, "Off": false, "Empty": null, "Nested": {"A": [1, "b"]}}'
    )
    assert parse_json(body) == {
        "ToUserName": "gh_1",
        "CreateTime": "1700000000",
        "MsgId": "23182000000000000",
        "Scale": "1.50",
        "Flag": "true",
        "Off": "false",
        "Empty": None,
        "Nested": {"A": ["1", "b"]},
    }


def test_parse_json_accepts_a_utf8_byte_order_mark_and_unicode_escapes() -> None:
    fields = parse_json(b'\xef\xbb\xbf{"Content": "\\u4f60\\u597d \\ud83d\\ude00"}')
    assert fields == {"Content": "你好 😀"}


def test_parse_json_missing_fields_are_empty_fields() -> None:
    message = message_from_fields(parse_json(b'{"MsgType": "text"}'))
    assert (message.to_user_name, message.create_time, message.msg_type) == ("", 0, "text")


def _nested(depth: int) -> bytes:
    """A body whose top-level object holds ``depth - 1`` further levels of objects."""
    return b'{"A":' * (depth - 1) + b'{"B":"x"}' + b"}" * (depth - 1)


def test_parse_json_accepts_nesting_to_the_xml_limit() -> None:
    fields = parse_json(_nested(MAX_DEPTH))
    for _ in range(MAX_DEPTH - 1):
        fields = fields["A"]
    assert fields == {"B": "x"}


@pytest.mark.parametrize(
    ("body", "says"),
    [
        pytest.param(b'{"A": 1, "A": 2}', "repeats the key 'A'", id="duplicate-key"),
        pytest.param(b'{"A": {"B": 1, "B": 1}}', "repeats the key 'B'", id="nested-duplicate"),
        pytest.param(_nested(MAX_DEPTH + 1), "more than 16 deep", id="depth-17"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, "deep", id="deep-array"),
        pytest.param(b'{"A":' + b"[" * 100_000, "deep", id="deep-unclosed"),
        pytest.param(b"[]", "top level is a array", id="array"),
        pytest.param(b'"text"', "top level is a scalar", id="string"),
        pytest.param(b"42", "top level is a scalar", id="number"),
        pytest.param(b"null", "top level is a scalar", id="null"),
        pytest.param(b'{"MsgId": ' + b"9" * (MAX_NUMBER + 1) + b"}", "number of", id="huge-int"),
        pytest.param(b'{"A": 1' + b"0" * 100_000 + b"}", "number of", id="100k-digits"),
        pytest.param(b'{"A": 1.' + b"5" * 40 + b"}", "number of", id="long-float"),
        pytest.param(b'{"A": NaN}', "NaN", id="nan"),
        pytest.param(b'{"A": -Infinity}', "Infinity", id="infinity"),
        pytest.param(b"", "empty", id="empty"),
        pytest.param(b" \n", "empty", id="blank"),
        pytest.param(b'{"A": "\xff"}', "byte 0xff", id="not-utf8"),
        pytest.param('{"A": "中"}'.encode("utf-16"), "not valid UTF-8", id="utf16"),
        pytest.param(b'{"A": 1} {"B": 2}', "well-formed", id="two-documents"),
        pytest.param(b"{'A': 1}", "well-formed", id="single-quotes"),
        pytest.param(b'{"A": 1,}', "well-formed", id="trailing-comma"),
        pytest.param(b'{"A": "line\nbreak"}', "well-formed", id="raw-control-character"),
        pytest.param(b"<xml><A>1</A></xml>", "well-formed", id="xml"),
    ],
)
def test_parse_json_refuses_what_wechat_never_sends(body: bytes, says: str) -> None:
    with pytest.raises(JsonError) as refused:
        parse_json(body)
    assert says in str(refused.value)
    assert refused.value.status == 400


def test_parse_json_depth_refusal_is_not_a_recursion_error() -> None:
    body = b'{"A":' * 50_000 + b"1" + b"}" * 50_000
    with pytest.raises(JsonError):
        parse_json(body)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"ToUserName": "gh_1", "Encrypt": "abc="}', ("abc=", False)),
        (b'{"ToUserName": "gh_1", "MsgType": "text", "Encrypt": "abc="}', ("abc=", True)),
        (b'{"ToUserName": "gh_1"}', (None, False)),
    ],
    ids=["secure", "compat", "no-encrypt"],
)
def test_read_json_envelope_finds_encrypt_and_the_mode(
    body: bytes, expected: tuple[str | None, bool]
) -> None:
    assert tuple(read_json_envelope(body)) == expected


@pytest.mark.parametrize(
    "body",
    [b'{"Encrypt": {"A": "b"}}', b'{"Encrypt": ["abc"]}', b'{"Encrypt": "a", "Encrypt": "b"}'],
    ids=["object", "array", "twice"],
)
def test_read_json_envelope_refuses_an_encrypt_that_is_not_one_text(body: bytes) -> None:
    with pytest.raises(JsonError):
        read_json_envelope(body)
