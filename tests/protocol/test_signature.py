"""Known answers and refusals of wxserver.signature."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from wxserver.protocol import signature
from wxserver.protocol.errors import SignatureError

VECTORS = Path(__file__).parent.parent / "data" / "vectors"


def vector(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / f"official__{name}.json").read_text("utf-8"))
    return data


def sha1_hex(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()  # noqa: S324 - the protocol's own hash


URL_DOC = vector("mp_url_signature_official_doc")
MP_SAMPLE = vector("mp_official_sample_decrypt")
FIXED = vector("mp_encrypt_fixed_random")
JSSDK = vector("jssdk_signature_official")


# --- sign: known answers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "timestamp", "nonce", "expected"),
    [
        pytest.param(
            URL_DOC["token"],
            URL_DOC["get_handshake"]["timestamp"],
            URL_DOC["get_handshake"]["nonce"],
            URL_DOC["get_handshake"]["signature"],
            id="doc-get-handshake",
        ),
        pytest.param(
            URL_DOC["token"],
            URL_DOC["plaintext_post"]["timestamp"],
            URL_DOC["plaintext_post"]["nonce"],
            URL_DOC["plaintext_post"]["signature"],
            id="doc-plaintext-post",
        ),
        pytest.param(
            MP_SAMPLE["token"],
            MP_SAMPLE["timestamp"],
            MP_SAMPLE["nonce"],
            MP_SAMPLE["derived_not_in_source"]["url_signature_sha1_sorted(token,timestamp,nonce)"],
            id="mp-sample-url-signature",
        ),
    ],
)
def test_sign_url_signature_known_answers(
    token: str, timestamp: str, nonce: str, expected: str
) -> None:
    assert signature.sign(token, timestamp, nonce) == expected


def test_sign_sorts_the_doc_example_as_plain_strings() -> None:
    handshake = URL_DOC["get_handshake"]
    joined = "".join(handshake["sorted"]).encode("ascii")
    assert signature.sign(*handshake["sorted"]) == sha1_hex(joined)
    assert (
        signature.sign(URL_DOC["token"], handshake["nonce"], handshake["timestamp"])
        == (handshake["signature"])
    )


@pytest.mark.parametrize(
    ("token", "timestamp", "nonce", "encrypt", "expected"),
    [
        pytest.param(
            MP_SAMPLE["token"],
            MP_SAMPLE["timestamp"],
            MP_SAMPLE["nonce"],
            MP_SAMPLE["encrypt"],
            MP_SAMPLE["msg_signature"],
            id="mp-sample",
        ),
        pytest.param(
            FIXED["token"],
            FIXED["timestamp"],
            FIXED["nonce"],
            FIXED["cases"][0]["encrypt"],
            FIXED["derived_not_in_source"]["msg_signature_case1(token,timestamp,nonce,encrypt)"],
            id="fixed-random-case1",
        ),
    ],
)
def test_sign_msg_signature_known_answers(
    token: str, timestamp: str, nonce: str, encrypt: str, expected: str
) -> None:
    assert signature.sign(token, timestamp, nonce, encrypt) == expected


def test_sign_is_independent_of_argument_order() -> None:
    assert signature.sign("b", "c", "a") == signature.sign("a", "b", "c")
    assert signature.sign("b", "c", "a") == sha1_hex(b"abc")


def test_sign_uses_no_separator() -> None:
    assert signature.sign("ab", "c") == signature.sign("a", "bc")


# --- verify / check ------------------------------------------------------------------------------

GET = URL_DOC["get_handshake"]
GOOD_URL = {
    "token": URL_DOC["token"],
    "signature": GET["signature"],
    "timestamp": GET["timestamp"],
    "nonce": GET["nonce"],
}
GOOD_MSG = {
    "token": MP_SAMPLE["token"],
    "signature": MP_SAMPLE["msg_signature"],
    "timestamp": MP_SAMPLE["timestamp"],
    "nonce": MP_SAMPLE["nonce"],
    "encrypt": MP_SAMPLE["encrypt"],
}


@pytest.mark.parametrize("arguments", [GOOD_URL, GOOD_MSG], ids=["signature", "msg_signature"])
def test_verify_accepts_the_official_signatures(arguments: dict[str, str]) -> None:
    assert signature.verify(**arguments) is True
    signature.check(**arguments)


BAD_SIGNATURES = [
    pytest.param("0" * 40, id="wrong"),
    pytest.param(GET["signature"].upper(), id="upper-case"),
    pytest.param(GET["signature"][:-1], id="too-short"),
    pytest.param(GET["signature"] + "0", id="too-long"),
    pytest.param("", id="empty"),
    pytest.param(GET["signature"][:-1] + "é", id="non-ascii"),
    pytest.param(GET["signature"][:-1] + "\udcff", id="lone-surrogate"),
]


@pytest.mark.parametrize("bad", BAD_SIGNATURES)
def test_verify_rejects_a_bad_signature(bad: str) -> None:
    assert signature.verify(**{**GOOD_URL, "signature": bad}) is False


@pytest.mark.parametrize("bad", BAD_SIGNATURES)
def test_check_raises_for_a_bad_signature(bad: str) -> None:
    with pytest.raises(SignatureError, match=r"^The signature query parameter") as info:
        signature.check(**{**GOOD_URL, "signature": bad})
    assert info.value.code == -40001


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"signature": "0" * 40}, id="wrong-msg-signature"),
        pytest.param({"signature": MP_SAMPLE["msg_signature"].upper()}, id="upper-case"),
        pytest.param({"signature": MP_SAMPLE["msg_signature"][:20]}, id="too-short"),
        pytest.param({"signature": "\uff46" * 40}, id="non-ascii"),
        pytest.param({"encrypt": MP_SAMPLE["encrypt"][:-4]}, id="other-encrypt"),
        pytest.param({"token": "spamtesT"}, id="other-token"),
    ],
)
def test_check_raises_for_a_bad_msg_signature(changes: dict[str, str]) -> None:
    arguments = {**GOOD_MSG, **changes}
    assert signature.verify(**arguments) is False
    with pytest.raises(SignatureError, match=r"^The msg_signature query parameter") as info:
        signature.check(**arguments)
    assert info.value.code == -40001


def test_check_refuses_the_url_signature_where_msg_signature_is_due() -> None:
    # The signature over (token, timestamp, nonce) is valid, but it does not cover Encrypt.
    arguments = {**GOOD_URL, "encrypt": MP_SAMPLE["encrypt"]}
    with pytest.raises(SignatureError, match="msg_signature"):
        signature.check(**arguments)


# --- JS-SDK --------------------------------------------------------------------------------------

JSSDK_CASES = [pytest.param(case, id=case["url"]) for case in JSSDK["cases"]]


@pytest.mark.parametrize("case", JSSDK_CASES)
def test_jsapi_signature_known_answers(case: dict[str, str]) -> None:
    result = signature.jsapi_signature(
        ticket=JSSDK["jsapi_ticket"],
        noncestr=JSSDK["noncestr"],
        timestamp=JSSDK["timestamp"],
        url=case["url"],
    )
    assert result == case["signature"]
    assert result == sha1_hex(case["string1"].encode("utf-8"))


@pytest.mark.parametrize("case", JSSDK_CASES)
@pytest.mark.parametrize("fragment", ["#", "#/home", "#section?a=1&b=2#again"])
def test_jsapi_signature_ignores_the_fragment(case: dict[str, str], fragment: str) -> None:
    result = signature.jsapi_signature(
        ticket=JSSDK["jsapi_ticket"],
        noncestr=JSSDK["noncestr"],
        timestamp=JSSDK["timestamp"],
        url=case["url"] + fragment,
    )
    assert result == case["signature"]


def test_jsapi_signature_accepts_an_integer_timestamp() -> None:
    case = JSSDK["cases"][0]
    result = signature.jsapi_signature(
        ticket=JSSDK["jsapi_ticket"],
        noncestr=JSSDK["noncestr"],
        timestamp=int(JSSDK["timestamp"]),
        url=case["url"],
    )
    assert result == case["signature"]


def test_jsapi_signature_does_not_escape_the_url() -> None:
    url = "https://example.com/a b?q=中文&x=%41"
    string1 = f"jsapi_ticket=t&noncestr=n&timestamp=1&url={url}"
    expected = sha1_hex(string1.encode("utf-8"))
    assert signature.jsapi_signature(ticket="t", noncestr="n", timestamp=1, url=url) == expected
