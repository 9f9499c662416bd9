"""Refusals of the AES envelope, one test per check in the order decrypt applies them; rotation."""

from __future__ import annotations

import base64

import pytest

from tests.protocol.crypto_vectors import (
    APP_ID,
    KEY,
    MP_SAMPLE,
    OTHER_KEY,
    PREVIOUS_KEY,
    frame,
    seal_raw,
)
from wxserver.protocol import signature
from wxserver.protocol.crypto import Decrypted, MessageCrypto
from wxserver.protocol.errors import (
    AppIdMismatchError,
    Base64DecodeError,
    CryptoError,
    DecryptError,
    IllegalBufferError,
)

# --- tampering: one test per check, in the order decrypt applies them ----------------------------


def assert_refused(
    crypto: MessageCrypto, encrypt: str, error: type[CryptoError], code: int
) -> None:
    with pytest.raises(error) as info:
        crypto.decrypt(encrypt)
    assert type(info.value) is error
    assert info.value.code == code


@pytest.mark.parametrize(
    "encrypt",
    [
        pytest.param(MP_SAMPLE["encrypt"][:-1], id="truncated"),
        pytest.param(MP_SAMPLE["encrypt"][:-2], id="truncated-padding"),
        pytest.param("!" + MP_SAMPLE["encrypt"][1:], id="bang"),
        pytest.param(MP_SAMPLE["encrypt"][:40] + "\n" + MP_SAMPLE["encrypt"][40:], id="newline"),
        pytest.param(MP_SAMPLE["encrypt"][:40] + "-_" + MP_SAMPLE["encrypt"][42:], id="urlsafe"),
        pytest.param("é" + MP_SAMPLE["encrypt"][1:], id="non-ascii"),
        pytest.param(MP_SAMPLE["encrypt"] + "AAAA", id="data-after-padding"),
    ],
)
def test_decrypt_rejects_bad_base64(crypto: MessageCrypto, encrypt: str) -> None:
    assert_refused(crypto, encrypt, Base64DecodeError, -40010)


@pytest.mark.parametrize("size", [0, 15, 20, 33, 330], ids=lambda size: f"{size}-bytes")
def test_decrypt_rejects_a_partial_block(crypto: MessageCrypto, size: int) -> None:
    assert_refused(crypto, base64.b64encode(b"\x00" * size).decode(), DecryptError, -40007)


@pytest.mark.parametrize(
    ("position", "bit"),
    [
        # CBC turns a flip in one ciphertext block into the same flip one block later: here the
        # last padding byte (2 becomes 3) and the top byte of the declared length.
        pytest.param(-17, 0x01, id="padding-byte"),
        pytest.param(0, 0x80, id="length-byte"),
    ],
)
def test_decrypt_rejects_a_flipped_ciphertext_byte(
    crypto: MessageCrypto, position: int, bit: int
) -> None:
    raw = bytearray(base64.b64decode(MP_SAMPLE["encrypt"]))
    raw[position] ^= bit
    tampered = base64.b64encode(raw).decode()
    assert_refused(crypto, tampered, IllegalBufferError, -40008)
    # The envelope carries no MAC: a flip inside the message is caught by msg_signature alone.
    assert not signature.verify(
        token=MP_SAMPLE["token"],
        signature=MP_SAMPLE["msg_signature"],
        timestamp=MP_SAMPLE["timestamp"],
        nonce=MP_SAMPLE["nonce"],
        encrypt=tampered,
    )


def padded(buffer: bytes, tail: bytes) -> bytes:
    """``buffer`` filled with zero bytes so that appending ``tail`` ends on a 32-byte boundary."""
    fill = (-(len(buffer) + len(tail))) % 32
    return buffer + b"\x00" * fill + tail


