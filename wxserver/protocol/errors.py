"""Every error wxserver raises, rooted in one base class.

Protocol errors carry the HTTP status the web layer answers with, so the mapping from error
to response lives in one place (``views/errors.py``) and reads the class, never the message.
Crypto errors also carry the code of the official WXBizMsgCrypt samples (-40001 ... -40011), so
a log line can be matched against the platform's documentation.
"""

from __future__ import annotations

from typing import ClassVar


class WxServerError(Exception):
    """Base class of every error raised by wxserver."""


# --- configuration and start-up ---------------------------------------------------------------


class ConfigError(WxServerError):
    """The configuration is invalid; the message names the key and how to fix it."""

    def __init__(self, key: str, problem: str, fix: str) -> None:
        self.key = key
        self.problem = problem
        self.fix = fix
        super().__init__(f"{key}: {problem}." + (f" {fix}" if fix else ""))


class PluginError(WxServerError):
    """A handler set named in the configuration or an entry point could not be loaded."""


# --- inbound requests -------------------------------------------------------------------------


class ProtocolError(WxServerError):
    """A request does not follow the callback protocol; answered with ``status``."""

    status: ClassVar[int] = 400


class MissingParameterError(ProtocolError):
    """A required query parameter (signature, timestamp, nonce, echostr ...) is absent."""

    status = 400


class SignatureError(ProtocolError):
    """``signature`` or ``msg_signature`` does not match (official code -40001)."""

    status = 403
    code: ClassVar[int] = -40001


class StaleRequestError(ProtocolError):
    """The request's timestamp lies outside the configured tolerance."""

    status = 403


class ReplayError(ProtocolError):
    """A plaintext request reused a signed query string with another body."""

    status = 403


class DowngradeError(ProtocolError):
    """A plaintext body reached an account configured for secure mode."""

    status = 403


class ForbiddenAddressError(ProtocolError):
    """The caller's address is outside WeChat's callback IP list (WX_CALLBACK_IP_ALLOWLIST)."""

    status = 403


class BodyTooLargeError(ProtocolError):
    """The request body exceeds the configured limit."""

    status = 413


class XmlError(ProtocolError):
    """The body is not well-formed UTF-8 XML, declares a DOCTYPE or entity, or lacks a field."""

    status = 400
    code: ClassVar[int] = -40002


class JsonError(XmlError):
    """The body is not the JSON object WeChat sends: malformed, not UTF-8, a duplicate key, nested
    too deep, a number too long, or another top level. A parse error as XmlError is (-40002)."""


class CryptoError(ProtocolError):
    """The AES envelope could not be opened or built; ``code`` is the official sample's code."""

    status = 400
    code: ClassVar[int] = -40007


class IllegalAesKeyError(CryptoError):
    """An EncodingAESKey is not 43 characters decoding to 32 bytes (-40004)."""

    code = -40004


class AppIdMismatchError(CryptoError):
    """The AppID (or WeCom receive id) at the end of the plaintext differs (-40005)."""

    code = -40005


class EncryptError(CryptoError):
    """AES encryption of a reply failed (-40006)."""

    code = -40006


class DecryptError(CryptoError):
    """AES decryption failed: the ciphertext is not a whole number of blocks (-40007)."""

    code = -40007


class IllegalBufferError(CryptoError):
    """The decrypted buffer is malformed: bad padding or declared length (-40008)."""

    code = -40008


class Base64DecodeError(CryptoError):
    """``Encrypt`` is not valid base64 (-40010)."""

    code = -40010


# --- handler authors --------------------------------------------------------------------------


class ReplyError(WxServerError):
    """A handler returned a reply that WeChat would not deliver (for example two news articles)."""


class HandlerError(WxServerError):
    """A handler returned something that is not a reply, a str, None or NoReply."""
