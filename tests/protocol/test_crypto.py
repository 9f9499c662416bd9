"""Known answers and round trips of the AES envelope (wxserver.crypto), and its keys."""

from __future__ import annotations

import base64
import copy
import pickle
import string
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.protocol.crypto_vectors import (
    APP_ID,
    FIXED,
    KEY,
    MP_SAMPLE,
    PREVIOUS_KEY,
    WECOM,
    WECOM_QDG6EK,
    open_raw,
)
from wxserver.protocol import signature
from wxserver.protocol.crypto import AesKey, Decrypted, MessageCrypto
from wxserver.protocol.errors import AppIdMismatchError, IllegalAesKeyError

# --- AesKey --------------------------------------------------------------------------------------


def test_aes_key_decodes_the_encoding_aes_key() -> None:
    key = AesKey.from_encoding_aes_key(KEY)
    assert key.key == base64.b64decode(KEY + "=")
    assert len(key.key) == 32
    assert key.iv == key.key[:16]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(KEY[:-1], id="42-chars"),
        pytest.param(KEY + "A", id="44-chars"),
        pytest.param("", id="empty"),
        pytest.param(KEY[:-1] + "+", id="plus"),
        pytest.param(KEY[:-1] + "/", id="slash"),
        pytest.param(KEY[:-1] + "=", id="padding-char"),
        pytest.param(KEY[:-1] + " ", id="space"),
        pytest.param(KEY[:-1] + "é", id="non-ascii-letter"),
        pytest.param(KEY[:-1] + "٣", id="non-ascii-digit"),
    ],
)
def test_aes_key_rejects_a_malformed_encoding_aes_key(value: str) -> None:
    with pytest.raises(IllegalAesKeyError) as info:
        AesKey.from_encoding_aes_key(value)
    assert info.value.code == -40004
    assert KEY[:20] not in str(info.value)


def test_aes_key_rejects_raw_bytes_of_the_wrong_size() -> None:
    with pytest.raises(IllegalAesKeyError, match="32 bytes"):
        AesKey(b"\x00" * 16)


def test_aes_key_repr_hides_the_key() -> None:
    key = AesKey.from_encoding_aes_key(KEY)
    text = repr(key) + str(key)
    for secret in (KEY, repr(key.key), key.key.hex(), repr(key.iv), key.iv.hex(), "abcdefghij"):
        assert secret not in text


def test_aes_key_survives_copy_and_pickle() -> None:
    key = AesKey.from_encoding_aes_key(KEY)
    ciphertext = key.cbc_encrypt(b"\x01" * 32)
    for clone in (copy.copy(key), copy.deepcopy(key), pickle.loads(pickle.dumps(key))):  # noqa: S301
        assert clone == key
        assert clone.cbc_decrypt(ciphertext) == b"\x01" * 32


# --- MessageCrypto construction ------------------------------------------------------------------


def test_message_crypto_requires_a_key() -> None:
    with pytest.raises(IllegalAesKeyError, match="No EncodingAESKey"):
        MessageCrypto([], APP_ID)


def test_message_crypto_refuses_a_bare_string() -> None:
    with pytest.raises(TypeError, match="sequence"):
        MessageCrypto(KEY, APP_ID)


def test_message_crypto_names_the_invalid_key() -> None:
    with pytest.raises(IllegalAesKeyError, match="previous") as info:
        MessageCrypto([KEY, PREVIOUS_KEY[:-1]], APP_ID)
    assert info.value.code == -40004


def test_message_crypto_repr_hides_the_keys() -> None:
    crypto = MessageCrypto([KEY, PREVIOUS_KEY], APP_ID)
    text = repr(crypto)
    assert APP_ID in text
    for key in crypto.keys:
        assert key.key.hex() not in text
        assert repr(key.key) not in text
    assert KEY not in text
    assert PREVIOUS_KEY not in text


def test_message_crypto_survives_pickle(crypto: MessageCrypto) -> None:
    clone = pickle.loads(pickle.dumps(crypto))  # noqa: S301
    assert clone.decrypt(crypto.encrypt(b"hello")).plaintext == b"hello"


# --- known answers -------------------------------------------------------------------------------


def test_decrypt_mp_official_sample(crypto: MessageCrypto) -> None:
    expected = MP_SAMPLE["expected"]
    result = crypto.decrypt(MP_SAMPLE["encrypt"])
    assert result == Decrypted(plaintext=expected["plaintext_xml"].encode("utf-8"), key_index=0)
    assert crypto.receive_id == expected["receive_id"]


def test_decrypt_mp_official_sample_layout() -> None:
    expected = MP_SAMPLE["expected"]
    buffer = open_raw(MP_SAMPLE["encrypt"])
    assert len(buffer) == expected["decrypted_block_len"]
    assert buffer[:16] == expected["random_prefix_ascii"].encode("ascii")
    assert int.from_bytes(buffer[16:20], "big") == expected["msg_len"]
    pad = expected["pad_len"]
    assert buffer[-pad:] == bytes([pad]) * pad
    assert buffer[20 + expected["msg_len"] : -pad] == expected["receive_id"].encode("ascii")


def test_encrypt_reproduces_the_mp_official_sample(crypto: MessageCrypto) -> None:
    expected = MP_SAMPLE["expected"]
    encrypt = crypto.encrypt(
        expected["plaintext_xml"].encode("utf-8"),
        random_prefix=expected["random_prefix_ascii"].encode("ascii"),
    )
    assert encrypt == MP_SAMPLE["encrypt"]


