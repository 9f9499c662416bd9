"""Where wxserver's time goes: cProfile over whole requests through the WSGI app, in-process.

``python -m bench.hotspots --mode secure`` prints the functions with the most own time and the
same time summed per package (flask, werkzeug, wxserver, xmltodict, logging, ...). cProfile adds
its own overhead to every call, so small functions look dearer than they are; use it to rank, and
callgrind (:mod:`bench.callgrind`, :mod:`bench.stages`) to size.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
from collections import defaultdict

from bench import corpus, inproc
from bench.stages import make_app


def _package(filename: str) -> str:
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (C)"
    parts = filename.replace("\\", "/").split("/")
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    if "wxserver" in parts:
        return "wxserver." + parts[-1].removesuffix(".py")
    if "bench" in parts:
        return "bench (driver)"
    if parts[-1] == "__init__.py":
        return "stdlib." + parts[-2]
    return "stdlib." + parts[-1].removesuffix(".py")


def profile(mode: str, count: int) -> pstats.Stats:
    """Profile ``count`` requests after a warm-up of 100."""
    app = make_app(mode)
    warm = [inproc.environ_for(r) for r in corpus.make(mode, 0, 100)]
    environs = [inproc.environ_for(r) for r in corpus.make(mode, 100, 100 + count)]
    inproc.run(app, warm)
    profiler = cProfile.Profile()
    profiler.enable()
    inproc.run(app, environs)
    profiler.disable()
    return pstats.Stats(profiler)


def by_package(stats: pstats.Stats, count: int) -> list[tuple[str, float]]:
    """Own time per package, in µs per request."""
    totals: dict[str, float] = defaultdict(float)
    for (filename, _line, _name), row in stats.stats.items():  # type: ignore[attr-defined]
        totals[_package(filename)] += row[2]
    return sorted(((k, v / count * 1e6) for k, v in totals.items()), key=lambda x: -x[1])


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="secure")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args(argv)
    stats = profile(args.mode, args.count)
    print(f"## {args.mode}: own time per package, µs per request (under cProfile)\n")
    for package, micros in by_package(stats, args.count):
        if micros >= 0.5:
            print(f"{micros:8.1f}  {package}")
    for order in ("tottime", "cumulative"):
        buffer = io.StringIO()
        stats.stream = buffer  # type: ignore[attr-defined]
        stats.sort_stats(order).print_stats(args.top)
        print(f"\n## {args.mode}: top {args.top} by {order}\n")
        print(buffer.getvalue().split("\n\n", 2)[-1].rstrip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
