"""What a change to wxserver would save, measured before anyone makes it.

Each experiment applies one change at run time, in this process only (wxserver's files are not
touched), then runs whole requests through the app under callgrind exactly as
:mod:`bench.callgrind` does; the difference from ``baseline`` is the saving per request.
``--micro`` instead prices single operations met on the request path.

    .venv/bin/python -m bench.whatif                       # every experiment, both modes
    .venv/bin/python -m bench.whatif --experiments baseline,direct-body-read --modes secure
    .venv/bin/python -m bench.whatif --micro

Experiments:

    direct-body-read  read Content-Length bytes from wsgi.input instead of request.get_data(),
                      which wraps the stream in werkzeug's LimitedStream(max_content_length) and
                      reads it with zero-filled 64 KiB buffers
    no-request-log    drop the per-request log line (an upper bound for making it cheaper)
    lean-logging      keep the line, but switch off what no wxserver format prints: caller lookup
                      (logging._srcfile), thread, process and multiprocessing names
    expat-parse       parse flat bodies with one pyexpat pass into a dict instead of xmltodict
                      (same refusals: the byte checks and the DOCTYPE stop run first; nested or
                      repeated elements fall back to the current parser)
    memory-store      the in-process memory:// store instead of the default SQLite file (the
                      price of the store's writes: dedupe exchange, echo counter, replay guard)
    no-metrics        skip the Prometheus updates of the request path (an upper bound)
    all               direct-body-read + lean-logging + expat-parse

Under callgrind the metrics run in prometheus-client's multiprocess mode, as under gunicorn.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl
from xml.parsers import expat

import xmltodict
from Crypto.Cipher import AES
from flask import Request, Response, current_app, request
from werkzeug.wsgi import LimitedStream

from bench import corpus, inproc
from bench.callgrind import run_dumped
from bench.catalog import WORK
from bench.stages import make_app
from bench.targets import credentials
from wxserver import endpoint, parsing, signature
from wxserver.context import handler_context
from wxserver.endpoint import Outcome
from wxserver.errors import BodyTooLargeError
from wxserver.parsing import message_from_fields, parse_xml
from wxserver.replies import TextReply, render
from wxserver.settings import Mode
from wxserver.views import callback as view

Patch = Callable[[Any], None]
_FORCE_LIST = frozenset({"item", "List", "fail_idx"})


def _direct_body_read(app: Any) -> None:
    original = view._read_body

    def read_body() -> bytes:
        length = request.content_length
        limit: int = current_app.config["MAX_CONTENT_LENGTH"]
        if length is not None and length <= limit:
            data: bytes = request.environ["wsgi.input"].read(length)
            return data
        return original()

    view._read_body = read_body


def _no_request_log(app: Any) -> None:
    view._log = lambda *args, **kwargs: None


def _lean_logging(app: Any) -> None:
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def flat_parse_xml(body: bytes) -> dict[str, Any]:
    """parse_xml for the common flat body; anything else goes to wxserver's own parser."""
    parsing._check_bytes(body)
    fields: dict[str, Any] = {}
    text: list[str] = []
    state = {"depth": 0, "name": "", "root": "", "fallback": False}

    def start(name: str, _attrs: object) -> None:
        depth = state["depth"] = int(state["depth"]) + 1  # type: ignore[call-overload]
        if depth == 1:
            state["root"] = name
        elif depth == 2:
            state["name"] = name
            text.clear()
        else:
            state["fallback"] = True

    def end(_name: str) -> None:
        if state["depth"] == 2:
            name = str(state["name"])
            if name in fields or name in _FORCE_LIST:
                state["fallback"] = True
            fields[name] = "".join(text) if text else None
        state["depth"] = int(state["depth"]) - 1  # type: ignore[call-overload]

    def data(chunk: str) -> None:
        if state["depth"] == 2:
            text.append(chunk)

    parser = expat.ParserCreate("utf-8")
    parser.StartDoctypeDeclHandler = parsing._refuse_doctype
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    parser.buffer_text = True
    try:
        parser.Parse(body, True)
    except expat.ExpatError:
        return parsing.parse_xml(body)
    if state["fallback"] or state["root"] != "xml":
        return parsing.parse_xml(body)
    return fields


