"""The callback pipeline: one object owns a request from its query to its answer.

GET: verify the handshake, echo ``echostr``. POST: :meth:`CallbackPipeline.admit` checks what can
be checked before the body is read (signature, timestamp); the route then reads the body, and
:meth:`CallbackPipeline.answer` does the rest: open the envelope (mode, msg_signature, AES) and
parse (:mod:`wxserver.protocol.callback`), refuse a plaintext replay, claim the message and
dispatch it within the reply budget (:mod:`wxserver.services.answering`), render, and seal the
reply in the mode of the request. The answer is one immutable :class:`Result`, which the route
turns into one HTTP response, one log line and one set of metric samples. A check that fails
raises a :class:`~wxserver.protocol.errors.ProtocolError`; :meth:`CallbackPipeline.refused`
turns it into its Result.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Mapping
from typing import NamedTuple, Protocol

from wxserver.protocol.callback import CallbackProtocol
from wxserver.protocol.errors import ProtocolError, ReplayError
from wxserver.protocol.messages import facts
from wxserver.protocol.replies import SUCCESS
from wxserver.services.answering import Answerer
from wxserver.services.config import Account
from wxserver.web.errors import refusal_text

TEXT = "text/plain; charset=utf-8"


class Result(NamedTuple):
    """The answer to one callback request, and what its log line and metrics say of it."""

    status: int
    body: bytes
    content_type: str
    # handshake, reply, success, late, held, handed-off, handler-error, reply-error, or the
    # name of the error that refused the request.
    outcome: str
    mode: str = "-"
    msg_type: str = "-"
    event: str = "-"
    event_key: str = "-"
    msg_id: str = "-"
    handler: str = "-"
    handler_seconds: float | None = None
    duplicate: bool = False
    # The refusal's sentence, for the log line.
    reason: str = ""
    error: ProtocolError | None = None


class Pipeline(Protocol):
    """What a callback route drives: an account's pipeline, or a component's event pipeline."""

    @property
    def account(self) -> Account:
        """The account (or the component's stand-in for one) whose URL this is."""
        ...

    def handshake(self, query: Mapping[str, str], echostr: bytes | None) -> Result:
        """The GET handshake."""
        ...

    def admit(self, query: Mapping[str, str]) -> float:
        """The checks made before a POST's body is read; when the request arrived."""
        ...

    def answer(
        self, arrived: float, query: Mapping[str, str], body: bytes, authorizer: str | None = None
    ) -> Result:
        """The answer to a POSTed body."""
        ...

    def refused(self, error: ProtocolError) -> Result:
        """The answer to a request a check refused."""
        ...


class CallbackPipeline:
    """One account's callback URL: verify, open, parse, claim, dispatch, render, seal."""

    def __init__(
        self,
        protocol: CallbackProtocol,
        answerer: Answerer,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.protocol = protocol
        self.answerer = answerer
        self.clock = clock
        services = answerer.services
        self._store = services.store
        self._replay_prefix = f"replay:{services.name}:"
        self._replay_ttl = max(services.account.timestamp_tolerance, 60)
        # A reply, plaintext or sealed, in the account's format.
        self._content_type = protocol.wire.content_type

    def handshake(self, query: Mapping[str, str], echostr: bytes | None) -> Result:
        """The GET handshake: ``echostr`` back, byte for byte, once the signature holds."""
        return Result(200, self.protocol.handshake(query, echostr, self.clock()), TEXT, "handshake")

    def admit(self, query: Mapping[str, str]) -> float:
        """The checks made before a POST's body is read; returns when the request arrived."""
        arrived = self.clock()
        self.protocol.admit(query, arrived)
        return arrived

    @property
    def account(self) -> Account:
        """The account whose URL this pipeline answers."""
        return self.answerer.services.account

    def answer(
        self, arrived: float, query: Mapping[str, str], body: bytes, authorizer: str | None = None
    ) -> Result:
        """Answer the POSTed ``body`` of a request admitted at ``arrived``; ``authorizer`` is
        the account a component's message is for."""
        message, mode, key_index = self.protocol.open(query, body, authorizer)
        if key_index < 0:
            self._refuse_replay(query, body)
        answer = self.answerer.answer(message, arrived)
        xml = answer.xml
        if not xml:
            body, content_type = SUCCESS, TEXT
        elif key_index < 0:
            body, content_type = xml, self._content_type
        else:
            nonce = secrets.randbits(32)
            body = self.protocol.seal(xml, key_index, int(self.clock()), nonce)
            content_type = self._content_type
        return Result(
            200,
            body,
            content_type,
            answer.outcome,
            mode,
            *facts(message),
            answer.handler,
            answer.handler_seconds,
            answer.duplicate,
        )

    @staticmethod
    def refused(error: ProtocolError) -> Result:
        """The answer to a request a check refused: its status and sentence."""
        return Result(
            error.status,
            refusal_text(error),
            TEXT,
            type(error).__name__,
            reason=str(error),
            error=error,
        )

    def _refuse_replay(self, query: Mapping[str, str], body: bytes) -> None:
        # In plaintext mode the signature covers the query, not the body: a captured query
        # string could carry any body until its timestamp goes stale. The first body seen with
        # a signature is remembered; the same body again is a retry, another one a forgery.
        digest = hashlib.sha256(body).digest()
        key = f"{self._replay_prefix}{query['signature']}:{query['nonce']}"
        if (
            not self._store.add(key, digest, ttl=self._replay_ttl)
            and self._store.get(key) != digest
        ):
            raise ReplayError(
                "this signed query string was already used with another body; refused as a replay"
            )
