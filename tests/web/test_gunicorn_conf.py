"""The gunicorn settings shipped in the package: their values, how they fit nginx's, $PORT, and a
graceful shutdown."""

from __future__ import annotations

import os
import runpy
import signal
import textwrap
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.nginx_server import site_directive
from tests.servers import ROOT, gunicorn
from tests.support import AES_KEY, APP_ID, TOKEN
from wxserver.services.config import load_settings
from wxserver.testing import build_message, open_reply, sign_request

CONF = "wxserver.web.gunicorn_conf"
CONF_FILE = ROOT / "wxserver" / "web" / "gunicorn_conf.py"
REPO_ENTRY = ROOT / "config" / "gunicorn.conf.py"
# WeChat drops a request that has no reply after this many seconds, and sends it again.
WECHAT_DEADLINE = 5
ENV = {
    "WX_ENV": "test",
    "WX_TOKEN": TOKEN,
    "WX_APPID": APP_ID,
    "WX_ENCODING_AES_KEY": AES_KEY,
    "WX_MODE": "secure",
    "WX_LOAD_ENTRY_POINTS": "false",
}
ACCOUNT = load_settings(ENV).account("default")


def _conf(monkeypatch: pytest.MonkeyPatch, **environ: str) -> dict[str, Any]:
    """The settings as gunicorn reads them, the module run afresh in ``environ``."""
    for name in ("WX_BIND", "PORT", "WEB_CONCURRENCY", "WX_TRUSTED_PROXIES"):
        monkeypatch.delenv(name, raising=False)
    # Empty: the settings then name a metrics folder of the server's own.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONF_FILE))


def _seconds(value: str) -> int:
    return int(value.removesuffix("s"))


def test_gunicorn_conf_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = _conf(monkeypatch)
    assert conf["bind"] == "127.0.0.1:8000"
    assert conf["worker_class"] == "gthread"
    assert conf["threads"] == 256
    assert conf["preload_app"] is True
    assert conf["forwarded_allow_ips"] == "127.0.0.1"
    assert conf["max_requests"] > 0
    assert 0 < conf["max_requests_jitter"] < conf["max_requests"]
    assert "%(D)s" in conf["access_log_format"]
    # The query string carries the user's openid: %(r)s and %(q)s would log it.
    assert "%(r)s" not in conf["access_log_format"]
    assert "%(q)s" not in conf["access_log_format"]


def test_gunicorn_conf_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = _conf(
        monkeypatch,
        WX_BIND="127.0.0.1:9001",
        WEB_CONCURRENCY="3",
        WX_TRUSTED_PROXIES="10.0.0.2,10.0.0.3",
    )
    assert conf["bind"] == "127.0.0.1:9001"
    assert conf["workers"] == 3
    assert conf["forwarded_allow_ips"] == "10.0.0.2,10.0.0.3"


@pytest.mark.parametrize(
    ("environ", "bind"),
    [
        ({}, "127.0.0.1:8000"),
        ({"PORT": "5123"}, "0.0.0.0:5123"),
        ({"PORT": "5123", "WX_BIND": "127.0.0.1:9002"}, "127.0.0.1:9002"),
    ],
    ids=["loopback-behind-nginx", "platform-port", "wx-bind-wins"],
)
def test_gunicorn_conf_bind(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], bind: str
) -> None:
    assert _conf(monkeypatch, **environ)["bind"] == bind


def test_gunicorn_conf_bad_port_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="PORT is 'http'"):
        _conf(monkeypatch, PORT="http")


def test_gunicorn_conf_names_a_metrics_folder_without_making_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conf = _conf(monkeypatch)
    # gunicorn sets it in the master before it builds the app; reading the module changes nothing.
    assert conf["raw_env"] == [f"PROMETHEUS_MULTIPROC_DIR={conf['METRICS_DIR']}"]
    assert not os.environ["PROMETHEUS_MULTIPROC_DIR"]
    assert not Path(conf["METRICS_DIR"]).exists()
    given = _conf(monkeypatch, PROMETHEUS_MULTIPROC_DIR="/srv/metrics")
    assert (given["METRICS_DIR"], given["raw_env"]) == ("/srv/metrics", [])


