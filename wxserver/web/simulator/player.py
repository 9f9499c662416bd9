"""Plays WeChat's side of one message against the server under test, over HTTP.

The message is signed, and encrypted in the compat and secure modes, by the sans-IO code that
``wxserver simulate`` and the test client use (:mod:`wxserver.protocol.simulate`), and sent on
WeChat's schedule: an attempt waits ``wechat_timeout`` (5 s) for its answer, and while none has
come WeChat sends the message again, three attempts in all, at t, t+5 s and t+10 s, each signed
afresh. Any HTTP answer within the time ends the exchange; a server that cannot be reached at all
ends it at once (WeChat would try twice more, in vain). The answer is read as WeChat reads it
(:func:`~wxserver.protocol.simulate.open_reply`: MsgSignature checked, then decrypted).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from wxserver.protocol.callback import Mode
from wxserver.protocol.errors import WxServerError
from wxserver.protocol.simulate import Account, ReplyResult, open_reply, sign_request
from wxserver.web.simulator.actions import Action
from wxserver.web.simulator.bubbles import Bubble, from_reply
from wxserver.web.simulator.server_log import ServerLog, handler_of

ATTEMPTS = 3
# What the user sees in WeChat when the account did not answer, or answered something broken.
FAILURE_NOTICE = "该公众号暂时无法提供服务，请稍后再试"  # noqa: RUF001 - WeChat's own words
SHOWN_BYTES = 64 * 1024


def _shown(data: bytes) -> str:
    text = data[:SHOWN_BYTES].decode("utf-8", "replace")
    return text + ("…" if len(data) > SHOWN_BYTES else "")


@dataclass
class Attempt:
    """One copy of the message as WeChat sent it, and what came back in time."""

    number: int
    sent_at: float
    query: str
    body: bytes
    elapsed: float | None = None
    status: int | None = None
    answer: bytes = b""
    content_type: str = ""
    received: bool = False
    error: str = ""
    done: threading.Event = field(default_factory=threading.Event)

    def facts(self) -> dict[str, Any]:
        """The attempt for the side panel."""
        return {
            "number": self.number,
            "sent_at_ms": round(self.sent_at * 1000),
            "elapsed_ms": None if self.elapsed is None else round(self.elapsed * 1000, 1),
            "status": self.status,
            "received": self.received,
            "error": self.error,
        }


class Player:
    """Sends the user's messages to the server's callback URL as WeChat does."""

    def __init__(
        self,
        account: Account,
        url: str,
        *,
        wechat_timeout: float = 5.0,
        server_log: ServerLog | None = None,
    ) -> None:
        self.account = account
        self.url = url
        self.timeout = wechat_timeout
        self.server_log = server_log
        # Connections kept open between messages, as WeChat keeps its own.
        self.http = httpx.Client(timeout=httpx.Timeout(wechat_timeout))

    def close(self) -> None:
        """Close the connections to the server."""
        self.http.close()

    def play(self, action: Action, mode: Mode) -> tuple[Bubble, dict[str, Any]]:
        """Send ``action`` in ``mode`` until answered; the reply's bubble and the panel's facts."""
        offset = self.server_log.mark() if self.server_log is not None else 0
        start = time.monotonic()
        answered = threading.Event()
        attempts: list[Attempt] = []
        for number in range(1, ATTEMPTS + 1):
            if answered.wait(max(0.0, start + (number - 1) * self.timeout - time.monotonic())):
                break
            signed = sign_request(self.account, action.xml, mode)
            attempt = Attempt(number, time.monotonic() - start, signed.query_string, signed.body)
            attempts.append(attempt)
            threading.Thread(
                target=self._send, args=(attempt, answered), name="simulator-attempt", daemon=True
            ).start()
        for attempt in attempts:
            attempt.done.wait(self.timeout + 2)
        took = time.monotonic() - start
        bubble, reply = self._read(attempts)
        details: dict[str, Any] = {
            "mode": mode.value,
            "url": self.url,
            "request": {
                "query": attempts[0].query,
                "body": _shown(attempts[0].body),
                "plaintext": _shown(action.xml),
                "encrypted": mode is not Mode.PLAIN,
            },
            "attempts": [attempt.facts() for attempt in attempts],
            "retries": len(attempts) - 1,
            "reply": reply,
            "took_ms": round(took * 1000, 1),
        }
        details.update(self._handler(action, attempts, offset))
        return bubble, details

    def _send(self, attempt: Attempt, answered: threading.Event) -> None:
        began = time.monotonic()
        try:
            response = self.http.post(
                self.url,
                params=attempt.query,
                content=attempt.body,
                headers={"Content-Type": "text/xml"},
            )
        except httpx.TimeoutException:
            attempt.error = f"no answer within {self.timeout:g} s"
        except httpx.HTTPError as exc:
            attempt.error = f"could not reach the server: {exc}"
            answered.set()  # nothing is listening: more attempts would only wait
        else:
            attempt.status = response.status_code
            attempt.answer = response.content
            attempt.content_type = response.headers.get("content-type", "")
            attempt.received = time.monotonic() - began < self.timeout
            if attempt.received:
                answered.set()
            else:
                attempt.error = f"answered after WeChat's {self.timeout:g} s: discarded"
        finally:
            attempt.elapsed = time.monotonic() - began
            attempt.done.set()

    def _read(self, attempts: list[Attempt]) -> tuple[Bubble, dict[str, Any] | None]:
        """The bubble WeChat shows for the exchange, and the reply as received."""
        answer = next((a for a in attempts if a.received), None)
        if answer is None:
            failed = next((a for a in attempts if a.error.startswith("could not")), None)
            if failed is not None:
                return {"kind": "error", "text": f"{failed.error} ({self.url})"}, None
            text = (
                f"No answer within {self.timeout:g} s to any of WeChat's {len(attempts)} "
                f"attempts; WeChat shows: {FAILURE_NOTICE}"
            )
            return {"kind": "error", "text": text}, None
        reply: dict[str, Any] = {
            "status": answer.status,
            "content_type": answer.content_type,
            "body": _shown(answer.answer),
            "plaintext": None,
            "attempt": answer.number,
        }
        if answer.status != 200:
            text = f"The server answered HTTP {answer.status}; WeChat shows: {FAILURE_NOTICE}"
            return {"kind": "error", "text": text, "detail": _shown(answer.answer)[:300]}, reply
        try:
            result: ReplyResult = open_reply(
                self.account, answer.status or 0, answer.answer, answer.content_type
            )
        except WxServerError as exc:
            text = f"WeChat cannot read the reply ({exc}); it shows: {FAILURE_NOTICE}"
            return {"kind": "error", "text": text}, reply
        if result.is_success:
            return {"kind": "none"}, reply
        reply["plaintext"] = _shown(result.xml) if result.encrypted else None
        return from_reply(result.fields), reply

    def _handler(self, action: Action, attempts: list[Attempt], offset: int) -> dict[str, Any]:
        if self.server_log is None:
            return {
                "handler": None,
                "handler_note": "not known: the server's reply does not say; start the "
                "simulator with --server-log FILE (the file the server logs to), as "
                "`make simulate` does",
                "server_log": [],
            }
        reached = sum(1 for a in attempts if not a.error.startswith("could not"))
        lines = self.server_log.find(
            offset,
            msg_id=action.msg_id,
            event=action.event,
            event_key=action.event_key,
            count=reached,
            wait=1.0 if reached else 0.0,
        )
        return {
            "handler": handler_of(lines, reached),
            "handler_note": "from the server's request log line",
            "server_log": [line.text for line in lines],
        }