def _expat_parse(app: Any) -> None:
    endpoint.parse_xml = flat_parse_xml  # type: ignore[attr-defined]


def _no_metrics(app: Any) -> None:
    def finish(
        metrics: object,
        account_endpoint: Any,
        outcome: Any,
        status: int,
        started: float,
        *,
        error: object = None,
    ) -> None:
        seconds = time.perf_counter() - started
        view._log(account_endpoint.account.name, outcome, status, seconds)

    view._finish = finish  # type: ignore[assignment]


def _all(app: Any) -> None:
    _direct_body_read(app)
    _lean_logging(app)
    _expat_parse(app)


EXPERIMENTS: dict[str, Patch] = {
    "baseline": lambda app: None,
    "direct-body-read": _direct_body_read,
    "no-request-log": _no_request_log,
    "lean-logging": _lean_logging,
    "expat-parse": _expat_parse,
    "memory-store": lambda app: None,  # chosen when the app is built, see _inside
    "no-metrics": _no_metrics,
    "all": _all,
}


def _inside(experiment: str, mode: str, warmup: int, count: int) -> None:
    app = make_app(mode, "memory://" if experiment == "memory-store" else None)
    EXPERIMENTS[experiment](app)
    warm = [inproc.environ_for(r) for r in corpus.make(mode, 0, warmup)]
    environs = [inproc.environ_for(r) for r in corpus.make(mode, warmup, warmup + count)]
    os.getppid()  # dump marker
    statuses = inproc.run(app, warm)
    os.getppid()
    statuses += inproc.run(app, environs)
    os.getppid()
    if set(statuses) != {200}:
        raise SystemExit(f"{experiment}: statuses {dict(statuses)}")


def _micro_cases(mode: str) -> dict[str, Callable[[], object]]:
    record = corpus.make(mode, 0, 1)[0]
    body = record.body
    app = make_app(mode)
    account_endpoint = app.extensions["wxserver"].endpoints["default"]
    crypto = account_endpoint.crypto
    plaintext = crypto.decrypt(str(parse_xml(body)["Encrypt"])).plaintext if crypto else body
    if account_endpoint.account.mode is not Mode.SECURE:
        plaintext = body
    fields = parse_xml(plaintext)
    message = message_from_fields(fields)
    key = crypto.keys[0] if crypto else None
    environ = inproc.environ_for(record)
    query = dict(parse_qsl(record.query))
    ts, nonce = query["timestamp"], query["nonce"]
    reply = TextReply(content="hello")
    request_log = logging.getLogger("wxserver.request")
    names = ("account", "method", "mode", "type", "event", "msg_id", "handler", "outcome")
    values = ("default", "POST", mode, "text", "-", "1", "echo.echo_text", "reply")

    def log_line() -> None:
        line = dict(zip(names, values, strict=True))
        request_log.info(" ".join(f"{k}=%s" for k in line), *line.values(), extra={"fields": line})

    def context() -> None:
        with handler_context(account_endpoint.answerer.context(message)):
            pass

    cases: dict[str, Callable[[], object]] = {
        "request.get_data() path: LimitedStream(64 KiB max).read()": lambda: LimitedStream(
            io.BytesIO(body), 65536, is_max=True
        ).read(),
        "direct read: wsgi.input.read(Content-Length)": lambda: io.BytesIO(body).read(len(body)),
        "parse_xml(plaintext message)": lambda: parse_xml(plaintext),
        "flat expat parse (plaintext message)": lambda: flat_parse_xml(plaintext),
        "message_from_fields(fields)": lambda: message_from_fields(fields),
        "request log line (text format, to /dev/null)": log_line,
        "handler_context enter + exit": context,
        "TextReply(content=...)": lambda: TextReply(content="hello"),
        "secrets.randbelow(10**10)": lambda: secrets.randbelow(10**10),
        "parsing._check_bytes(plaintext message)": lambda: parsing._check_bytes(plaintext),
        "xmltodict.parse(plaintext message), defaults": lambda: xmltodict.parse(plaintext),
        "flask Request(environ)": lambda: Request(environ),
        "flask Request(environ).args.to_dict()": lambda: Request(environ).args.to_dict(),  # noqa: PLW0108
        "BodyTooLargeError(f-string) (built on every POST)": lambda: BodyTooLargeError(
            f"the body is larger than {65536} bytes (WX_MAX_BODY_SIZE)"
        ),
        "Response(body, status=200, content_type=XML)": lambda: Response(
            body, status=200, content_type="application/xml"
        ),
        "signature.check (signature: 3 parts)": lambda: signature.check(
            token=credentials.TOKEN, signature=query["signature"], timestamp=ts, nonce=nonce
        ),
        "render(TextReply, message)": lambda: render(reply, message, create_time=1),
        "Outcome(...)": lambda: Outcome(b"success", "text/plain", mode=mode, msg_type="text"),
    }
    if key is not None:
        block = bytes(224)
        cases["AES.new(key, MODE_CBC, iv)"] = lambda: AES.new(key.key, AES.MODE_CBC, iv=key.iv)
        cases["AesKey.cbc_encrypt(224 bytes)"] = lambda: key.cbc_encrypt(block)
        cases["AesKey.cbc_decrypt(224 bytes)"] = lambda: key.cbc_decrypt(block)
    return cases


