"""The fake's HTTP server on 127.0.0.1, and how another process reads its counts."""

from __future__ import annotations

import json
import socket
import threading
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from tests.fakewechat.pay import Raw
from tests.fakewechat.state import Fault

if TYPE_CHECKING:
    from tests.fakewechat.fake import FakeWeChat


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # Hundreds of clients connect at once in the concurrency tests; the default backlog is 5.
    request_queue_size = 2048
    fake: FakeWeChat

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self.open_connections: set[socket.socket] = set()
        self.guard = threading.Lock()
        super().__init__(address, handler)

    def close_all(self) -> None:
        """Close kept-alive connections so their threads end with the server."""
        with self.guard:
            for connection in list(self.open_connections):
                with suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout tests) breaks its pipe: expected, not worth a traceback.
        pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as WeChat's servers and httpx's pool expect
    timeout = 30
    server: Server

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in two writes: without this, Nagle's algorithm holds the body
        # back until the client's delayed ACK, 40 ms later, on every call.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.guard:
            self.server.open_connections.add(self.connection)

    def finish(self) -> None:
        with self.server.guard:
            self.server.open_connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        path, host = url.path, "default"
        if path.startswith("/_host/"):
            _, _, host, rest = path.split("/", 3)
            path = "/" + rest
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        query = dict(parse_qsl(url.query))
        fake = self.server.fake
        if path == "/_fake/stats":
            self._json(200, fake.stats())
            return
        if path == "/_fake/inject":
            spec = json.loads(raw)
            fake.inject(spec.pop("path"), **spec)
            self._json(200, {"ok": True})
            return
        if path.startswith("/v3/") and fake.pay is not None:
            self._raw(fake.pay_request(method, path, self.headers, raw))
            return
        answer = fake.handle(host, method, path, query, raw)
        if isinstance(answer, Fault):
            if answer.kind == "close":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._json(int(answer.value), {"error": "injected status"})
            return
        self._json(200, answer)

    def _raw(self, answer: Raw) -> None:
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def _json(self, status: int, data: Any) -> None:
        body = json.dumps(data, ensure_ascii=False).encode()
        self.send_response(status)
        # WeChat labels its JSON text/plain; the client must not depend on the content type.
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def remote_stats(url: str) -> dict[str, Any]:
    """``FakeWeChat.stats()`` of a fake running in another process."""
    data: dict[str, Any] = httpx.get(f"{url}/_fake/stats", timeout=5).json()
    return data
