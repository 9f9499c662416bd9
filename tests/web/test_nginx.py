"""End to end through a real nginx (config/nginx/) to a real gunicorn (config/gunicorn.conf.py).

gunicorn runs a single sync worker, so anything that ties a worker up shows as a delay to the
next message. nginx listens on 127.0.0.1 with free ports standing in for 80 and 443.
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import nginx_server
from tests.nginx_server import Nginx, site_directive
from tests.servers import Server
from tests.web.nginx_stack import ACCOUNT, TIMEOUT, address
from wxserver.services.config import DEFAULTS
from wxserver.testing import build_message, open_reply, sign_handshake, sign_request

# The tail of the seeds' log format: "$upstream_addr" "$upstream_status" "$request_time"
# "$upstream_response_time".
LOG_TAIL = re.compile(
    r'"(?P<upstream_addr>[^"]*)" "(?P<upstream_status>[^"]*)" '
    r'"(?P<request_time>[^"]*)" "(?P<upstream_response_time>[^"]*)"$'
)
SECONDS = re.compile(r"\d+\.\d{3}")


class BackendLog:
    """gunicorn's access log (its stdout), read without blocking while it runs."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        self.fd = process.stdout.fileno()
        self.text = ""

    def read(self) -> str:
        """Everything logged so far."""
        os.set_blocking(self.fd, False)
        try:
            while True:
                try:
                    data = os.read(self.fd, 65536)
                except BlockingIOError:
                    break
                if not data:
                    break
                self.text += data.decode("utf-8", errors="replace")
        finally:
            os.set_blocking(self.fd, True)
        return self.text

    def wait_for(self, fragment: str, timeout: float = 5.0) -> str:
        """The first log line containing ``fragment``, waiting for it up to ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.read().splitlines():
                if fragment in line:
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(f"gunicorn never logged {fragment!r}:\n{self.text[-2000:]}")
            time.sleep(0.05)


@pytest.fixture(scope="module")
def backend_log(backend: Server) -> BackendLog:
    return BackendLog(backend.process)


def _base(edge: Nginx, scheme: str) -> str:
    return edge.https_url if scheme == "https" else edge.http_url


def _client(edge: Nginx) -> httpx.Client:
    return httpx.Client(verify=edge.ssl_context(), timeout=TIMEOUT)


def _marker() -> str:
    return f"wxtest-{secrets.token_hex(6)}"


def _log_line(edge: Nginx, fragment: str, timeout: float = 5.0) -> str:
    """The nginx access log line containing ``fragment`` (nginx writes it once the reply is out)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in edge.access_lines() if fragment in line]
        if lines:
            assert len(lines) == 1, lines
            return lines[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"nginx never logged {fragment!r}")
        time.sleep(0.05)


def _tail(line: str) -> dict[str, str]:
    found = LOG_TAIL.search(line)
    assert found is not None, f"not in the seeds' log format: {line}"
    return found.groupdict()


# --- the configuration agrees with the app and with gunicorn (no nginx needed) ------------------


def test_nginx_body_limit_matches_the_app_default() -> None:
    value = site_directive("client_max_body_size")
    assert value.endswith("k")
    assert int(value[:-1]) * 1024 == DEFAULTS["max_body_size"]


# --- the callback through nginx ----------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_nginx_handshake(edge: Nginx, scheme: str) -> None:
    with _client(edge) as client:
        response = client.get(
            f"{_base(edge, scheme)}/wechat", params=sign_handshake(ACCOUNT, "echo-via-nginx")
        )
    assert response.status_code == 200
    assert response.content == b"echo-via-nginx"


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_nginx_secure_message_gets_encrypted_reply(edge: Nginx, scheme: str) -> None:
    signed = sign_request(ACCOUNT, build_message("text", Content=f"via {scheme}"), "secure")
    with _client(edge) as client:
        response = client.post(
            f"{_base(edge, scheme)}/wechat", params=signed.query, content=signed.body
        )
    result = open_reply(
        ACCOUNT, response.status_code, response.content, response.headers["content-type"]
    )
    assert result.status == 200
    assert result.encrypted
    assert result.content == f"via {scheme}\nseen 1"