def test_gunicorn_conf_repo_entry_is_the_packaged_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/srv/metrics")
    packaged = runpy.run_path(str(CONF_FILE))
    entry = runpy.run_path(str(REPO_ENTRY))
    settings = [
        *("bind", "workers", "worker_class", "threads", "preload_app", "timeout"),
        *("graceful_timeout", "keepalive", "access_log_format", "logger_class"),
    ]
    assert {name: entry[name] for name in settings} == {name: packaged[name] for name in settings}
    assert entry["on_starting"].__module__ == CONF


def test_gunicorn_conf_times_fit_wechat_and_nginx(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = _conf(monkeypatch)
    proxy_read = _seconds(site_directive("proxy_read_timeout"))
    # nginx waits a little past WeChat's deadline, and gunicorn kills a silent worker only
    # after nginx has given up on it, so a reply WeChat could still use is never cut.
    assert WECHAT_DEADLINE < proxy_read < conf["timeout"]
    # A message in flight at SIGTERM gets at least WeChat's whole deadline to finish.
    assert conf["graceful_timeout"] > WECHAT_DEADLINE
    upstream_idle = _seconds(
        site_directive("keepalive_timeout", block="upstream wxserver_gunicorn")
    )
    # nginx closes an idle upstream connection before gunicorn does, never the other way.
    assert upstream_idle < conf["keepalive"]


SLOW_PLUGIN = """
    import time
    from pathlib import Path

    from wxserver import HandlerSet

    handlers = HandlerSet("slow")


    @handlers.text("slow")
    def slow(message):
        Path({started!r}).write_text("started")
        time.sleep({seconds})
        return "finished"
"""


@dataclass
class Reply:
    status: int = 0
    body: bytes = b""
    content_type: str = ""
    answered_at: float = 0.0


def test_gunicorn_sigterm_lets_the_message_in_flight_finish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seconds = 2.0
    started = tmp_path / "started"
    (tmp_path / "wxplug_slow.py").write_text(
        textwrap.dedent(SLOW_PLUGIN.format(started=str(started), seconds=seconds))
    )
    python_path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    env = {**ENV, "WX_PLUGINS": "wxplug_slow:handlers", "PYTHONPATH": python_path}
    signed = sign_request(ACCOUNT, build_message("text", Content="slow"), "secure")
    reply = Reply()
    with gunicorn(env, workers=1) as server:

        def send() -> None:
            response = httpx.post(
                f"{server.url}/wechat", params=signed.query, content=signed.body, timeout=15
            )
            reply.answered_at = time.monotonic()
            reply.status, reply.body = response.status_code, response.content
            reply.content_type = response.headers["content-type"]

        thread = threading.Thread(target=send, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not started.exists():
            assert time.monotonic() < deadline, "the slow handler never started"
            time.sleep(0.02)
        handler_started = time.monotonic()
        # Mid-request, as a deploy's restart would catch it.
        time.sleep(0.5)
        server.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        thread.join(15)
        returncode = server.process.wait(timeout=15)
        exited = time.monotonic()
    assert not thread.is_alive()
    result = open_reply(ACCOUNT, reply.status, reply.body, reply.content_type)
    print(
        f"\nSIGTERM {signalled - handler_started:.2f} s into a {seconds} s handler: "
        f"reply {reply.answered_at - signalled:.2f} s later, "
        f"gunicorn exited {exited - signalled:.2f} s after the signal"
    )
    assert result.status == 200
    assert result.encrypted
    assert result.content == "finished"
    # The reply came when the handler was done, not when the signal arrived ...
    assert reply.answered_at - handler_started > seconds - 0.5
    assert reply.answered_at - signalled > seconds - 1.0
    # ... and gunicorn then stopped on its own, cleanly, without waiting out graceful_timeout
    # (after which it would have killed the worker).
    assert returncode == 0
    assert reply.answered_at <= exited
    assert exited - signalled < _conf(monkeypatch)["graceful_timeout"]
