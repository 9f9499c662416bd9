"""A real nginx on 127.0.0.1, configured from config/nginx/, for end-to-end tests.

The test configuration is generated from the production files: only the listen ports, the
upstream address, the certificate, the log, pid and temp paths and the host's include folders
are swapped. Every swap must find its text exactly once, so a change to the production files
that these tests would silently stop exercising fails loudly here instead.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.servers import ROOT, free_port

SITE = ROOT / "config" / "nginx" / "wxserver.conf"
MAIN = ROOT / "config" / "nginx" / "nginx.conf"
INSTALL_HINT = (
    "nginx is not installed; the end-to-end tests run a real nginx. Install Debian's package: "
    "apt-get update && apt-get install -y nginx"
)
# Where Debian puts nginx, which is not on the PATH of a non-root user.
FALLBACK_PATHS = (Path("/usr/sbin/nginx"), Path("/sbin/nginx"))
# The directories nginx would otherwise create under /var/lib/nginx, which needs root.
TEMP_PATHS = (
    "client_body_temp_path",
    "proxy_temp_path",
    "fastcgi_temp_path",
    "uwsgi_temp_path",
    "scgi_temp_path",
)


def nginx_binary() -> str:
    """The nginx executable, or a RuntimeError that says how to install it."""
    found = shutil.which("nginx") or next(
        (str(path) for path in FALLBACK_PATHS if path.is_file()), None
    )
    if found is None:
        raise RuntimeError(INSTALL_HINT)
    return found


def _directives(text: str) -> str:
    # Comments may mention the very values that are swapped; only directives count.
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def _swap(text: str, old: str, new: str, *, source: Path) -> str:
    count = text.count(old)
    if count != 1:
        raise ValueError(
            f"{source.relative_to(ROOT)} should contain {old!r} exactly once (found {count}); "
            "tests/nginx_server.py replaces it with the test's value"
        )
    return text.replace(old, new)


# Where the site reads the certificate and serves the challenge files from: the test puts them
# at the same paths inside its own prefix, as an admin puts them at these.
CERTIFICATE = "/etc/ssl/wxserver/fullchain.pem"
CERTIFICATE_KEY = "/etc/ssl/wxserver/privkey.pem"
WEBROOT = "/var/www/acme"


def render_site(
    source: str,
    *,
    http_port: int,
    https_port: int,
    upstream: str,
    root: Path,
    access_log: Path,
    error_log: Path,
    request_buffering: bool = True,
) -> str:
    """config/nginx/wxserver.conf with the test's ports, upstream and logs, and its certificate
    and webroot paths inside ``root``."""
    swaps = [
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"),
        ("server 127.0.0.1:8000;", f"server {upstream};"),
        (f" {CERTIFICATE};", f" {root}{CERTIFICATE};"),
        (f" {CERTIFICATE_KEY};", f" {root}{CERTIFICATE_KEY};"),
        (f"root {WEBROOT};", f"root {root}{WEBROOT};"),
        ("/var/log/nginx/wxserver.access.log ", f"{access_log} "),
        ("/var/log/nginx/wxserver.error.log ", f"{error_log} "),
    ]
    if not request_buffering:
        swaps.append(("proxy_request_buffering on;", "proxy_request_buffering off;"))
    source = _directives(source)
    for old, new in swaps:
        source = _swap(source, old, new, source=SITE)
    for production_only in ("/var/log/", ":8000"):
        if production_only in source:
            raise ValueError(f"{SITE.relative_to(ROOT)}: {production_only!r} was not swapped")
    return source


def render_main(source: str, *, prefix: Path, site: Path) -> str:
    """config/nginx/nginx.conf with its paths inside ``prefix`` and ``site`` as the only site."""
    temp_paths = "".join(f"\n    {name} {prefix / name};" for name in TEMP_PATHS)
    swaps = [
        ("pid /run/nginx.pid;", f"pid {prefix / 'nginx.pid'};"),
        ("error_log /var/log/nginx/error.log ", f"error_log {prefix / 'main-error.log'} "),
        # The host's own modules and snippets are not part of what is tested.
        ("include /etc/nginx/modules-enabled/*.conf;", ""),
        ("include /etc/nginx/conf.d/*.conf;", ""),
        ("include /etc/nginx/sites-enabled/*;", f"include {site};"),
        ("http {", "http {" + temp_paths),
    ]
    if os.geteuid() != 0:
        # Only a master running as root can switch users; nginx would warn and ignore it.
        swaps.append(("user www-data;", ""))
    source = _directives(source)
    for old, new in swaps:
        source = _swap(source, old, new, source=MAIN)
    return source


def site_directive(name: str, *, block: str | None = None) -> str:
    """The value of directive ``name`` in the site, or in its ``block {...}`` only."""
    text = SITE.read_text("utf-8")
    if block is not None:
        found = re.search(rf"^{re.escape(block)} \{{(.*?)^\}}", text, re.MULTILINE | re.DOTALL)
        if found is None:
            raise ValueError(f"{SITE.relative_to(ROOT)} has no {block} block")
        text = found.group(1)
    values = re.findall(rf"^\s*{name}\s+([^;]+);", text, re.MULTILINE)
    if len(values) != 1:
        raise ValueError(f"{name} should be set once in {SITE.relative_to(ROOT)}: {values}")
    return str(values[0]).strip()


def make_certificate(certificate: Path, key: Path) -> None:
    """A self-signed certificate for 127.0.0.1 and localhost, valid for one day."""
    certificate.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(certificate),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    key.chmod(0o600)


@dataclass(frozen=True)
class Nginx:
    """A running nginx and how to reach it."""

    http_url: str
    https_url: str
    http_port: int
    https_port: int
    certificate: Path
    webroot: Path
    access_log: Path
    error_log: Path
    process: subprocess.Popen[bytes]

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this nginx's self-signed certificate."""
        return ssl.create_default_context(cafile=str(self.certificate))

    def access_lines(self) -> list[str]:
        """The access log so far, one entry per request."""
        return self.access_log.read_text("utf-8", errors="replace").splitlines()


