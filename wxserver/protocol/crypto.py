"""The AES envelope of compatible and safe mode (WXBizMsgCrypt), for Official Accounts and WeCom.

The plaintext is ``random(16) ‖ uint32_be(len(msg)) ‖ msg ‖ receive_id``, padded PKCS#7-style to a
multiple of 32 bytes, encrypted with AES-256-CBC whose IV is the first 16 bytes of the key, and
base64-encoded. ``receive_id`` is the AppID for an Official Account and the CorpID (or SuiteID, or
``""``) for WeCom; nothing else differs.

Decryption checks every field before slicing and raises the error class, with the official code,
of the first check that fails. An account keeps its current and previous EncodingAESKey; both are
tried, and the index of the one that worked tells the caller which key to encrypt the reply with.
"""

from __future__ import annotations

import binascii
import hmac
import os
import string
from collections.abc import Sequence
from dataclasses import dataclass, field

from wxserver.protocol.cbc import RunningCbc
from wxserver.protocol.errors import (
    AppIdMismatchError,
    Base64DecodeError,
    CryptoError,
    DecryptError,
    EncryptError,
    IllegalAesKeyError,
    IllegalBufferError,
)

__all__ = ["AesKey", "Decrypted", "MessageCrypto"]

_BLOCK = 16
_PAD_TO = 32
_PREFIX_LEN = 16
_HEADER_LEN = _PREFIX_LEN + 4
_MAX_MESSAGE = 0xFFFFFFFF
_ENCODING_AES_KEY_LEN = 43
_PADDINGS = tuple(bytes([k]) * k for k in range(_PAD_TO + 1))

# Maps any byte to a letter or digit, so one call to the CSPRNG yields the whole prefix. The eight
# characters hit five times instead of four cost a fraction of a bit per character; the prefix only
# has to be unpredictable and practically never repeat, which 95 bits of entropy give.
_ALNUM = (string.ascii_letters + string.digits).encode("ascii")
_ALNUM_TABLE = bytes(_ALNUM[i % len(_ALNUM)] for i in range(256))


