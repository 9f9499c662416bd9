"""SHA-1 signatures of the callback protocol and of the JS-SDK.

WeChat signs every callback with ``signature`` (over the token, timestamp and nonce) and, in
compatible and safe mode, also with ``msg_signature`` (the same parts plus the ``Encrypt`` text as
received). Both are the SHA-1 of the parts sorted as plain strings and joined without a separator.
The JS-SDK signature is a different construction: the SHA-1 of a fixed query-string template.

Comparisons use :func:`hmac.compare_digest` so that a forger learns nothing from response timing.
"""

from __future__ import annotations

import hashlib
import hmac

from wxserver.protocol.errors import SignatureError

__all__ = ["check", "jsapi_signature", "sign", "verify"]


def _sha1_hex(text: str) -> str:
    # SHA-1 is what the platform mandates for these signatures; there is no choice to make here.
    return hashlib.sha1(text.encode("utf-8")).hexdigest()  # noqa: S324


def sign(*parts: str) -> str:
    """Return the lowercase hex SHA-1 of ``parts`` sorted as plain strings and concatenated.

    Python orders strings by code point, which is also the byte order of their UTF-8 encoding, so
    the result matches the official samples' byte-wise sort even for non-ASCII parts.
    """
    return _sha1_hex("".join(sorted(parts)))


def verify(
    *,
    token: str,
    signature: str,
    timestamp: str,
    nonce: str,
    encrypt: str | None = None,
) -> bool:
    """Tell whether ``signature`` signs the request; pass ``encrypt`` to check ``msg_signature``.

    Any malformed signature (wrong length, upper case, non-ASCII) is simply not a match.
    """
    expected = (
        sign(token, timestamp, nonce) if encrypt is None else sign(token, timestamp, nonce, encrypt)
    )
    # compare_digest takes ASCII text as it is, and refuses other text.
    return signature.isascii() and hmac.compare_digest(expected, signature)


def check(
    *,
    token: str,
    signature: str,
    timestamp: str,
    nonce: str,
    encrypt: str | None = None,
) -> None:
    """Raise :class:`SignatureError` unless :func:`verify` accepts the same arguments."""
    if verify(token=token, signature=signature, timestamp=timestamp, nonce=nonce, encrypt=encrypt):
        return
    if encrypt is None:
        raise SignatureError(
            "The signature query parameter does not match the SHA-1 of the token, timestamp and "
            "nonce; either the request did not come from WeChat or the Token configured here "
            "differs from the one in the MP console."
        )
    raise SignatureError(
        "The msg_signature query parameter does not match the SHA-1 of the token, timestamp, "
        "nonce and Encrypt; either the request did not come from WeChat or the Token configured "
        "here differs from the one in the MP console."
    )


def jsapi_signature(*, ticket: str, noncestr: str, timestamp: str | int, url: str) -> str:
    """Return the ``signature`` for ``wx.config`` of the page at ``url``.

    The platform signs the page URL without its ``#fragment`` and with every value raw (no
    URL-escaping); ``noncestr`` and ``timestamp`` must be the ones passed to ``wx.config``.
    """
    page_url = url.split("#", 1)[0]
    return _sha1_hex(
        f"jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={page_url}"
    )
