"""Instructions per request, in-process, under ``valgrind --tool=callgrind``.

Each target runs once in its own virtualenv's interpreter (:mod:`bench.inproc`): start-up, then
``warmup`` requests, then ``count`` measured requests, each phase dumped on its own by
``--dump-before=os_getppid``. The third dump divided by ``count`` is what one warm request costs
through the whole WSGI app, start-up excluded. Instruction counts repeat to a fraction of a
percent whatever else the machine is doing; wall-clock req/s does not.

``python -m bench.callgrind --targets wxserver --modes secure`` measures chosen targets only; the
dump files stay in bench/work/callgrind/ (``*.out.3`` is the measured phase). For where the time
goes by Python function, see :mod:`bench.hotspots`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench import corpus
from bench.catalog import DEFAULT_TARGETS, MODES, ROOT, TARGETS, WORK, Target
from bench.servers import environment

OUT = WORK / "callgrind"


@dataclass(frozen=True, slots=True)
class Measured:
    """The measured phase of one target and mode."""

    target: str
    mode: str
    count: int
    total: int
    output: Path

    @property
    def per_request(self) -> float:
        """Instructions one request costs."""
        return self.total / self.count


def total_of(out_file: Path) -> int:
    """The instruction total callgrind wrote to ``out_file``."""
    for line in reversed(out_file.read_text(errors="replace").splitlines()):
        if line.startswith(("totals:", "summary:")):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {out_file}")


def run_dumped(out_file: Path, module: Sequence[str], *, state: str) -> list[int]:
    """Run ``python -m <module...>`` under callgrind, dumping at each ``os.getppid()`` call.

    Returns the instruction total of every dump, in order. ``state`` names a fresh folder for the
    run's Prometheus multiprocess files, as the server would have.
    """
    out_file.parent.mkdir(parents=True, exist_ok=True)
    for old in out_file.parent.glob(f"{out_file.name}*"):
        old.unlink()
    metrics = WORK / "state" / state
    shutil.rmtree(metrics, ignore_errors=True)
    metrics.mkdir(parents=True)
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out_file}",
        "--dump-before=os_getppid",
        "--dump-instr=no",
        "--collect-jumps=no",
        sys.executable,
        "-m",
        *module,
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0", "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=3600)
    dumps = sorted(
        (p for p in out_file.parent.glob(f"{out_file.name}.*") if p.suffix[1:].isdigit()),
        key=lambda p: int(p.suffix[1:]),
    )
    return [total_of(p) for p in dumps]


def measure(
    target: Target, mode: str, requests: Path, *, warmup: int = 100, count: int = 1000
) -> Measured:
    """Run ``warmup + count`` requests in-process under callgrind; measure the last ``count``."""
    OUT.mkdir(parents=True, exist_ok=True)
    out_file = OUT / f"{target.name}-{mode}.out"
    for old in OUT.glob(f"{out_file.name}*"):
        old.unlink()
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out_file}",
        "--dump-before=os_getppid",
        "--dump-instr=no",
        "--collect-jumps=no",
        str(target.python),
        "-m",
        "bench.inproc",
        "--app",
        target.spec,
        "--requests",
        str(requests),
        "--warmup",
        str(warmup),
        "--count",
        str(count),
    ]
    env = {**environment(target, mode), "PYTHONHASHSEED": "0"}
    target.reset_state(mode)
    done = subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{target.name} {mode} failed ({done.returncode}):\n"
            f"{done.stdout[-1000:]}\n{done.stderr[-3000:]}"
        )
    # Dumps: .1 start-up, .2 warm-up, .3 the measured requests; the last part is the exit.
    measured = out_file.with_name(out_file.name + ".3")
    return Measured(target.name, mode, count, total_of(measured), measured)


def measure_all(
    pairs: Sequence[tuple[str, str]],
    corpora: dict[str, Path],
    *,
    warmup: int = 100,
    count: int = 1000,
    jobs: int = 2,
) -> list[Measured]:
    """Measure every (target, mode), ``jobs`` valgrind processes at a time."""
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [
            pool.submit(measure, TARGETS[name], mode, corpora[mode], warmup=warmup, count=count)
            for name, mode in pairs
        ]
        return [future.result() for future in futures]


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default=",".join(DEFAULT_TARGETS), help=", ".join(TARGETS))
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--warmup", type=int, default=100, help="requests before measuring")
    parser.add_argument("--count", type=int, default=1000, help="requests measured")
    parser.add_argument("--jobs", type=int, default=2, help="valgrind processes at a time")
    args = parser.parse_args(argv)
    modes = args.modes.split(",")
    needed = args.warmup + args.count
    corpora = {
        mode: corpus.generate(WORK / f"callgrind-{mode}.rec", mode, needed, jobs=args.jobs)
        for mode in modes
    }
    pairs = [(name, mode) for name in args.targets.split(",") for mode in modes]
    results = measure_all(pairs, corpora, warmup=args.warmup, count=args.count, jobs=args.jobs)
    for result in results:
        print(
            f"{result.target:15} {result.mode:7} {result.per_request / 1e6:8.3f} M instructions"
            f" per request  ({result.total:,} for {result.count})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
