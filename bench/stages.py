"""wxserver's protocol pipeline, stage by stage, so a regression shows which stage moved.

Every stage runs on its own, on inputs prepared by running the real pipeline once per message:

    verify    signature (and msg_signature) over the query, and the timestamp window
    envelope  parse the outer body and find <Encrypt> (secure mode only)
    decrypt   base64, AES-256-CBC, padding, length and AppID checks (secure only)
    parse     the plaintext XML into fields, then into a typed message
    dispatch  the router and the echo handler, inside its handler context
    render    the reply XML
    encrypt   the reply's AES envelope (secure only)
    sign      nonce, msg_signature and the envelope XML (secure only)

and, for reference, three rows over the whole path, each on messages of its own (they claim
MsgIds in the store): ``answer`` (the Answerer: the store exchange that dedupes copies of a
message, dispatch and render), ``pipeline`` (CallbackPipeline.admit and .answer: everything above
plus its glue) and ``app`` (one WSGI call: the callback route, metrics and the request log line).

``python -m bench.stages`` prints microseconds per stage (the best of several timeit repeats);
``--callgrind`` also runs each mode once under callgrind, with a dump between stages, and prints
instructions per stage, which do not depend on what else the machine is doing. The store is a
fresh LMDB store under bench/work/state/, as the benchmark serves wxserver; under callgrind the
metrics are in prometheus-client's multiprocess mode, as under gunicorn.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import shutil
import time
import timeit
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from bench import corpus, inproc
from bench.callgrind import run_dumped
from bench.catalog import ROOT, WORK
from bench.records import Record
from bench.targets import credentials
from wxserver.protocol import signature
from wxserver.protocol.envelope import read_envelope
from wxserver.protocol.parsing import message_from_fields, parse_xml
from wxserver.protocol.replies import render, render_own_envelope
from wxserver.services.context import handler_context
from wxserver.web.app import create_app

STAGES = {
    "secure": ("verify", "envelope", "decrypt", "parse", "dispatch", "render", "encrypt", "sign"),
    "plain": ("verify", "parse", "dispatch", "render"),
}
WHOLE = ("answer", "pipeline", "app")  # each consumes messages: fresh ones per pass


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage: a function and the inputs it is timed on (one per message)."""

    name: str
    run: Callable[[Any], object]
    inputs: Sequence[Any]


def make_app(mode: str, store_url: str | None = None) -> Any:
    """wxserver as the benchmark serves it, with a fresh store; its log line goes to /dev/null."""
    if store_url is None:
        state = WORK / "state" / f"inprocess-{mode}-{os.getpid()}"
        shutil.rmtree(state, ignore_errors=True)
        state.mkdir(parents=True)
        store_url = f"lmdb:///{state.relative_to(ROOT)}/store.lmdb"
    config = {
        "plugins": ["bench.targets.echo:handlers"],
        "load_entry_points": False,
        "timestamp_tolerance": 86400,
        "store_url": store_url,
        "accounts": {
            "default": {
                "path": credentials.PATH,
                "token": credentials.TOKEN,
                "app_id": credentials.APP_ID,
                "encoding_aes_key": credentials.ENCODING_AES_KEY,
                "mode": mode,
            }
        },
    }
    app = create_app(config, environ={"WX_ENV": "bench"})
    # The log line is still formatted and written, as under gunicorn; only not to a terminal.
    for handler in logging.getLogger("wxserver").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115
    return app


def _pipeline(app: Any) -> Any:
    return app.direct_routes[credentials.PATH].pipeline