@pytest.mark.parametrize(
    "tail",
    [
        pytest.param(b"\x00", id="padding-byte-0"),
        pytest.param(b"\x21", id="padding-byte-33"),
        pytest.param(b"\xff", id="padding-byte-255"),
        pytest.param(b"\x05\x05\x04\x05\x05", id="inconsistent-padding"),
        pytest.param(b"\x03" * 2 + b"\x04" * 2, id="short-run"),
    ],
)
def test_decrypt_rejects_bad_padding(crypto: MessageCrypto, tail: bytes) -> None:
    assert_refused(crypto, seal_raw(padded(frame(b"hello"), tail)), IllegalBufferError, -40008)


def test_decrypt_rejects_padding_longer_than_the_buffer(crypto: MessageCrypto) -> None:
    assert_refused(crypto, seal_raw(b"\x00" * 15 + b"\x20"), IllegalBufferError, -40008)


def test_decrypt_accepts_hand_made_valid_padding(crypto: MessageCrypto) -> None:
    body = frame(b"hello")
    pad = 32 - len(body) % 32
    assert crypto.decrypt(seal_raw(body + bytes([pad]) * pad)).plaintext == b"hello"


def test_decrypt_rejects_a_buffer_too_short_for_the_header(crypto: MessageCrypto) -> None:
    assert_refused(crypto, seal_raw(b"\x00" * 19 + b"\x0d" * 13), IllegalBufferError, -40008)


@pytest.mark.parametrize("excess", [1, 2**31], ids=["one-byte", "huge"])
def test_decrypt_rejects_a_declared_length_too_large(crypto: MessageCrypto, excess: int) -> None:
    body = frame(b"hello", length=len(b"hello") + len(APP_ID) + excess)
    pad = 32 - len(body) % 32
    assert_refused(crypto, seal_raw(body + bytes([pad]) * pad), IllegalBufferError, -40008)


@pytest.mark.parametrize(
    "receive_id",
    [
        pytest.param("wx0000000000000000", id="other-appid"),
        pytest.param(APP_ID[:-1], id="shorter"),
        pytest.param(APP_ID + "0", id="longer"),
        pytest.param(APP_ID.upper(), id="other-case"),
        pytest.param("", id="empty"),
    ],
)
def test_decrypt_rejects_a_wrong_appid(receive_id: str) -> None:
    sender = MessageCrypto([KEY], receive_id)
    assert_refused(MessageCrypto([KEY], APP_ID), sender.encrypt(b"hi"), AppIdMismatchError, -40005)


# --- key rotation --------------------------------------------------------------------------------


def test_decrypt_falls_back_to_the_previous_key() -> None:
    old = MessageCrypto([PREVIOUS_KEY], APP_ID)
    rotated = MessageCrypto([KEY, PREVIOUS_KEY], APP_ID)
    result = rotated.decrypt(old.encrypt(b"sent before rotation"))
    assert result == Decrypted(b"sent before rotation", 1)
    reply = rotated.encrypt(b"reply", key_index=result.key_index)
    assert old.decrypt(reply).plaintext == b"reply"


def test_decrypt_prefers_the_current_key() -> None:
    rotated = MessageCrypto([KEY, PREVIOUS_KEY], APP_ID)
    assert rotated.decrypt(rotated.encrypt(b"new")) == Decrypted(b"new", 0)


@pytest.mark.parametrize(
    "sender",
    [
        pytest.param(MessageCrypto([OTHER_KEY], APP_ID), id="unknown-key"),
        # The previous key opens this one but finds another AppID; the current key's padding
        # complaint must still win.
        pytest.param(
            MessageCrypto([PREVIOUS_KEY], "wx0000000000000000"), id="previous-key-other-app"
        ),
    ],
)
def test_decrypt_with_no_matching_key_raises_the_current_keys_error(sender: MessageCrypto) -> None:
    encrypt = sender.encrypt(b"who am I", random_prefix=b"0123456789abcdef")
    with pytest.raises(CryptoError) as current_only:
        MessageCrypto([KEY], APP_ID).decrypt(encrypt)
    with pytest.raises(CryptoError) as rotated:
        MessageCrypto([KEY, PREVIOUS_KEY], APP_ID).decrypt(encrypt)
    assert type(rotated.value) is type(current_only.value)
    assert str(rotated.value) == str(current_only.value)
    assert type(rotated.value) is not AppIdMismatchError
