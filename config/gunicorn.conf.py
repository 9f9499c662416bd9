"""gunicorn settings for ``gunicorn -c config/gunicorn.conf.py wsgi:app`` (the Procfile's web).

gunicorn runs behind nginx (config/nginx/wxserver.conf), which reads every request body and every
reply in full on gunicorn's behalf, so a worker only ever talks to a fast local client. The times
below are chosen against WeChat's contract: a reply within 5 seconds, or WeChat sends the message
again (three attempts in all: about t, t+5 s, t+10 s).
"""

import multiprocessing
import os
import tempfile
from pathlib import Path

bind = os.environ.get("WX_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# Threads, not one request per process: a message whose reply is not ready is held open past
# WeChat's 5 s (so WeChat sends it again) or waits for another copy's reply, and a held request
# must not keep a fast message waiting. Each held request is one idle thread; 64 per process
# hold 100 slow messages at once with room for the fast ones (tests/test_contract.py measures
# it). nginx buffers every body, so a thread never waits on a slow client.
worker_class = os.environ.get("WX_WORKER_CLASS", "gthread")
# gunicorn turns "sync" with more than one thread into gthread, so sync keeps its single thread.
threads = int(os.environ.get("WX_THREADS", "64")) if worker_class == "gthread" else 1
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
# worker without bound. The jitter spreads the replacements so that workers are not all replaced
# at once. With preload_app, a new worker is only a fork of the master.
max_requests = 2000
max_requests_jitter = 200

# Each worker touches a heartbeat file every second; on a memory-backed folder a stalled disk
# cannot make the master believe the workers have hung. gunicorn creates and unlinks each file
# itself (mkstemp), so the shared folder is safe for it.
SHM = "/dev/shm"  # noqa: S108
if os.path.isdir(SHM):
    worker_tmp_dir = SHM

accesslog = "-"
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
# a scrape of /internal/metrics sums them. Set before the app (and so prometheus-client) is
# imported; a folder of this server's own unless one is given, emptied when the server starts.
METRICS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(
    prefix="wxserver-metrics-"
)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = METRICS_DIR


def on_starting(server):
    """Drop the metric files of an earlier run, whose counts are not this run's."""
    for stale in Path(METRICS_DIR).glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    """Fold a finished worker's live gauges out of the totals."""
    from prometheus_client import multiprocess  # noqa: PLC0415 - after the folder is set

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """Start, in each worker, what an Open Platform component runs beside its requests: the check
    for a component_verify_ticket (asking WeChat for one when none is held) and the refresher of
    its authorizers' tokens. Not in the master: threads there would be forked mid-work."""
    state = getattr(worker.wsgi, "extensions", {}).get("wxserver")
    if state is not None and state.component is not None:
        state.component.start()