def build(mode: str, messages: Sequence[Record], app: Any) -> list[Stage]:
    """Run the real pipeline once per message and keep each stage's input."""
    pipeline = _pipeline(app)
    services = pipeline.answerer.services
    token = credentials.TOKEN
    crypto = pipeline.protocol.crypto
    assert crypto is not None
    queries = [dict(parse_qsl(record.query)) for record in messages]
    bodies = [record.body for record in messages]
    now = int(time.time())
    encrypts: dict[str, str] = {}

    def verify(query: dict[str, str]) -> None:
        pipeline.protocol.admit(query, time.time())
        timestamp, nonce = query["timestamp"], query["nonce"]
        if mode == "secure":
            signature.check(
                token=token,
                signature=query["msg_signature"],
                timestamp=timestamp,
                nonce=nonce,
                encrypt=encrypts[query["msg_signature"]],
            )

    def envelope(body: bytes) -> object:
        return read_envelope(body).encrypt

    def parse(xml: bytes) -> Any:
        return message_from_fields(parse_xml(xml))

    def dispatch(message: Any) -> Any:
        with handler_context(services.context(message)):
            return services.router.dispatch(message)

    def render_reply(pair: tuple[Any, Any]) -> bytes:
        reply, message = pair
        return render(reply, message, create_time=now)

    def encrypt(xml: bytes) -> str:
        sealed: str = crypto.encrypt(xml, key_index=0)
        return sealed

    def sign(encrypted: str) -> bytes:
        # As CallbackProtocol.seal signs and wraps a sealed reply.
        nonce = secrets.randbits(32)
        msg_signature = signature.sign(token, str(now), str(nonce), encrypted)
        return render_own_envelope(encrypted, msg_signature, now, nonce)

    if mode == "secure":
        for query, body in zip(queries, bodies, strict=True):
            encrypts[query["msg_signature"]] = str(read_envelope(body).encrypt)
        xmls = [crypto.decrypt(encrypts[q["msg_signature"]]).plaintext for q in queries]
    else:
        xmls = bodies
    parsed = [parse(xml) for xml in xmls]
    replies = [dispatch(message).reply for message in parsed]
    pairs = list(zip(replies, parsed, strict=True))
    rendered = [render_reply(pair) for pair in pairs]
    available = {
        "verify": Stage("verify", verify, queries),
        "envelope": Stage("envelope", envelope, bodies),
        "decrypt": Stage("decrypt", crypto.decrypt, list(encrypts.values())),
        "parse": Stage("parse", parse, xmls),
        "dispatch": Stage("dispatch", dispatch, parsed),
        "render": Stage("render", render_reply, pairs),
        "encrypt": Stage("encrypt", encrypt, rendered),
        "sign": Stage("sign", sign, [encrypt(xml) for xml in rendered]),
    }
    return [available[name] for name in STAGES[mode]]


def build_whole(name: str, mode: str, messages: Sequence[Record], app: Any) -> Stage:
    """One of the whole-path rows, on ``messages`` that nothing else has used."""
    pipeline = _pipeline(app)
    if name == "answer":
        crypto = pipeline.protocol.crypto
        xmls = [record.body for record in messages]
        if mode == "secure":
            xmls = [crypto.decrypt(str(parse_xml(x)["Encrypt"])).plaintext for x in xmls]
        parsed = [message_from_fields(parse_xml(xml)) for xml in xmls]
        # Each message arrives as it is answered: a time taken when the row was built would
        # make every message late under callgrind, which runs many times slower.
        return Stage(name, lambda m: pipeline.answerer.answer(m, time.time()), parsed)
    if name == "pipeline":
        items = [(dict(parse_qsl(r.query)), r.body) for r in messages]
        return Stage(name, lambda item: pipeline.answer(pipeline.admit(item[0]), *item), items)
    return Stage(name, lambda environ: inproc.call(app, environ), messages)


def _loop(stage: Stage) -> Callable[[], None]:
    run = stage.run
    inputs = stage.inputs
    if stage.name == "app":
        inputs = [inproc.environ_for(record) for record in inputs]

    def loop() -> None:
        for item in inputs:
            run(item)

    return loop