@dataclass(frozen=True, slots=True, repr=False)
class AesKey:
    """One AES-256 key derived from an EncodingAESKey, with the per-key work done once."""

    key: bytes
    iv: bytes = field(init=False, compare=False)
    _encryptor: RunningCbc = field(init=False, compare=False)
    _decryptor: RunningCbc = field(init=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise IllegalAesKeyError(
                f"An AES-256 key must be 32 bytes long, but {len(self.key)} bytes were given."
            )
        object.__setattr__(self, "iv", self.key[:_BLOCK])
        object.__setattr__(self, "_encryptor", RunningCbc(self.key, self.iv, decrypting=False))
        object.__setattr__(self, "_decryptor", RunningCbc(self.key, self.iv, decrypting=True))

    @classmethod
    def from_encoding_aes_key(cls, value: str) -> AesKey:
        """Parse the 43-character EncodingAESKey shown in the MP console."""
        if len(value) != _ENCODING_AES_KEY_LEN:
            raise IllegalAesKeyError(
                f"An EncodingAESKey must be exactly 43 characters long, but this one has "
                f"{len(value)}; copy it again from the console, without spaces or quotes."
            )
        if not (value.isascii() and value.isalnum()):
            raise IllegalAesKeyError(
                "An EncodingAESKey may contain only the letters A-Z and a-z and the digits 0-9, "
                "but this one contains another character; copy it again from the console."
            )
        try:
            key = binascii.a2b_base64(value + "=", strict_mode=True)
        except ValueError:
            key = b""
        if len(key) != 32:
            raise IllegalAesKeyError(
                "This EncodingAESKey does not base64-decode to a 32-byte AES key; copy it again "
                "from the console."
            )
        return cls(key)

    def cbc_encrypt(self, data: bytes) -> bytes:
        """Encrypt whole blocks with AES-256-CBC, this key and its IV; no padding is added."""
        return self._encryptor.run(data)

    def cbc_decrypt(self, data: bytes) -> bytes:
        """Decrypt whole blocks with AES-256-CBC, this key and its IV; no padding is removed."""
        return self._decryptor.run(data)

    def __repr__(self) -> str:
        return "AesKey(<hidden>)"

    def __reduce__(self) -> tuple[type[AesKey], tuple[bytes]]:
        # The cached cipher object cannot be pickled or copied; rebuild it from the key instead.
        return (AesKey, (self.key,))


@dataclass(frozen=True, slots=True)
class Decrypted:
    """The message inside an envelope and which key opened it (0 current, 1 previous, ...)."""

    plaintext: bytes
    key_index: int


class MessageCrypto:
    """Opens and builds the AES envelopes of one account (AppID) or WeCom receiver (CorpID)."""

    __slots__ = ("_keys", "_receive_id", "_receive_id_bytes")

    def __init__(self, encoding_aes_keys: Sequence[str], receive_id: str) -> None:
        if isinstance(encoding_aes_keys, str):
            raise TypeError(
                "MessageCrypto takes a sequence of EncodingAESKeys (current first, then previous), "
                "not a single string; wrap the key in a list."
            )
        keys: list[AesKey] = []
        for index, value in enumerate(encoding_aes_keys):
            try:
                keys.append(AesKey.from_encoding_aes_key(value))
            except IllegalAesKeyError as exc:
                which = "current" if index == 0 else f"previous #{index}"
                raise IllegalAesKeyError(f"The {which} EncodingAESKey is invalid: {exc}") from None
        if not keys:
            raise IllegalAesKeyError(
                "No EncodingAESKey was given; compatible and safe mode need at least the current "
                "key from the console."
            )
        self._keys = tuple(keys)
        self._receive_id = receive_id
        self._receive_id_bytes = receive_id.encode("utf-8")

    @property
    def keys(self) -> tuple[AesKey, ...]:
        """The parsed keys, current first."""
        return self._keys

    @property
    def receive_id(self) -> str:
        """The AppID (or WeCom CorpID) that must close every plaintext."""
        return self._receive_id

    def __repr__(self) -> str:
        return f"MessageCrypto(receive_id={self._receive_id!r}, keys={len(self._keys)})"

    def decrypt(self, encrypt: str) -> Decrypted:
        """Open the base64 ``Encrypt`` text, trying the current key first, then older ones.

        When no key opens it, the error is the one the current key produced: an old key yields
        garbage, and its complaint would only mislead.
        """
        try:
            ciphertext = binascii.a2b_base64(encrypt, strict_mode=True)
        except ValueError:
            raise Base64DecodeError(
                "The Encrypt value is not valid base64 (wrong character, padding or length)."
            ) from None
        if not ciphertext or len(ciphertext) % _BLOCK:
            raise DecryptError(
                f"The Encrypt value decodes to {len(ciphertext)} bytes, which is not a non-zero "
                f"multiple of the {_BLOCK}-byte AES block."
            )
        failures: list[CryptoError] = []
        for index, key in enumerate(self._keys):
            try:
                return Decrypted(self._open(key, ciphertext), index)
            except CryptoError as exc:
                failures.append(exc)
        raise failures[0]

    def _open(self, key: AesKey, ciphertext: bytes) -> bytes:
        try:
            buffer = key.cbc_decrypt(ciphertext)
        except ValueError as exc:
            raise DecryptError("AES-256-CBC decryption of the Encrypt value failed.") from exc
        size = len(buffer)
        pad = buffer[-1]
        if not 1 <= pad <= min(_PAD_TO, size) or not buffer.endswith(_PADDINGS[pad]):
            raise IllegalBufferError(
                "The decrypted buffer does not end in valid padding (1 to 32 bytes, each equal to "
                "the padding length); the message was encrypted with another key or altered."
            )
        end = size - pad
        if end < _HEADER_LEN:
            raise IllegalBufferError(
                "The decrypted buffer is too short to hold the 16-byte random prefix and the "
                "4-byte message length."
            )
        length = int.from_bytes(buffer[_PREFIX_LEN:_HEADER_LEN], "big")
        if length > end - _HEADER_LEN:
            raise IllegalBufferError(
                f"The decrypted buffer declares a {length}-byte message but only "
                f"{end - _HEADER_LEN} bytes follow the header."
            )
        stop = _HEADER_LEN + length
        if not hmac.compare_digest(buffer[stop:end], self._receive_id_bytes):
            raise AppIdMismatchError(
                "The receive id at the end of the decrypted message differs from the configured "
                "AppID (CorpID for WeCom); the message is meant for another account."
            )
        return buffer[_HEADER_LEN:stop]

    def encrypt(
        self,
        plaintext: bytes,
        *,
        key_index: int = 0,
        random_prefix: bytes | None = None,
    ) -> str:
        """Build the base64 ``Encrypt`` text for ``plaintext`` with the key at ``key_index``.

        ``random_prefix`` exists for known-answer tests; leave it out so every envelope gets a
        fresh one, as the protocol requires.
        """
        if random_prefix is None:
            random_prefix = os.urandom(_PREFIX_LEN).translate(_ALNUM_TABLE)
        elif len(random_prefix) != _PREFIX_LEN:
            raise ValueError(f"random_prefix must be exactly {_PREFIX_LEN} bytes long.")
        if not 0 <= key_index < len(self._keys):
            raise ValueError(
                f"key_index must name one of the {len(self._keys)} configured keys, "
                f"not {key_index}."
            )
        length = len(plaintext)
        if length > _MAX_MESSAGE:
            raise EncryptError("A message longer than 4 GiB cannot be encrypted.")
        size = _HEADER_LEN + length + len(self._receive_id_bytes)
        buffer = b"".join(
            (
                random_prefix,
                length.to_bytes(4, "big"),
                plaintext,
                self._receive_id_bytes,
                _PADDINGS[_PAD_TO - size % _PAD_TO],
            )
        )
        try:
            ciphertext = self._keys[key_index].cbc_encrypt(buffer)
        except ValueError as exc:
            raise EncryptError("AES-256-CBC encryption of the reply failed.") from exc
        return binascii.b2a_base64(ciphertext, newline=False).decode("ascii")