def _wait_until_listening(process: subprocess.Popen[bytes], ports: list[int], log: Path) -> None:
    deadline = time.monotonic() + 20
    pending = list(ports)
    while pending and time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}:\n{log.read_text()}")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", pending[0])) == 0:
                pending.pop(0)
                continue
        time.sleep(0.05)
    if pending:
        process.kill()
        process.wait()
        raise RuntimeError(f"nginx did not listen on {pending} within 20 s:\n{log.read_text()}")


@contextmanager
def nginx(upstream: str, *, request_buffering: bool = True) -> Iterator[Nginx]:
    """Run nginx in the foreground with a prefix of its own, proxying to ``upstream``.

    ``request_buffering=False`` turns proxy_request_buffering off, the one setting a test may
    change, to show what it buys.
    """
    binary = nginx_binary()
    # Not pytest's tmp_path: its parent is private to the user, and when the tests run as root
    # nginx's workers run as www-data and must reach the temp folders below the prefix.
    prefix = Path(tempfile.mkdtemp(prefix="wxserver-nginx-"))
    prefix.chmod(0o755)
    try:
        certificate, key = prefix / CERTIFICATE[1:], prefix / CERTIFICATE_KEY[1:]
        make_certificate(certificate, key)
        webroot = prefix / WEBROOT[1:]
        (webroot / ".well-known" / "acme-challenge").mkdir(parents=True)
        http_port, https_port = free_port(), free_port()
        while https_port == http_port:
            https_port = free_port()
        access_log, error_log = prefix / "access.log", prefix / "error.log"
        site = prefix / "wxserver.conf"
        site.write_text(
            render_site(
                SITE.read_text("utf-8"),
                http_port=http_port,
                https_port=https_port,
                upstream=upstream,
                root=prefix,
                access_log=access_log,
                error_log=error_log,
                request_buffering=request_buffering,
            )
        )
        main = prefix / "nginx.conf"
        main.write_text(render_main(MAIN.read_text("utf-8"), prefix=prefix, site=site))
        output = prefix / "nginx.out"
        with output.open("wb") as sink:
            process = subprocess.Popen(
                [
                    binary,
                    "-p",
                    f"{prefix}/",
                    "-c",
                    str(main),
                    "-e",
                    str(output),
                    "-g",
                    "daemon off;",
                ],
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_until_listening(process, [http_port, https_port], output)
            yield Nginx(
                http_url=f"http://127.0.0.1:{http_port}",
                https_url=f"https://127.0.0.1:{https_port}",
                http_port=http_port,
                https_port=https_port,
                certificate=certificate,
                webroot=webroot,
                access_log=access_log,
                error_log=error_log,
                process=process,
            )
        finally:
            # SIGQUIT would wait for open client connections; the tests want it gone now.
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    finally:
        shutil.rmtree(prefix, ignore_errors=True)
