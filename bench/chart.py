"""The PNG chart of a run: req/s per target and mode, and instructions per request.

Runs in bench/.venvs/tools (matplotlib is no dependency of the project):
``bench/.venvs/tools/bin/python -m bench.chart results.json out.png``.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt

from bench.catalog import TARGETS

COLOURS = {"secure": "#1f5fa8", "plain": "#8fb8e8"}


def draw(results: dict[str, Any], out: Path) -> None:
    """Write the chart of ``results`` to ``out``."""
    rates: dict[str, dict[tuple[str, str], list[float]]] = defaultdict(lambda: defaultdict(list))
    for run in results["runs"]:
        rates[run["workers"]][(run["target"], run["mode"])].append(run["load"]["req_per_s"])
    instructions = {(c["target"], c["mode"]): c["per_request"] for c in results["callgrind"]}
    measured = {run["target"] for run in results["runs"]}
    measured |= {c["target"] for c in results["callgrind"]}
    order = [name for name in TARGETS if name in measured]
    panels = len(results["workers"]) + (1 if instructions else 0)
    fig, axes = plt.subplots(panels, 1, figsize=(10, 3.6 * panels), squeeze=False)
    width = 0.38
    for row, workers in enumerate(results["workers"]):
        ax = axes[row][0]
        for offset, mode in ((-width / 2, "secure"), (width / 2, "plain")):
            xs, heights, low, high = [], [], [], []
            for index, name in enumerate(order):
                values = rates[workers].get((name, mode))
                if not values:
                    continue
                median = statistics.median(values)
                xs.append(index + offset)
                heights.append(median)
                low.append(median - min(values))
                high.append(max(values) - median)
            ax.bar(xs, heights, width, yerr=[low, high], capsize=3, label=mode, color=COLOURS[mode])
            for x, h in zip(xs, heights, strict=True):
                ax.text(x, h, f"{h:,.0f}", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(order)), order)
        ax.set_ylabel("requests/s (median, min-max)")
        ax.set_title(f"HTTP throughput on 127.0.0.1, gunicorn {workers}")
        ax.legend(loc="upper left")
        ax.grid(axis="y", alpha=0.3)
    if instructions:
        ax = axes[-1][0]
        for offset, mode in ((-width / 2, "secure"), (width / 2, "plain")):
            pairs = [
                (i, instructions[(n, mode)])
                for i, n in enumerate(order)
                if (n, mode) in instructions
            ]
            xs = [i + offset for i, _ in pairs]
            heights = [v / 1e6 for _, v in pairs]
            ax.bar(xs, heights, width, label=mode, color=COLOURS[mode])
            for x, h in zip(xs, heights, strict=True):
                ax.text(x, h, f"{h:.2f}", ha="center", va="bottom", fontsize=7)
        ax.axhline(0.80, color="#1f5fa8", linestyle="--", linewidth=1, label="goal, secure")
        ax.axhline(0.62, color="#8fb8e8", linestyle="--", linewidth=1, label="goal, plain")
        ax.set_xticks(range(len(order)), order)
        ax.set_ylabel("million instructions / request")
        ax.set_title("In-process cost per request (callgrind, whole WSGI app)")
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"wxserver benchmark {results['date']} ({results['commit'][:12]})", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    draw(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