def _tls_handshake(
    edge: Nginx, context: ssl.SSLContext, session: ssl.SSLSession | None = None
) -> tuple[str, bool, ssl.SSLSession | None]:
    with (
        socket.create_connection(("127.0.0.1", edge.https_port), timeout=TIMEOUT) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1", session=session) as tls,
    ):
        tls.sendall(b"GET /wechat HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert tls.recv(64).startswith(b"HTTP/1.1 ")
        cipher = tls.cipher()
        assert cipher is not None
        return cipher[0], bool(tls.session_reused), tls.session


def test_nginx_tls12_uses_forward_secret_aead_and_resumes_sessions(edge: Nginx) -> None:
    context = edge.ssl_context()
    # TLS 1.2, where resumption comes from nginx's session cache (tickets are off).
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    cipher, reused, session = _tls_handshake(edge, context)
    assert cipher.startswith("ECDHE-")
    assert "GCM" in cipher or "CHACHA20" in cipher
    assert not reused
    _, reused_again, _ = _tls_handshake(edge, context, session)
    assert reused_again


def test_nginx_tls13_is_offered(edge: Nginx) -> None:
    with (
        socket.create_connection(("127.0.0.1", edge.https_port), timeout=TIMEOUT) as raw,
        edge.ssl_context().wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() == "TLSv1.3"


def test_nginx_http_serves_acme_challenge_from_the_webroot(edge: Nginx) -> None:
    token = secrets.token_urlsafe(16)
    challenge = edge.webroot / ".well-known" / "acme-challenge" / token
    challenge.write_text(f"{token}.account-thumbprint")
    with _client(edge) as client:
        found = client.get(
            f"{edge.http_url}/.well-known/acme-challenge/{token}", headers={"User-Agent": token}
        )
        missing = client.get(f"{edge.http_url}/.well-known/acme-challenge/absent-{len(token)}")
    assert found.status_code == 200
    assert found.text == f"{token}.account-thumbprint"
    assert found.headers["content-type"] == "text/plain"
    # Read from disk: gunicorn never saw it.
    tail = _tail(_log_line(edge, token))
    assert (tail["upstream_addr"], tail["upstream_status"]) == ("-", "-")
    assert missing.status_code == 404


def test_nginx_http_passes_the_callback_without_redirect(edge: Nginx) -> None:
    with _client(edge) as client:
        response = client.get(f"{edge.http_url}/wechat", params=sign_handshake(ACCOUNT, "plain80"))
    assert response.status_code == 200
    assert response.content == b"plain80"
    assert not response.history


def test_nginx_http_redirects_other_paths_to_https(edge: Nginx) -> None:
    with _client(edge) as client:
        plain = client.get(f"{edge.http_url}/somewhere?a=1")
        secure = client.get(f"{edge.https_url}/somewhere?a=1")
    assert plain.status_code == 301
    assert plain.headers["location"] == "https://127.0.0.1/somewhere?a=1"
    # Over https the same path is proxied: the app answers (it has no such page).
    assert secure.status_code == 404
    assert "Strict-Transport-Security" in secure.headers
    assert "Strict-Transport-Security" not in plain.headers


def test_nginx_sets_forwarded_headers_over_the_clients_own(
    edge: Nginx, backend_log: BackendLog
) -> None:
    for scheme in ("https", "http"):
        marker = _marker()
        with _client(edge) as client:
            client.get(
                f"{_base(edge, scheme)}/wechat/{marker}",
                headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"},
            )
        line = backend_log.wait_for(f"/wechat/{marker}")
        # gunicorn's access log: peer, X-Forwarded-For, X-Forwarded-Proto, request, ...
        peer, forwarded_for, proto = line.split()[:3]
        assert (peer, forwarded_for, proto) == ("127.0.0.1", "127.0.0.1", scheme), line


# --- what nginx keeps away from gunicorn -------------------------------------------------------


def _chunks(body: bytes, size: int = 4096) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_nginx_refuses_oversized_body_before_gunicorn(
    edge: Nginx, backend_log: BackendLog, chunked: bool
) -> None:
    limit = DEFAULTS["max_body_size"]
    signed = sign_request(ACCOUNT, build_message("text", Content="x" * limit), "secure")
    assert len(signed.body) > limit
    before, oversized, after = _marker(), _marker(), _marker()
    with _client(edge) as client:
        client.post(f"{edge.https_url}/wechat/{before}", content=b"<xml/>")
        backend_log.wait_for(f"/wechat/{before}")
        content = _chunks(signed.body) if chunked else signed.body
        response = client.post(
            f"{edge.https_url}/wechat/{oversized}", params=signed.query, content=content
        )
        client.post(f"{edge.https_url}/wechat/{after}", content=b"<xml/>")
    assert response.status_code == 413
    # One sync worker answers in order: once the request sent after it is logged, the oversized
    # one would have been logged too, had it reached gunicorn.
    backend_log.wait_for(f"/wechat/{after}")
    assert f"/wechat/{oversized}" not in backend_log.read()
    tail = _tail(_log_line(edge, f"/wechat/{oversized}"))
    assert (tail["upstream_addr"], tail["upstream_status"]) == ("-", "-")


def test_nginx_body_at_the_limit_passes(edge: Nginx) -> None:
    # nginx and the app agree on the boundary: exactly max_body_size bytes is accepted by both.
    limit = DEFAULTS["max_body_size"]
    signed = sign_request(ACCOUNT, build_message("text", Content="y"), "secure")
    head, tail = signed.body.split(b"</xml>")
    body = head + b"<Pad>" + b"z" * (limit - len(signed.body) - 11) + b"</Pad></xml>" + tail
    assert len(body) == limit
    with _client(edge) as client:
        response = client.post(f"{edge.https_url}/wechat", params=signed.query, content=body)
    result = open_reply(
        ACCOUNT, response.status_code, response.content, response.headers["content-type"]
    )
    assert result.status == 200
    assert result.content == "y\nseen 1"


INTERNAL_PATHS = [
    "/internal/token",
    "/internal",
    "//internal/token",
    "/%69nternal/token",
    "/wechat/../internal/token",
]


@pytest.mark.parametrize("scheme", ["https", "http"])
@pytest.mark.parametrize("path", INTERNAL_PATHS)
def test_nginx_internal_paths_are_404_without_reaching_gunicorn(
    edge: Nginx, scheme: str, path: str
) -> None:
    marker = _marker()
    # http.client sends the path exactly as written: no normalization on the client side.
    connection: http.client.HTTPConnection = (
        http.client.HTTPSConnection(
            "127.0.0.1", edge.https_port, context=edge.ssl_context(), timeout=TIMEOUT
        )
        if scheme == "https"
        else http.client.HTTPConnection("127.0.0.1", edge.http_port, timeout=TIMEOUT)
    )
    try:
        connection.request("GET", path, headers={"User-Agent": marker})
        status = connection.getresponse().status
    finally:
        connection.close()
    assert status == 404
    tail = _tail(_log_line(edge, marker))
    assert (tail["upstream_addr"], tail["upstream_status"]) == ("-", "-")


# --- the access log ----------------------------------------------------------------------------


def test_nginx_access_log_has_request_and_upstream_times(edge: Nginx, backend: Server) -> None:
    marker = _marker()
    signed = sign_request(ACCOUNT, build_message("text", Content="logged"), "secure")
    with _client(edge) as client:
        response = client.post(
            f"{edge.https_url}/wechat",
            params=signed.query,
            content=signed.body,
            headers={"User-Agent": marker},
        )
    assert response.status_code == 200
    line = _log_line(edge, marker)
    tail = _tail(line)
    assert SECONDS.fullmatch(tail["request_time"]), line
    assert SECONDS.fullmatch(tail["upstream_response_time"]), line
    # gunicorn's share is part of the whole; nginx times the two from different clock readings
    # rounded to the millisecond, so the share may show up to a millisecond more.
    assert float(tail["upstream_response_time"]) <= float(tail["request_time"]) + 0.0015
    assert tail["upstream_addr"] == address(backend)
    assert tail["upstream_status"] == "200"
    assert '"POST /wechat HTTP/1.1" 200 ' in line
    # The query string (openid, signatures) stays out of the log.
    assert signed.query["openid"] not in line
    assert signed.query["msg_signature"] not in line


def test_nginx_missing_binary_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.setattr(nginx_server, "FALLBACK_PATHS", (tmp_path / "absent",))
    with pytest.raises(RuntimeError, match="apt-get install -y nginx"):
        nginx_server.nginx_binary()
