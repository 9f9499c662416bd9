"""WeChat Pay's two primitives: SHA256-with-RSA signatures and AEAD_AES_256_GCM resources.

A signature (PKCS#1 v1.5 over SHA-256) covers lines, each ended by ``\\n``: a notification's
``timestamp``, ``nonce`` and ``body``; a merchant request's method, URL path, timestamp, nonce and
body. A resource is encrypted with the merchant's 32-byte APIv3 key, its ``nonce`` and
``associated_data`` as text, and the 16-byte tag appended to the base64 ``ciphertext``.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import string

from Crypto.Cipher import AES
from Crypto.Hash import SHA256
from Crypto.PublicKey import RSA
from Crypto.Signature import pkcs1_15

from wxserver.protocol.pay.errors import PayDecryptError, PayKeyError

__all__ = [
    "apiv3_key",
    "authorization",
    "decrypt_resource",
    "encrypt_resource",
    "new_nonce",
    "sign",
    "signed_message",
    "verify",
]

SCHEMA = "WECHATPAY2-SHA256-RSA2048"
APIV3_KEY_BYTES = 32
TAG_BYTES = 16
_NONCE_ALPHABET = string.ascii_letters + string.digits


def apiv3_key(text: str) -> bytes:
    """The APIv3 key (APIv3密钥) as bytes: 32 characters, set in the merchant console."""
    key = text.encode("utf-8")
    if len(key) != APIV3_KEY_BYTES:
        raise PayKeyError(
            f"an APIv3 key is {APIV3_KEY_BYTES} bytes (32 letters and digits), not {len(key)}"
        )
    return key


def signed_message(*lines: str | bytes) -> bytes:
    """The text a signature covers: each line followed by ``\\n``."""
    return b"".join((line.encode() if isinstance(line, str) else line) + b"\n" for line in lines)


def sign(key: RSA.RsaKey, message: bytes) -> str:
    """The base64 SHA256-with-RSA signature of ``message`` by the private ``key``."""
    return base64.b64encode(pkcs1_15.new(key).sign(SHA256.new(message))).decode("ascii")


def verify(key: RSA.RsaKey, message: bytes, signature: str) -> bool:
    """Whether ``signature`` (base64) is the public ``key``'s signature of ``message``."""
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        pkcs1_15.new(key).verify(SHA256.new(message), raw)
    except (ValueError, TypeError):
        return False
    return True


def authorization(
    mch_id: str,
    serial_no: str,
    key: RSA.RsaKey,
    request: tuple[str, str, bytes],
    *,
    timestamp: int,
    nonce: str,
) -> str:
    """The Authorization header of a merchant API request (method, URL path, body).

    The merchant signs ``method\npath\ntimestamp\nnonce\nbody\n`` with its API private key;
    ``serial_no`` names the merchant API certificate (商户API证书) holding the public half.
    """
    method, path, body = request
    signature = sign(key, signed_message(method, path, str(timestamp), nonce, body))
    return (
        f'{SCHEMA} mchid="{mch_id}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )


def new_nonce(length: int = 32) -> str:
    """A random nonce of letters and digits (WeChat Pay's own are 12 to 32 characters)."""
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(length))


def decrypt_resource(key: bytes, nonce: str, associated_data: str, ciphertext: str) -> bytes:
    """The plaintext of a resource; PayDecryptError unless it authenticates with ``key``."""
    try:
        sealed = base64.b64decode(ciphertext, validate=True)
    except (binascii.Error, ValueError):
        raise PayDecryptError("the resource's ciphertext is not valid base64") from None
    if len(sealed) < TAG_BYTES:
        raise PayDecryptError("the resource's ciphertext is shorter than its 16-byte tag")
    if not nonce:
        raise PayDecryptError("the resource has no nonce")
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce.encode("utf-8"))
    cipher.update(associated_data.encode("utf-8"))
    try:
        return cipher.decrypt_and_verify(sealed[:-TAG_BYTES], sealed[-TAG_BYTES:])
    except ValueError:
        raise PayDecryptError(
            "the resource does not authenticate with the APIv3 key: the ciphertext, nonce or "
            "associated_data was altered, or WX_PAY_APIV3_KEY differs from the merchant console's"
        ) from None


def encrypt_resource(key: bytes, nonce: str, associated_data: str, plaintext: bytes) -> str:
    """``plaintext`` encrypted as WeChat Pay does: base64 of the ciphertext and its tag."""
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce.encode("utf-8"))
    cipher.update(associated_data.encode("utf-8"))
    sealed, tag = cipher.encrypt_and_digest(plaintext)
    return base64.b64encode(sealed + tag).decode("ascii")