def _inside_micro(mode: str, count: int) -> None:
    cases = _micro_cases(mode)
    for case in cases.values():
        case()
    for case in cases.values():
        os.getppid()
        for _ in range(count):
            case()
    os.getppid()


def _valgrind(out_name: str, inner: list[str]) -> list[int]:
    return run_dumped(
        WORK / "callgrind" / out_name, ["bench.whatif", *inner], state=f"metrics-{out_name}"
    )


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", default=",".join(EXPERIMENTS))
    parser.add_argument("--modes", default="secure,plain")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument(
        "--count",
        type=int,
        default=1000,
        help="measured requests; with the SQLite store keep it >= 1000 so WAL checkpoints amortize",
    )
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--micro", action="store_true", help="price single operations instead")
    parser.add_argument("--inside", help=argparse.SUPPRESS)
    parser.add_argument("--inside-micro", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    modes = args.modes.split(",")
    if args.inside:
        _inside(args.inside, modes[0], args.warmup, args.count)
        return 0
    if args.inside_micro:
        _inside_micro(modes[0], args.count)
        return 0
    if args.micro:
        names = list(_micro_cases("secure"))
        totals = _valgrind(
            "micro-secure.out", ["--inside-micro", "--modes", "secure", "--count", str(args.count)]
        )
        # Dump 1: start-up and warm pass; dump k+1: case k.
        for name, total in zip(names, totals[1:], strict=False):
            print(f"{total / args.count / 1e3:9.1f} k  {name}")
        return 0
    names = args.experiments.split(",")
    jobs = [(name, mode) for mode in modes for name in names]

    def one(job: tuple[str, str]) -> float:
        name, mode = job
        inner = ["--inside", name, "--modes", mode, "--warmup", str(args.warmup)]
        totals = _valgrind(f"whatif-{name}-{mode}.out", [*inner, "--count", str(args.count)])
        return float(totals[2] / args.count)

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        per_request = dict(zip(jobs, pool.map(one, jobs), strict=True))
    for mode in modes:
        base = per_request.get(("baseline", mode))
        for name in names:
            value = per_request[(name, mode)]
            delta = "" if base is None else f"  {(value - base) / 1e3:+8.1f} k vs baseline"
            print(f"{mode:7} {name:18} {value / 1e6:7.3f} M/request{delta}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
