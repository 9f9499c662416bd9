"""parse_xml: what it refuses (DOCTYPE, entities, bad encodings, malformed XML) and accepts."""

from __future__ import annotations

import pytest
import xmltodict

from tests.protocol.message_bodies import FIXTURES
from tests.protocol.xml_attacks import ATTACKS
from wxserver.protocol import xmlguard
from wxserver.protocol.errors import XmlError
from wxserver.protocol.parsing import message_from_fields, parse_message, parse_xml

# --- parse_xml: refusals -------------------------------------------------------------------------


@pytest.mark.parametrize("body", list(ATTACKS.values()), ids=list(ATTACKS))
def test_parse_xml_refuses_doctype_and_entities_before_parsing(
    body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(*_args: object, **_kwargs: object) -> None:
        pytest.fail("the body reached the XML parser")

    monkeypatch.setattr("xmltodict.parse", never)
    with pytest.raises(XmlError, match="DOCTYPE"):
        parse_xml(body)


@pytest.mark.parametrize(
    "body",
    [b"<xml><!DOCTYPE xml><A>1</A></xml>", b"<xml><A>1</A></xml><!DOCTYPE xml>"],
    ids=["inside-root", "after-root"],
)
def test_parse_xml_doctype_outside_prolog_is_malformed(body: bytes) -> None:
    with pytest.raises(XmlError, match="not well-formed"):
        parse_xml(body)


def test_parse_xml_parser_refuses_doctype_on_its_own() -> None:
    # The second line of defence, should a DOCTYPE ever get past the byte check.
    parser = xmlguard.GuardedExpat.ParserCreate("utf-8", None)
    with pytest.raises(XmlError, match="DOCTYPE"):
        parser.Parse(b"<!DOCTYPE xml><xml/>", True)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("<xml><Content>你好</Content></xml>".encode("gbk"), "not valid UTF-8"),
        (b"<xml><Content>\xed\xa0\x80</Content></xml>", "not valid UTF-8"),
        (b"<xml><Content>\xc0\xaf</Content></xml>", "not valid UTF-8"),
        (b"<xml><Content>\xf4\x90\x80\x80</Content></xml>", "not valid UTF-8"),
        (b"<xml><Content>\xe4\xbd</Content></xml>", "not valid UTF-8"),
        (b"<xml><Content>\x80</Content></xml>", "not valid UTF-8"),
        (b"<xml><Content\xff>x</Content\xff></xml>", "not valid UTF-8"),
        ("<xml><A>x</A></xml>".encode("utf-16-le"), "NUL"),
        ("<xml><A>x</A></xml>".encode("utf-16"), "not valid UTF-8"),
        (b'<?xml version="1.0" encoding="GBK"?><xml><A>1</A></xml>', "'GBK'"),
        (b"<?xml version='1.0' encoding='ISO-8859-1'?><xml/>", "'ISO-8859-1'"),
        (b"<xml><A>1</A>", "not well-formed"),
        (b"<xml><A>1</B></xml>", "not well-formed"),
        (b"<xml><A>&undefined;</A></xml>", "not well-formed"),
        (b"just text", "not well-formed"),
        (b"", "empty"),
        (b" \r\n\t", "empty"),
        (b"<message><A>1</A></message>", "root element is <message>"),
        (b"<XML><A>1</A></XML>", "root element is <XML>"),
        (b"<xml>text</xml>", "holds text"),
    ],
    ids=[
        "gbk-bytes",
        "utf8-surrogate",
        "utf8-overlong",
        "utf8-beyond-unicode",
        "utf8-truncated",
        "utf8-lone-continuation",
        "utf8-in-a-name",
        "utf16-without-bom",
        "utf16-with-bom",
        "gbk-declaration",
        "latin1-declaration",
        "unclosed",
        "mismatched-tag",
        "undefined-entity",
        "not-xml",
        "empty",
        "whitespace",
        "wrong-root",
        "uppercase-root",
        "root-text",
    ],
)
def test_parse_xml_refuses_bad_body(body: bytes, match: str) -> None:
    with pytest.raises(XmlError, match=match):
        parse_xml(body)


# --- parse_xml: accepted shapes ------------------------------------------------------------------


@pytest.mark.parametrize(
    "prefix",
    [
        b"",
        b'<?xml version="1.0" encoding="UTF-8"?>\n',
        b"<?xml version='1.0' encoding='utf8'?>",
        b'<?xml version="1.0"?>',
        b"\xef\xbb\xbf",
        b"<!-- pushed by WeChat -->\n",
    ],
    ids=["none", "utf-8-declaration", "utf8-declaration", "no-encoding", "bom", "comment"],
)
def test_parse_xml_accepts_utf8_prologs(prefix: bytes) -> None:
    assert parse_xml(prefix + b"<xml><A>1</A></xml>") == {"A": "1"}


def test_parse_xml_repeated_children_are_always_lists() -> None:
    one = parse_xml(b"<xml><L><List><T>a</T></List></L><I><item>1</item></I></xml>")
    many = parse_xml(b"<xml><L><List><T>a</T></List><List><T>b</T></List></L></xml>")
    assert one == {"L": {"List": [{"T": "a"}]}, "I": {"item": ["1"]}}
    assert many == {"L": {"List": [{"T": "a"}, {"T": "b"}]}}


def test_parse_xml_strips_values_and_drops_layout_as_xmltodict_does() -> None:
    fields = parse_xml(b"<xml>\n  <A>  two  spaces </A>\n  <B>\n    <C>1</C>\n  </B>\n</xml>")
    assert fields == {"A": "two  spaces", "B": {"C": "1"}}
    assert (
        fields
        == xmltodict.parse(b"<xml>\n  <A>  two  spaces </A>\n  <B>\n    <C>1</C>\n  </B>\n</xml>")[
            "xml"
        ]
    )


def test_parse_xml_empty_elements_are_none() -> None:
    assert parse_xml(b"<xml><A/><B><![CDATA[]]></B></xml>") == {"A": None, "B": None}


def test_parse_xml_empty_root_has_no_fields() -> None:
    assert parse_xml(b"<xml/>") == {}
    assert parse_xml(b"<xml>\n</xml>") == {}


def test_parse_xml_ignores_attributes() -> None:
    assert parse_xml(b'<xml a="1"><A b="2">x</A></xml>') == {"A": "x"}


def test_parse_xml_reads_the_secure_mode_envelope() -> None:
    body = (
        b"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[abc+/=]]></Encrypt></xml>"
    )
    assert parse_xml(body) == {"ToUserName": "gh_1", "Encrypt": "abc+/="}


def test_parse_message_is_parse_xml_then_message_from_fields() -> None:
    body = (FIXTURES / "event_masssendjobfinish.xml").read_bytes()
    assert parse_message(body) == message_from_fields(parse_xml(body))
