"""The envelope of an encrypted message: its Encrypt text in one pass, under every body check."""

from __future__ import annotations

import random

import pytest

from tests.protocol.xml_attacks import ATTACKS
from tests.support import load_vector
from wxserver.protocol.envelope import Envelope, _canonical, _read_with_expat, read_envelope
from wxserver.protocol.errors import XmlError
from wxserver.protocol.parsing import parse_xml

SECURE = (
    b"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[abc+/=]]></Encrypt></xml>"
)


def test_envelope_official_sample_reads_as_parse_xml_does() -> None:
    vector = load_vector("official__mp_official_sample_decrypt")
    body = vector["post_body_xml"].encode()
    envelope = read_envelope(body)
    assert envelope.encrypt == vector["encrypt"] == parse_xml(body)["Encrypt"]
    # The sample carries the plaintext fields beside Encrypt: compatible mode.
    assert envelope.plaintext_fields


def test_envelope_secure_mode_has_no_plaintext_fields() -> None:
    envelope = read_envelope(SECURE)
    assert (envelope.encrypt, envelope.plaintext_fields) == ("abc+/=", False)


@pytest.mark.parametrize(
    "body",
    [
        b"<xml>\n  <ToUserName>gh_1</ToUserName>\n  <Encrypt>abc</Encrypt>\n</xml>",
        b"<xml><Encrypt><![CDATA[ab]]><![CDATA[c]]></Encrypt></xml>",
        b"<xml><Encrypt>a&amp;bc</Encrypt></xml>",
        b'<?xml version="1.0" encoding="utf-8"?>\n<xml><Encrypt> abc </Encrypt></xml>',
        b"<xml><ToUserName>gh_1</ToUserName></xml>",
        b"<xml><Other><Encrypt>nested is not the envelope's</Encrypt></Other></xml>",
    ],
    ids=["indented", "split-cdata", "escaped", "declaration-spaces", "absent", "nested"],
)
def test_envelope_encrypt_text_is_what_parse_xml_reads(body: bytes) -> None:
    # Byte for byte the same text, whitespace included: msg_signature covers it as sent.
    assert read_envelope(body).encrypt == parse_xml(body).get("Encrypt")


def test_envelope_empty_encrypt_is_empty_text() -> None:
    # The endpoint refuses it as it refuses a missing one.
    assert read_envelope(b"<xml><Encrypt></Encrypt></xml>").encrypt == ""
    assert read_envelope(b"<xml><Encrypt/></xml>").encrypt == ""


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"<xml><Encrypt>a</Encrypt><Encrypt>b</Encrypt></xml>", "more than once"),
        (b"<xml><Encrypt>a<B>b</B></Encrypt></xml>", "holds elements"),
        (b"<message><Encrypt>a</Encrypt></message>", "root element is <message>"),
        (b"<xml><Encrypt>a</Encrypt>", "not well-formed"),
        (b"<xml><Encrypt>\xff</Encrypt></xml>", "not valid UTF-8"),
        ("<xml><Encrypt>a</Encrypt></xml>".encode("utf-16-le"), "NUL"),
        ("<xml><Encrypt>a</Encrypt></xml>".encode("utf-16"), "not valid UTF-8"),
        (b'<?xml version="1.0" encoding="GBK"?><xml><Encrypt>a</Encrypt></xml>', "'GBK'"),
        (b"", "empty"),
    ],
    ids=[
        "two-encrypts",
        "nested-element",
        "wrong-root",
        "unclosed",
        "bad-utf8",
        "utf16",
        "utf16-bom",
        "gbk",
        "empty",
    ],
)
def test_envelope_refuses_bad_body(body: bytes, match: str) -> None:
    with pytest.raises(XmlError, match=match):
        read_envelope(body)


@pytest.mark.parametrize("body", list(ATTACKS.values()), ids=list(ATTACKS))
def test_envelope_refuses_doctype_and_entities(body: bytes) -> None:
    with pytest.raises(XmlError, match="DOCTYPE"):
        read_envelope(body)


SHAPES = [
    SECURE,
    b"<xml>\n    <ToUserName><![CDATA[gh_1 & <x>]]></ToUserName>\n"
    b"    <Encrypt><![CDATA[QUJD+/==]]></Encrypt>\n</xml>\n",
]


@pytest.mark.parametrize("body", SHAPES, ids=["one-line", "indented"])
def test_envelope_wechat_shape_is_read_without_expat(body: bytes) -> None:
    encrypt = _canonical(body)
    assert encrypt is not None
    assert read_envelope(body) == (encrypt, False) == _read_with_expat(body)


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[a&b]]></Encrypt></xml>",
        b"<xml><ToUserName><![CDATA[gh]1]]></ToUserName><Encrypt><![CDATA[ab]]></Encrypt></xml>",
        b"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[a]]></Encrypt></xml>x",
        b"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[a]]></Encrypt>"
        b"<MsgType><![CDATA[text]]></MsgType></xml>",
        b"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[a]]><![CDATA[b]]>"
        b"</Encrypt></xml>",
        b"<xml><ToUserName><![CDATA[\xc3\xa9]]></ToUserName><Encrypt><![CDATA[a]]></Encrypt></xml>",
    ],
    ids=["markup", "bracket-in-to", "text-after-root", "compatible", "two-cdata", "utf8"],
)
def test_envelope_other_shapes_go_through_expat(body: bytes) -> None:
    assert _canonical(body) is None


def test_envelope_shortcut_agrees_with_expat_on_mutated_bodies() -> None:
    # Every body the shortcut accepts, expat reads to the same envelope; the rest go to expat.
    rng = random.Random(20261122)
    alphabet = b"]]><&=/+aZ9 \n\t\x00\x01\xff\xc3["
    accepted = refused = 0
    for _ in range(20_000):
        body = bytearray(rng.choice(SHAPES))
        for _ in range(rng.choice((1, 1, 2, 3))):
            at = rng.randrange(len(body) + 1)
            roll = rng.random()
            if roll < 0.4 and at < len(body):
                body[at] = rng.choice(alphabet)
            elif roll < 0.7:
                body[at:at] = bytes([rng.choice(alphabet)])
            else:
                del body[at : at + rng.randint(1, 4)]
        encrypt = _canonical(bytes(body))
        if encrypt is None:
            refused += 1
            continue
        accepted += 1
        assert _read_with_expat(bytes(body)) == Envelope(encrypt, plaintext_fields=False), body
    # Both paths were exercised, many times each.
    assert accepted > 500
    assert refused > 500
