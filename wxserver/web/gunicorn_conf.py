"""gunicorn's settings, shipped with the package: ``gunicorn -c python:wxserver.web.gunicorn_conf``.

The Procfile's web process, ``wxserver run`` (from any directory), the systemd unit and the
container all start gunicorn with this module; ``config/gunicorn.conf.py`` points here too.
Reading it has no side effect: gunicorn applies the settings (and ``raw_env``) itself, so the
module can be imported anywhere.

gunicorn runs behind nginx (config/nginx/wxserver.conf), which reads every request body and every
reply in full on gunicorn's behalf, so a worker only ever talks to a fast local client. The times
below are chosen against WeChat's contract: a reply within 5 seconds, or WeChat sends the message
again (three attempts in all: about t, t+5 s, t+10 s).
"""

from __future__ import annotations

import multiprocessing
import os
import secrets
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_BIND = "127.0.0.1:8000"


def listen_address(environ: Mapping[str, str], configured: str = DEFAULT_BIND) -> str:
    """Where gunicorn listens: WX_BIND, else every interface on $PORT, else ``configured``.

    A Procfile platform (Heroku, Dokku, Render ...) routes to the port it names in $PORT, on the
    container's public interface; without it the server stays on the loopback behind nginx.
    """
    if environ.get("WX_BIND"):
        return environ["WX_BIND"]
    port = environ.get("PORT", "").strip()
    if port:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"PORT is {port!r}, which is not a TCP port number")
        return f"0.0.0.0:{port}"
    return configured


bind = listen_address(os.environ)
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# Threads, not one request per process: a message whose reply is not ready is held open past
# WeChat's 5 s (so WeChat sends it again) or waits for another copy's reply, and a held request
# must not keep a fast message waiting. Each held request is one idle thread, and a message to a
# 6-second handler holds one for about 7 s (its first attempt, then the retry that waits for its
# reply): 256 threads hold about 36 such messages a second per process, where 64 ran out in the
# mixed load (README, "Performance"). Threads start only when requests need them, so a fast load
# runs on a handful. nginx buffers every body, so a thread never waits on a slow client.
#
# gthread rather than sync, from the same numbers: sync answers more fast messages a second when
# every connection is busy, but a sync worker holding a request serves nobody else. With only
# fast handlers and no background=True work, WX_WORKER_CLASS=sync is the better choice.
worker_class = os.environ.get("WX_WORKER_CLASS", "gthread")
# gunicorn turns "sync" with more than one thread into gthread, so sync keeps its single thread.
threads = int(os.environ.get("WX_THREADS", "256")) if worker_class == "gthread" else 1
# Build the app in the master first: a bad setting or plugin stops start-up with one clear message.
preload_app = True

# A worker silent for this long is killed and replaced. By 15 s all three of WeChat's attempts
# have been given up, so a request still running helps nobody, while a handler that is merely
# slow (anything under WeChat's 5 s, and nginx's 6 s proxy_read_timeout) is never cut.
timeout = 15
# On SIGTERM the master closes the listening socket and each worker finishes the message it is
# handling before it exits; after this long it is killed. A message is worth finishing for at
# most WeChat's 5 s, so 10 s covers one that started just before the signal, with room to spare,
# and still keeps a restart short.
graceful_timeout = 10
# How long an idle keep-alive connection from nginx is kept. Longer than nginx's upstream
# keepalive_timeout (30 s), so nginx always closes an idle connection first and never sends a
# message down one that gunicorn is closing.
keepalive = 35

# Replace each worker after this many requests, so a plugin that leaks memory cannot grow a
# worker without bound; the jitter keeps the workers from being replaced together. Rarely: a
# replacement closes the worker's keep-alive connections and leaves one worker fewer until the
# fork is serving, and at 2,000 (one every couple of seconds under load) that halved the
# throughput (bench/README.md). At 100,000 a worker leaking 1 KiB a request grows by 100 MiB
# before it is replaced.
max_requests = 100_000
max_requests_jitter = 10_000

# Each worker touches a heartbeat file every second; on a memory-backed folder a stalled disk
# cannot make the master believe the workers have hung. gunicorn creates and unlinks each file
# itself (mkstemp), so the shared folder is safe for it.
SHM = "/dev/shm"  # noqa: S108
if os.path.isdir(SHM):
    worker_tmp_dir = SHM

# Every request but a callback, which its own request log line describes (account, outcome,
# status, duration): see wxserver.web.gunicorn_log.
accesslog = "-"
# Access and error lines in wxserver's format: JSON lines when log_format is json.
logger_class = "wxserver.web.gunicorn_log.GunicornLog"
# The peer (nginx), the client it forwarded for and the scheme it used, the method and path (not
# the query string, which carries the user's openid and the signatures), status, bytes, and the
# request time in microseconds (%(D)s): WeChat's budget is 5 s, and a reply of a few ms must not
# round to 0. Compare with nginx's upstream_response_time to see where the time went.
access_log_format = (
    '%(h)s %({x-forwarded-for}i)s %({x-forwarded-proto}i)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(D)sus'
)
# Only these addresses (the local nginx) may set X-Forwarded-Proto and X-Forwarded-For.
forwarded_allow_ips = os.environ.get("WX_TRUSTED_PROXIES", "127.0.0.1")

# prometheus-client's multiprocess mode: every worker writes its metrics to files in this folder and
# a scrape of /internal/metrics sums them. The master sets it (raw_env) before it builds the app,
# so before any metric exists; a folder of this server's own unless one is given, emptied when
# the server starts and removed when it stops. The app creates the folder (services/metrics.py).
METRICS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.path.join(
    tempfile.gettempdir(), f"wxserver-metrics-{secrets.token_hex(6)}"
)
OWN_METRICS_DIR = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
raw_env = [f"PROMETHEUS_MULTIPROC_DIR={METRICS_DIR}"] if OWN_METRICS_DIR else []


def on_starting(server: Any) -> None:
    """Drop the metric files of an earlier run, whose counts are not this run's."""
    for stale in Path(METRICS_DIR).glob("*.db"):
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    """Fold a finished worker's live gauges out of the totals."""
    from prometheus_client import multiprocess  # noqa: PLC0415 - after the folder is set

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def on_exit(server: Any) -> None:
    """Remove the metrics folder this server made for itself."""
    if OWN_METRICS_DIR:
        shutil.rmtree(METRICS_DIR, ignore_errors=True)


def post_worker_init(worker: Any) -> None:
    """Start, in each worker, what an Open Platform component runs beside its requests: the check
    for a component_verify_ticket (asking WeChat for one when none is held) and the refresher of
    its authorizers' tokens. Not in the master: threads there would be forked mid-work."""
    state = getattr(worker.wsgi, "extensions", {}).get("wxserver")
    if state is not None and state.component is not None:
        state.component.start()
