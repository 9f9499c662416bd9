"""gunicorn settings for ``gunicorn -c config/gunicorn.conf.py wsgi:app``."""

import multiprocessing
import os

bind = os.environ.get("WX_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
# Build the app in the master first: a bad setting or plugin stops start-up with one clear message.
preload_app = True
timeout = 30
graceful_timeout = 10
accesslog = "-"
# %(M)s is the request time in milliseconds.
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms'
# Only the local nginx may set X-Forwarded-For.
forwarded_allow_ips = os.environ.get("WX_TRUSTED_PROXIES", "127.0.0.1")
