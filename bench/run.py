"""The benchmark in one command: every target over HTTP, instructions per request, a report.

    .venv/bin/python -m bench.run                      # 3 rounds x 10 s, shipped and sync
    .venv/bin/python -m bench.run --rounds 2 --duration 5 --worker-class sync
    .venv/bin/python -m bench.run --targets wxserver,flask-constant --no-callgrind
    .venv/bin/python -m bench.run --rss                # also the 100k-message memory check

It installs wrk (and valgrind) with apt-get when missing, creates the peers' virtualenvs under
bench/.venvs/, signs one corpus of distinct messages per mode, then for each gunicorn worker class
and round (each round starts further along the list) starts each target on 127.0.0.1, checks a
sample of its replies, warms it up, measures it with wrk, checks again and stops it. It counts
instructions per request in-process under callgrind and writes bench/results/<date>.md, .json and
.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import callgrind, corpus, mixed, report, rss, venvs
from bench.catalog import (
    BENCH,
    DEFAULT_TARGETS,
    MODES,
    PROJECT_VENV,
    ROOT,
    TARGETS,
    WORK,
    Target,
)
from bench.client import check_sample
from bench.load import LoadSettings, run_wrk
from bench.records import Record, read
from bench.servers import WorkerSettings, serve
from bench.wire import ReplyMismatch

_PACKAGES = [
    "wechatpy",
    "werobot",
    "bottle",
    "cryptography",
    "pycryptodome",
    "flask",
    "werkzeug",
    "gunicorn",
    "xmltodict",
]


def _machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return (
        f"{model}, {os.cpu_count()} cores, Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip()


class Layout:
    """Where the sample, the warm-up and the measured requests sit in a corpus file."""

    def __init__(self, sample: int, warmup_s: float, duration_s: float, max_rate: int) -> None:
        self.sample = sample
        self.warm_first = 2 * sample
        self.warm_last = self.warm_first + max(int(warmup_s * max_rate), 1)
        self.last = self.warm_last + max(int(duration_s * max_rate), 1)


@dataclass
class Plan:
    """Everything one run shares: settings, the signed corpora and the samples checked."""

    args: argparse.Namespace
    names: list[str]
    modes: list[str]
    worker_settings: list[WorkerSettings]
    load: LoadSettings
    layout: Layout
    corpora: dict[str, Path] = field(default_factory=dict)
    samples: dict[str, list[Record]] = field(default_factory=dict)
    versions: dict[str, dict[str, str]] = field(default_factory=dict)
    tools: Path = Path()
    # The code measured, read when the run starts (others may commit while it runs).
    commit: str = ""
    dirty: bool = False

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """Every (target, mode) measured."""
        return [(name, mode) for name in self.names for mode in self.modes]


def run_one(
    plan: Plan, target: Target, mode: str, settings: WorkerSettings, tag: str
) -> dict[str, Any]:
    """Serve one target, check, warm up, measure, check again; return what was measured."""
    sample, layout, args = plan.samples[mode], plan.layout, plan.args
    half = len(sample) // 2
    result: dict[str, Any] = {"target": target.name, "mode": mode, "workers": settings.label}
    with serve(target, mode, settings, tag) as running:
        try:
            checked = check_sample(running.port, sample[:half], mode=mode, echoes=target.echoes)
            run_wrk(
                running.port,
                corpus=plan.corpora[mode],
                first=layout.warm_first,
                last=layout.warm_last,
                duration_s=args.warmup,
                settings=plan.load,
            )
            measured = run_wrk(
                running.port,
                corpus=plan.corpora[mode],
                first=layout.warm_last,
                last=layout.last,
                duration_s=args.duration,
                settings=plan.load,
            )
            checked += check_sample(running.port, sample[half:], mode=mode, echoes=target.echoes)
        except ReplyMismatch as exc:
            raise SystemExit(f"{target.name} {mode}: wrong reply: {exc}") from None
        result["load"] = measured.as_dict()
        result["loadavg"] = os.getloadavg()[0]
        result["checked"] = checked
        memory = running.worker_memory_kib().values()
        result["worker_rss_kib"] = [parts.get("VmRSS", 0) for parts in memory]
    return result


def parse_args(argv: list[str] | None) -> Plan:
    """The command line, checked, as a plan."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up")
    parser.add_argument("--targets", default=",".join(DEFAULT_TARGETS), help=", ".join(TARGETS))
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument(
        "--worker-class",
        default="shipped,sync",
        help="shipped (wxserver as the Procfile runs it, the others under its worker class and "
        "threads), sync, gthread; comma-separated",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument(
        "--close-every",
        type=int,
        default=0,
        help="requests per connection before it is closed and opened again, as nginx does "
        "after keepalive_requests (0: never)",
    )
    parser.add_argument("--sample", type=int, default=10, help="replies checked per run")
    parser.add_argument("--max-rate", type=int, default=8000, help="req/s the corpus allows")
    parser.add_argument("--no-callgrind", dest="callgrind", action="store_false")
    parser.add_argument("--callgrind-count", type=int, default=1000)
    parser.add_argument("--callgrind-warmup", type=int, default=100)
    parser.add_argument(
        "--mixed",
        default="200,500",
        help="rates (messages/s) of the mixed load under the shipped configuration; '' for none",
    )
    parser.add_argument("--mixed-duration", type=float, default=20.0)
    parser.add_argument("--rss", action="store_true", help="also the memory check (minutes)")
    parser.add_argument("--rss-messages", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    args = parser.parse_args(argv)
    names = [name for name in args.targets.split(",") if name]
    unknown = set(names) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}; choose from {', '.join(TARGETS)}")
    modes = args.modes.split(",")
    if set(modes) - set(MODES):
        parser.error(f"modes are {', '.join(MODES)}")
    classes = args.worker_class.split(",")
    if set(classes) - {"shipped", "sync", "gthread"}:
        parser.error("worker classes are shipped, sync and gthread")
    return Plan(
        args=args,
        names=names,
        modes=modes,
        worker_settings=[
            WorkerSettings.as_shipped(args.workers)
            if kind == "shipped"
            else WorkerSettings(worker_class=kind, workers=args.workers, threads=args.threads)
            for kind in classes
        ],
        load=LoadSettings(
            connections=args.connections,
            threads=args.wrk_threads,
            close_every=args.close_every,
        ),
        layout=Layout(args.sample, args.warmup, args.duration, args.max_rate),
    )


def prepare(plan: Plan) -> None:
    """Tools, virtualenvs and the signed corpora."""
    if Path(sys.prefix).resolve() != PROJECT_VENV.resolve():
        print(f"note: run with {PROJECT_VENV}/bin/python for the project's own environment")
    WORK.mkdir(parents=True, exist_ok=True)
    plan.commit = _git("rev-parse", "HEAD")
    plan.dirty = bool(_git("status", "--porcelain", "--untracked-files=no", "--", "wxserver"))
    venvs.ensure_program("wrk", "wrk")
    if plan.args.callgrind:
        venvs.ensure_program("valgrind", "valgrind")
    setup_log = WORK / "setup.log"
    peers = [name for name in ("wechatpy", "werobot") if name in plan.names]
    for name in peers:
        venvs.ensure(name, setup_log)
    plan.tools = venvs.ensure("tools", setup_log)
    plan.versions = {"project": venvs.versions(PROJECT_VENV / "bin" / "python", _PACKAGES)}
    for name in peers:
        plan.versions[name] = venvs.versions(TARGETS[name].python, _PACKAGES)
    args = plan.args
    needed = max(plan.layout.last, args.callgrind_warmup + args.callgrind_count)
    for mode in plan.modes:
        started = time.monotonic()
        plan.corpora[mode] = corpus.generate(WORK / f"corpus-{mode}.rec", mode, needed)
        plan.samples[mode] = list(read(plan.corpora[mode], 2 * args.sample))
        print(f"signed {needed:,} {mode} requests in {time.monotonic() - started:.1f} s")


def rotated(pairs: list[Any], round_index: int, rounds: int) -> list[Any]:
    """The order of one round: the list rotated by an equal share per round.

    Every target takes its turn early and late, and no target is measured twice in a row across
    a round's end, as it would be were the order reversed each round: a busy spell on a shared
    machine then hit the same target twice.
    """
    shift = round_index * len(pairs) // rounds
    return pairs[shift:] + pairs[:shift]


def measure_http(plan: Plan) -> list[dict[str, Any]]:
    """Every target and mode, round after round, for each worker class."""
    runs: list[dict[str, Any]] = []
    rounds = plan.args.rounds
    for settings in plan.worker_settings:
        for round_index in range(rounds):
            order = rotated(plan.pairs, round_index, rounds)
            for name, mode in order:
                kind = "shipped" if settings.shipped else settings.worker_class
                tag = f"{kind}-r{round_index}-{name}-{mode}"
                result = run_one(plan, TARGETS[name], mode, settings, tag)
                result["round"] = round_index
                runs.append(result)
                got = result["load"]
                errors = sum(got["errors"].values())
                print(
                    f"{settings.label:24} round {round_index + 1}/{rounds} {name:16}{mode:7}"
                    f"{got['req_per_s']:9,.0f} req/s  p50 {got['p50_ms']:6.2f} ms  "
                    f"p99 {got['p99_ms']:6.2f} ms  checked {result['checked']}  "
                    f"load {result['loadavg']:.1f}"
                    + (f"  ERRORS {got['errors']}" if errors else "")
                    + ("  (requests repeated)" if got["repeated"] else ""),
                    flush=True,
                )
    return runs


def measure_instructions(plan: Plan) -> list[dict[str, Any]]:
    """Instructions per request of every target and mode, in-process under callgrind."""
    if not plan.args.callgrind:
        return []
    print("counting instructions under callgrind (several minutes) ...", flush=True)
    found = callgrind.measure_all(
        plan.pairs,
        plan.corpora,
        warmup=plan.args.callgrind_warmup,
        count=plan.args.callgrind_count,
    )
    for item in found:
        print(f"  {item.target:15} {item.mode:7} {item.per_request / 1e6:.3f} M/request")
    return [
        {
            "target": item.target,
            "mode": item.mode,
            "per_request": item.per_request,
            "count": item.count,
            "warmup": plan.args.callgrind_warmup,
        }
        for item in found
    ]


def write(plan: Plan, results: dict[str, Any]) -> Path:
    """bench/results/<date>.json, .md and .png; return the base path."""
    out: Path = plan.args.out
    out.mkdir(parents=True, exist_ok=True)
    base = out / datetime.now().strftime("%Y-%m-%d-%H%M")
    base.with_suffix(".json").write_text(json.dumps(results, indent=1, ensure_ascii=False))
    base.with_suffix(".md").write_text(report.markdown(results))
    subprocess.run(
        [str(plan.tools), "-m", "bench.chart", str(base.with_suffix(".json")), f"{base}.png"],
        cwd=ROOT,
        check=True,
    )
    return base


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    plan = parse_args(argv)
    prepare(plan)
    runs = measure_http(plan)
    instructions = measure_instructions(plan)
    mixed_runs = [
        mixed.run(float(rate), plan.args.mixed_duration, 0.05, "secure", plan.args.workers)
        for rate in plan.args.mixed.split(",")
        if rate
    ]
    memory = []
    if plan.args.rss:
        for mode in plan.modes:
            settings = plan.worker_settings[0]
            memory.append(
                rss.check("wxserver", mode, messages=plan.args.rss_messages, settings=settings)
            )
    args = plan.args
    results = {
        "date": datetime.now().strftime("%Y-%m-%d %H:%M"),
        "commit": plan.commit,
        "dirty": plan.dirty,
        "machine": _machine(),
        "workers": [s.label for s in plan.worker_settings],
        "settings": {
            "rounds": args.rounds,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "wrk_threads": args.wrk_threads,
            "sample": args.sample,
        },
        "versions": plan.versions,
        "runs": runs,
        "callgrind": instructions,
        "rss": memory,
        "mixed": mixed_runs,
    }
    base = write(plan, results)
    print()
    print(report.markdown(results))
    print(f"wrote {base}.md, {base}.json and {base}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
