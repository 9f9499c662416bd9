"""Run recorded requests through a WSGI app in this process, as gunicorn would call it.

``python -m bench.inproc --app MODULE:ATTR --requests FILE --warmup W --count N`` imports the app,
builds the environs of the first ``W + N`` records, calls the app on ``W`` of them to warm every
cache, then on the next ``N``, consuming each response. Between these phases it calls
``os.getppid()``, which nothing on a request path calls: under
``valgrind --tool=callgrind --dump-before=os_getppid`` each phase lands in its own dump, so the
third dump holds exactly ``N`` warm requests. Standard library only: it runs in the peers'
virtualenvs.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bench import records

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def load_app(spec: str) -> WsgiApp:
    """Import ``module:attr``."""
    module, _, attr = spec.partition(":")
    app: WsgiApp = getattr(importlib.import_module(module), attr)
    return app


def environ_for(record: records.Record) -> dict[str, Any]:
    """The WSGI environ gunicorn's sync worker builds for this request."""
    return {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": record.path,
        "QUERY_STRING": record.query,
        "RAW_URI": record.target,
        "CONTENT_TYPE": "text/xml",
        "CONTENT_LENGTH": str(len(record.body)),
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "40000",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_CONTENT_TYPE": "text/xml",
        "HTTP_CONTENT_LENGTH": str(len(record.body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(record.body),
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def call(app: WsgiApp, environ: dict[str, Any]) -> tuple[int, bytes]:
    """Call the app once and consume the response; return the status and the body."""
    status: list[str] = []

    def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        status.append(line)
        return lambda data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return int(status[0].split(" ", 1)[0]), body


def run(app: WsgiApp, environs: list[dict[str, Any]]) -> Counter[int]:
    """Call the app on every environ; count the statuses."""
    statuses: Counter[int] = Counter()
    for environ in environs:
        statuses[call(app, environ)[0]] += 1
    return statuses


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", required=True, help="module:attr of the WSGI app")
    parser.add_argument("--requests", type=Path, required=True, help="record file")
    parser.add_argument("--warmup", type=int, default=100, help="requests before measuring")
    parser.add_argument("--count", type=int, required=True, help="requests measured")
    args = parser.parse_args(argv)
    app = load_app(args.app)
    needed = args.warmup + args.count
    environs = [environ_for(record) for record in records.read(args.requests, needed)]
    if len(environs) < needed:
        parser.error(f"{args.requests} holds {len(environs)} records, fewer than {needed}")
    os.getppid()  # phase marker: start-up and set-up end here
    statuses = run(app, environs[: args.warmup])
    os.getppid()  # phase marker: warm-up ends here
    statuses += run(app, environs[args.warmup :])
    os.getppid()  # phase marker: the measured requests end here
    print(json.dumps({"warmup": args.warmup, "count": args.count, "statuses": dict(statuses)}))
    return 0 if set(statuses) <= {200} else 1


if __name__ == "__main__":
    sys.exit(main())
