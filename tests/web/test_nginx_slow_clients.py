"""Slow clients through a real nginx: a slow upload does not hold gunicorn's worker.

gunicorn runs a single worker, so anything that ties it up shows as a delay to the next message.
nginx buffers a request's body before it passes the request on; without that, the worker would
read the slow body itself.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx

from tests.nginx_server import Nginx, nginx
from tests.servers import gunicorn
from tests.web.nginx_stack import ACCOUNT, ENV, TIMEOUT, address
from wxserver.testing import SignedRequest, build_message, open_reply, sign_request


@dataclass
class SlowUpload:
    """A client that sends a message's body a few bytes every ``step`` seconds."""

    port: int
    signed: SignedRequest
    seconds: float = 2.0
    step: float = 0.1
    started: threading.Event = field(default_factory=threading.Event)
    last_byte_sent_at: float = 0.0
    status: int = 0
    body: bytes = b""
    content_type: str = ""

    def _body(self) -> Iterator[bytes]:
        pieces = round(self.seconds / self.step)
        size = -(-len(self.signed.body) // pieces)
        for start in range(0, len(self.signed.body), size):
            yield self.signed.body[start : start + size]
            self.started.set()
            if start + size >= len(self.signed.body):
                self.last_byte_sent_at = time.monotonic()
            else:
                time.sleep(self.step)

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            connection.request(
                "POST",
                f"/wechat?{self.signed.query_string}",
                body=self._body(),
                headers={"Content-Length": str(len(self.signed.body))},
            )
            response = connection.getresponse()
            self.status, self.body = response.status, response.read()
            self.content_type = response.headers.get("content-type", "")
        finally:
            connection.close()


@dataclass(frozen=True)
class Race:
    fast_latency: float
    fast_sent_at: float
    fast_answered_at: float
    slow: SlowUpload
    fast_content: str | None


def _race(edge: Nginx) -> Race:
    """Start a slow upload, then send a normal message while it is still uploading."""
    slow = SlowUpload(
        edge.http_port, sign_request(ACCOUNT, build_message("text", Content="slow"), "secure")
    )
    thread = threading.Thread(target=slow.run, daemon=True)
    thread.start()
    assert slow.started.wait(TIMEOUT), "the slow client never started sending"
    time.sleep(0.3)
    signed = sign_request(ACCOUNT, build_message("text", Content="fast"), "secure")
    with httpx.Client(timeout=TIMEOUT) as client:
        sent = time.monotonic()
        response = client.post(f"{edge.http_url}/wechat", params=signed.query, content=signed.body)
        answered = time.monotonic()
    thread.join(TIMEOUT)
    assert not thread.is_alive(), "the slow upload did not finish"
    fast = open_reply(
        ACCOUNT, response.status_code, response.content, response.headers["content-type"]
    )
    assert fast.status == 200
    slow_reply = open_reply(ACCOUNT, slow.status, slow.body, slow.content_type)
    assert slow_reply.content == "slow\nseen 1"
    return Race(answered - sent, sent, answered, slow, fast.content)


def test_nginx_slow_upload_does_not_delay_other_messages(edge: Nginx) -> None:
    race = _race(edge)
    print(f"\nfast message during a slow upload, buffered: {race.fast_latency * 1000:.1f} ms")
    assert race.fast_content == "fast\nseen 1"
    # The race was real: the normal message went out with most of the slow body still to come,
    # and was answered while the slow client was still sending.
    assert race.slow.last_byte_sent_at - race.fast_sent_at > 0.5
    assert race.fast_answered_at < race.slow.last_byte_sent_at
    assert race.fast_latency < 1.5


def test_nginx_without_request_buffering_slow_upload_holds_the_worker() -> None:
    # The control: the same race with proxy_request_buffering off, against one sync worker (one
    # request at a time), which reads the slow body itself, so the normal message waits until the
    # slow client is done. This is what the test above would measure if buffering stopped working
    # and gunicorn ran one request per process.
    with (
        gunicorn({**ENV, "WX_WORKER_CLASS": "sync"}, workers=1) as sync_backend,
        nginx(address(sync_backend), request_buffering=False) as unbuffered,
    ):
        race = _race(unbuffered)
    print(f"\nfast message during a slow upload, unbuffered: {race.fast_latency * 1000:.1f} ms")
    assert race.fast_content == "fast\nseen 1"
    # The race was real: the normal message went out with most of the slow body still to come ...
    assert race.slow.last_byte_sent_at - race.fast_sent_at > 0.5
    # ... and was answered only once the slow client had sent its last byte.
    assert race.fast_answered_at >= race.slow.last_byte_sent_at
