"""Medians, ratios and the markdown report of one benchmark run (from its JSON results)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from bench.catalog import MODES, TARGETS

# The goals: (numerator, denominator, mode, minimum ratio).
RATIO_GOALS = (
    ("wxserver", "werobot", "secure", 1.10),
    ("wxserver", "wechatpy", "secure", 1.35),
    ("wxserver", "flask-constant", "secure", 0.85),
    ("wxserver", "flask-constant", "plain", 0.90),
)
INSTRUCTION_GOALS = {"secure": 0.80e6, "plain": 0.62e6}
RSS_GOAL = 0.10
_DIRTY = " + uncommitted changes in wxserver/"


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[tuple[str, str], dict[str, float]]]:
    """Per worker class, per (target, mode): median, min and max req/s, median p50 and p99."""
    grouped: dict[str, dict[tuple[str, str], list[dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for run in runs:
        grouped[run["workers"]][(run["target"], run["mode"])].append(run["load"])
    summary: dict[str, dict[tuple[str, str], dict[str, float]]] = {}
    for workers, pairs in grouped.items():
        summary[workers] = {}
        for pair, loads in pairs.items():
            rates = [load["req_per_s"] for load in loads]
            summary[workers][pair] = {
                "req_per_s": _median(rates),
                "min": min(rates),
                "max": max(rates),
                "p50_ms": _median([load["p50_ms"] for load in loads]),
                "p99_ms": _median([load["p99_ms"] for load in loads]),
                "rounds": len(loads),
                "errors": sum(sum(load["errors"].values()) for load in loads),
                "repeated": any(load["repeated"] for load in loads),
            }
    return summary


def ratios(runs: list[dict[str, Any]]) -> dict[str, dict[tuple[str, str], float]]:
    """wxserver's req/s over each other target's, per round, then the median over rounds."""
    rates: dict[tuple[str, int], dict[tuple[str, str], float]] = defaultdict(dict)
    for run in runs:
        rates[(run["workers"], run["round"])][(run["target"], run["mode"])] = run["load"][
            "req_per_s"
        ]
    collected: dict[str, dict[tuple[str, str], list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for (workers, _round), rate in rates.items():
        for (target, mode), value in rate.items():
            mine = rate.get(("wxserver", mode))
            if mine is not None and target != "wxserver" and value > 0:
                collected[workers][(target, mode)].append(mine / value)
    return {
        workers: {pair: _median(values) for pair, values in pairs.items()}
        for workers, pairs in collected.items()
    }


def _fmt_rate(cell: dict[str, float] | None) -> str:
    if cell is None:
        return "-"
    flag = " ⚠" if cell["errors"] or cell["repeated"] else ""
    return f"{cell['req_per_s']:,.0f} ({cell['min']:,.0f}-{cell['max']:,.0f}){flag}"


def _fmt_ms(cell: dict[str, float] | None, key: str) -> str:
    return "-" if cell is None else f"{cell[key]:.2f}"


def _fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _fmt_instr(value: float | None) -> str:
    return "-" if value is None else f"{value / 1e6:.3f} M"


def _load_line(runs: list[dict[str, Any]]) -> str:
    loads = sorted(run["loadavg"] for run in runs if "loadavg" in run)
    if not loads:
        return "- load average: not recorded"
    busy = (
        " - the machine was busy with other work: compare ratios, not req/s"
        if loads[-1] > 6
        else ""
    )
    return (
        f"- 1-minute load average after each measurement: median {_median(loads):.1f}, "
        f"max {loads[-1]:.1f} (the benchmark alone makes about 3){busy}"
    )


def markdown(results: dict[str, Any]) -> str:
    """The report: settings, one table per worker class, goals, instructions and memory."""
    summary = summarize(results["runs"])
    ratio = ratios(results["runs"])
    instructions = {(c["target"], c["mode"]): c["per_request"] for c in results["callgrind"]}
    s = results["settings"]
    lines = [
        f"# wxserver benchmark, {results['date']}",
        "",
        f"- code: `{results['commit'][:12]}`{_DIRTY if results['dirty'] else ''} at the start",
        f"- machine: {results['machine']}",
        f"- load: wrk {s['wrk_threads']} thread(s), {s['connections']} connections, "
        f"{s['duration_s']:g} s per target after {s['warmup_s']:g} s of warm-up, {s['rounds']} "
        "rounds, each starting further along the list of targets; distinct MsgIds; every request "
        "signed (secure: encrypted)",
        f"- gunicorn: {', '.join(results['workers'])}; `--preload`, no access log, same "
        "command line for every target",
        f"- replies checked: {s['sample']} per target and round, decrypted and compared",
        _load_line(results["runs"]),
        "- req/s: median (min-max over rounds); p50/p99: median over rounds, ms; "
        "wxserver / target: median of the per-round ratios; ⚠: errors or repeated requests",
        "",
    ]
    order = list(TARGETS)
    for workers in results["workers"]:
        table = summary.get(workers, {})
        lines += [
            f"## {workers}",
            "",
            "| target | mode | req/s | p50 ms | p99 ms | wxserver / target | instr/request |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for name in order:
            for mode in MODES:
                if (name, mode) not in table:
                    continue
                cell = table[(name, mode)]
                lines.append(
                    f"| {TARGETS[name].label} | {mode} | {_fmt_rate(cell)} | "
                    f"{_fmt_ms(cell, 'p50_ms')} | {_fmt_ms(cell, 'p99_ms')} | "
                    f"{_fmt_ratio(ratio.get(workers, {}).get((name, mode)))} | "
                    f"{_fmt_instr(instructions.get((name, mode)))} |"
                )
        lines.append("")
    lines += ["## Goals", "", "| goal | measured | met |", "|---|---:|:-:|"]
    for mode, limit in INSTRUCTION_GOALS.items():
        value = instructions.get(("wxserver", mode))
        if value is not None:
            lines.append(
                f"| instructions/request, {mode} ≤ {limit / 1e6:.2f} M | {_fmt_instr(value)} | "
                f"{'yes' if value <= limit else 'no'} |"
            )
    for workers in results["workers"]:
        for _num, den, mode, minimum in RATIO_GOALS:
            value = ratio.get(workers, {}).get((den, mode))
            if value is not None:
                lines.append(
                    f"| {workers}: wxserver / {den}, {mode} ≥ {minimum:.2f}x | {value:.2f}x | "
                    f"{'yes' if value >= minimum else 'no'} |"
                )
    for check in results.get("rss", []):
        growth = check["growth"]
        lines.append(
            f"| RSS of one worker after {check['messages']:,} vs after {check['first']:,} "
            f"messages ({check['target']}, {check['mode']}) ≤ +{RSS_GOAL:.0%} | "
            f"{check['rss_first_kib'] / 1024:.1f} → {check['rss_last_kib'] / 1024:.1f} MiB "
            f"({growth:+.1%}) | {'yes' if growth <= RSS_GOAL else 'no'} |"
        )
        if "anon_growth" in check:
            lines.append(
                f"| of which the worker's own memory (RssAnon), same messages | "
                f"{check['anon_first_kib'] / 1024:.1f} → {check['anon_last_kib'] / 1024:.1f} MiB "
                f"({check['anon_growth']:+.1%}) | "
                f"{'yes' if check['anon_growth'] <= RSS_GOAL else 'no'} |"
            )
    lines.append("")
    if results["callgrind"]:
        c = results["callgrind"][0]
        lines += [
            f"Instructions per request: in-process under callgrind, {c['count']} requests after "
            f"{c['warmup']} of warm-up, through the whole WSGI app (`bench/inproc.py`).",
            "",
        ]
    lines += ["## Versions", ""]
    for venv, found in results["versions"].items():
        listed = ", ".join(f"{k} {v}" for k, v in sorted(found.items()))
        lines.append(f"- {venv}: {listed}")
    lines.append("")
    return "\n".join(lines)