@pytest.mark.parametrize("case", FIXED["cases"], ids=["chinese-text", "video-reply-xml"])
def test_encrypt_with_fixed_random_prefix_known_answers(case: dict[str, str]) -> None:
    crypto = MessageCrypto([FIXED["encoding_aes_key"]], FIXED["appid"])
    plaintext = case["plaintext"].encode("utf-8")
    encrypt = crypto.encrypt(plaintext, random_prefix=FIXED["random_prefix"].encode("ascii"))
    assert encrypt == case["encrypt"]
    assert crypto.decrypt(encrypt) == Decrypted(plaintext, 0)


@pytest.mark.parametrize("sample", WECOM)
def test_decrypt_wecom_verify_url_echostr(sample: dict[str, Any]) -> None:
    verify = sample["verify_url"]
    echostr = verify["echostr_urldecoded"]
    assert signature.verify(
        token=sample["token"],
        signature=verify["msg_signature"],
        timestamp=verify["timestamp"],
        nonce=verify["nonce"],
        encrypt=echostr,
    )
    crypto = MessageCrypto([sample["encoding_aes_key"]], sample["receive_id_corpid"])
    assert crypto.decrypt(echostr).plaintext == verify["expected_response_body"].encode("ascii")


def test_decrypt_wecom_echostr_from_the_raw_query() -> None:
    verify = WECOM_QDG6EK["verify_url"]
    query = parse_qs(verify["query"], strict_parsing=True)
    assert query["echostr"] == [verify["echostr_urldecoded"]]
    assert query["msg_signature"] == [verify["msg_signature"]]


@pytest.mark.parametrize("sample", WECOM)
def test_decrypt_wecom_decrypt_msg_with_corpid(sample: dict[str, Any]) -> None:
    message = sample["decrypt_msg"]
    signature.check(
        token=sample["token"],
        signature=message["msg_signature"],
        timestamp=message["timestamp"],
        nonce=message["nonce"],
        encrypt=message["encrypt"],
    )
    crypto = MessageCrypto([sample["encoding_aes_key"]], sample["receive_id_corpid"])
    expected = message["expected_plaintext_xml"].encode("utf-8")
    assert crypto.decrypt(message["encrypt"]) == Decrypted(expected, 0)
    other_corp = MessageCrypto([sample["encoding_aes_key"]], "ww0000000000000000")
    with pytest.raises(AppIdMismatchError):
        other_corp.decrypt(message["encrypt"])


# --- round trips ---------------------------------------------------------------------------------

# With an 18-character AppID the framing adds 38 bytes, so 25/26/27-byte messages end one byte
# short of, exactly on and one byte past a 64-byte boundary.
ROUND_TRIPS = [
    pytest.param(b"", id="empty"),
    pytest.param(b"x", id="one-byte"),
    pytest.param(b"a" * 25, id="buffer-63"),
    pytest.param(b"a" * 26, id="buffer-64"),
    pytest.param(b"a" * 27, id="buffer-65"),
    pytest.param(b"b" * 31, id="31-bytes"),
    pytest.param(b"c" * 32, id="32-bytes"),
    pytest.param(b"d" * 33, id="33-bytes"),
    pytest.param("中文\uff0cemoji 😀, ]]> <xml/>".encode(), id="non-ascii"),
    pytest.param(bytes(range(256)), id="all-byte-values"),
    pytest.param(("消息" * 10240).encode("utf-8"), id="60-KiB"),
]


@pytest.mark.parametrize("message", ROUND_TRIPS)
def test_encrypt_round_trips(crypto: MessageCrypto, message: bytes) -> None:
    encrypt = crypto.encrypt(message)
    assert crypto.decrypt(encrypt) == Decrypted(message, 0)
    buffer = open_raw(encrypt)
    assert len(buffer) % 32 == 0
    pad = 32 - (20 + len(message) + len(APP_ID)) % 32
    assert buffer[-pad:] == bytes([pad]) * pad


def test_encrypt_pads_a_full_block_when_aligned(crypto: MessageCrypto) -> None:
    buffer = open_raw(crypto.encrypt(b"a" * 26))
    assert len(buffer) == 96
    assert buffer[-32:] == bytes([32]) * 32


def test_encrypt_uses_a_fresh_alphanumeric_prefix(crypto: MessageCrypto) -> None:
    prefixes = {open_raw(crypto.encrypt(b"same"))[:16] for _ in range(50)}
    assert len(prefixes) == 50
    alphabet = set((string.ascii_letters + string.digits).encode("ascii"))
    for prefix in prefixes:
        assert len(prefix) == 16
        assert set(prefix) <= alphabet


@pytest.mark.parametrize("prefix", [b"", b"short", b"x" * 17], ids=["empty", "short", "long"])
def test_encrypt_rejects_a_prefix_of_the_wrong_size(crypto: MessageCrypto, prefix: bytes) -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        crypto.encrypt(b"hello", random_prefix=prefix)


@pytest.mark.parametrize("index", [-1, 1, 5])
def test_encrypt_rejects_an_unknown_key_index(crypto: MessageCrypto, index: int) -> None:
    with pytest.raises(ValueError, match="key_index"):
        crypto.encrypt(b"hello", key_index=index)


def test_encrypt_works_with_an_empty_receive_id() -> None:
    crypto = MessageCrypto([KEY], "")
    assert crypto.decrypt(crypto.encrypt(b"robot")).plaintext == b"robot"