class Supply:
    """Fresh signed messages, numbered on from where the last batch stopped."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.next = 0

    def take(self, count: int) -> list[Record]:
        """The next ``count`` messages."""
        batch = corpus.make(self.mode, self.next, self.next + count)
        self.next += count
        return batch


def time_all(mode: str, count: int, repeat: int) -> dict[str, float]:
    """Microseconds per message for each stage and whole-path row: best of ``repeat`` passes."""
    app = make_app(mode)
    supply = Supply(mode)
    for stage in build(mode, supply.take(50), app):  # warm every cache once
        _loop(stage)()
    for name in WHOLE:
        _loop(build_whole(name, mode, supply.take(50), app))()
    timings: dict[str, float] = {}
    for stage in build(mode, supply.take(count), app):
        best = min(timeit.timeit(_loop(stage), number=1) for _ in range(repeat))
        timings[stage.name] = best / count * 1e6
    for name in WHOLE:
        passes = [_loop(build_whole(name, mode, supply.take(count), app)) for _ in range(repeat)]
        timings[name] = min(timeit.timeit(loop, number=1) for loop in passes) / count * 1e6
    return timings


def _under_callgrind(mode: str, count: int) -> None:
    # Set-up and a warm pass of everything, then each row once over its inputs, a dump before each.
    app = make_app(mode)
    supply = Supply(mode)
    for stage in build(mode, supply.take(20), app):
        _loop(stage)()
    for name in WHOLE:
        _loop(build_whole(name, mode, supply.take(20), app))()
    loops = [_loop(stage) for stage in build(mode, supply.take(count), app)]
    loops += [_loop(build_whole(name, mode, supply.take(count), app)) for name in WHOLE]
    for loop in loops:
        os.getppid()  # dump marker: the previous phase ends here
        loop()
    os.getppid()


def callgrind_all(mode: str, count: int) -> dict[str, float]:
    """Instructions per message for each row of ``mode``, from one callgrind run."""
    totals = run_dumped(
        WORK / "callgrind" / f"stages-{mode}.out",
        ["bench.stages", "--inside-callgrind", "--modes", mode, "--count", str(count)],
        state=f"stages-metrics-{mode}",
    )
    names = [*STAGES[mode], *WHOLE]
    # Dump 1 is start-up, set-up and the warm pass; dump k+1 is row k.
    return {name: totals[index + 1] / count for index, name in enumerate(names)}


def report(mode: str, micros: dict[str, float], instructions: dict[str, float] | None) -> str:
    """A markdown table of one mode's stages."""
    lines = [f"### {mode}", ""]
    head = "| stage | µs per message |" + (" instructions |" if instructions else "")
    lines += [head, "|---|---:|" + ("---:|" if instructions else "")]

    def row(name: str, us: float, ir: float | None) -> None:
        text = f"| {name} | {us:.1f} |"
        lines.append(text + (f" {ir / 1e3:,.1f} k |" if ir is not None else ""))

    def ir_of(name: str) -> float | None:
        return instructions[name] if instructions else None

    stage_us = sum(micros[name] for name in STAGES[mode])
    stage_ir = sum(instructions[name] for name in STAGES[mode]) if instructions else None
    for name in STAGES[mode]:
        row(name, micros[name], ir_of(name))
    row("**sum of stages**", stage_us, stage_ir)
    for name in WHOLE:
        row(f"*{name}*", micros[name], ir_of(name))

    def diff(a: str, b: str | None) -> tuple[float, float | None]:
        us = micros[a] - (micros[b] if b else stage_us)
        if not instructions:
            return us, None
        return us, instructions[a] - (instructions[b] if b else (stage_ir or 0.0))

    row("pipeline minus stages (store exchange, glue)", *diff("pipeline", None))
    row("app minus pipeline (route, metrics, log)", *diff("app", "pipeline"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="secure,plain")
    parser.add_argument("--count", type=int, default=1000, help="messages per stage")
    parser.add_argument("--repeat", type=int, default=5, help="timeit passes; the best counts")
    parser.add_argument("--callgrind", action="store_true", help="also count instructions")
    parser.add_argument("--callgrind-count", type=int, default=300)
    parser.add_argument("--inside-callgrind", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    modes = args.modes.split(",")
    if args.inside_callgrind:
        _under_callgrind(modes[0], args.count)
        return 0
    for mode in modes:
        micros = time_all(mode, args.count, args.repeat)
        instructions = callgrind_all(mode, args.callgrind_count) if args.callgrind else None
        print(report(mode, micros, instructions))
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
