"""Medians, ratios and the markdown report of one benchmark run (from its JSON results)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from bench.catalog import MODES, TARGETS

# Goals of wxserver under the shipped configuration: against WeRoBot under the same worker class
# (mode, minimum ratio), and against wxserver itself under sync workers (minimum ratio, maximum
# p99 ratio). Instructions: the absolute budget, and against WeRoBot's (maximum ratio).
SHIPPED_PEER_GOALS = (("werobot", "secure", 1.20), ("werobot", "plain", 1.00))
SHIPPED_VS_SYNC = (0.90, 1.50)
INSTRUCTION_GOALS = {"secure": 0.80e6, "plain": 0.62e6}
INSTRUCTION_PEER_GOALS = {"secure": 0.80, "plain": 1.00}
# The mixed load: fast throughput against the same load without slow messages, and their latency.
MIXED_GOALS = (0.80, 1.0)
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
        f"- gunicorn: {', '.join(results['workers'])}. Under `shipped`, wxserver runs with the "
        "settings it ships (`-c python:wxserver.web.gunicorn_conf`, as the Procfile runs it; only "
        "the workers and the bind overridden) and every other target under the same worker class "
        "and threads; otherwise every target runs the same command line (`--preload`, no access "
        "log)",
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
    lines += _goal_rows(results, summary, ratio, instructions)
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
    lines += mixed_section(results.get("mixed", []))
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


def _yes(ok: bool) -> str:
    return "yes" if ok else "no"


def _goal_rows(
    results: dict[str, Any],
    summary: dict[str, dict[tuple[str, str], dict[str, float]]],
    ratio: dict[str, dict[tuple[str, str], float]],
    instructions: dict[tuple[str, str], float],
) -> list[str]:
    rows = []
    for mode, limit in INSTRUCTION_GOALS.items():
        value = instructions.get(("wxserver", mode))
        peer = instructions.get(("werobot", mode))
        if value is not None:
            rows.append(
                f"| instructions/request, {mode} ≤ {limit / 1e6:.2f} M | {_fmt_instr(value)} | "
                f"{_yes(value <= limit)} |"
            )
        if value is not None and peer:
            cap = INSTRUCTION_PEER_GOALS[mode]
            rows.append(
                f"| instructions/request, {mode} ≤ {cap:.1f}x WeRoBot's | {value / peer:.2f}x | "
                f"{_yes(value / peer <= cap)} |"
            )
    shipped = next((w for w in results["workers"] if w.startswith("shipped")), None)
    sync = next((w for w in results["workers"] if w.startswith("sync")), None)
    if shipped is not None:
        for peer, mode, minimum in SHIPPED_PEER_GOALS:
            value = ratio.get(shipped, {}).get((peer, mode))
            if value is not None:
                rows.append(
                    f"| shipped: wxserver / {peer} under the same worker class, {mode} ≥ "
                    f"{minimum:.1f}x | {value:.2f}x | {_yes(value >= minimum)} |"
                )
    if shipped is not None and sync is not None:
        least, most_p99 = SHIPPED_VS_SYNC
        for mode in MODES:
            ours = summary.get(shipped, {}).get(("wxserver", mode))
            base = summary.get(sync, {}).get(("wxserver", mode))
            if ours is None or base is None:
                continue
            rate = ours["req_per_s"] / base["req_per_s"]
            p99 = ours["p99_ms"] / base["p99_ms"]
            rows.append(
                f"| shipped / sync (wxserver), {mode} ≥ {least:.1f}x | {rate:.2f}x | "
                f"{_yes(rate >= least)} |"
            )
            rows.append(
                f"| shipped / sync p99 (wxserver), {mode} ≤ {most_p99:.1f}x | {p99:.2f}x | "
                f"{_yes(p99 <= most_p99)} |"
            )
    rows += _mixed_rows(results.get("mixed", []))
    return rows


def _mixed_rows(mixed: list[dict[str, Any]]) -> list[str]:
    least, latest_s = MIXED_GOALS
    rows = []
    for run in mixed:
        base, slow = run["fast only"], run["with slow"]
        fast_share = 1 - run["share"]
        rate = slow["fast_per_s"] / (base["fast_per_s"] * fast_share)
        label = f"mixed load at {run['rate']:g}/s, {run['share']:.0%} slow"
        rows.append(
            f"| {label}: fast messages answered ≥ {least:.1f}x of the load without slow ones | "
            f"{rate:.2f}x | {_yes(rate >= least)} |"
        )
        late = slow["fast_over_1s"] + slow["fast_failed"]
        rows.append(
            f"| {label}: fast messages later than {latest_s:g} s (or unanswered) | {late} | "
            f"{_yes(late == 0)} |"
        )
        retried = sum(slow["slow_by_attempt"][n] for n in ("2", "3"))
        rows.append(
            f"| {label}: slow messages answered on WeChat's retry (of {slow['slow']}) | "
            f"{retried} ({slow['slow_lost']} lost to `success`) | "
            f"{_yes(slow['slow_lost'] == 0 and retried == slow['slow'])} |"
        )
    return rows


def mixed_section(mixed: list[dict[str, Any]]) -> list[str]:
    """The table of the mixed-load runs."""
    if not mixed:
        return []
    lines = [
        "## Mixed load (shipped configuration)",
        "",
        "Messages offered at a steady rate, each on its own connection; a share go to a handler "
        "that takes 6 s, played as WeChat plays them (no answer in 5 s: the same message again, "
        "three attempts in all).",
        "",
        "| rate | slow share | fast answered/s | fast p50 ms | fast p99 ms | fast max ms | "
        "slow: reply on attempt 1 / 2 / 3 | slow lost |",
        "|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for run in mixed:
        for name, share in (("fast only", 0.0), ("with slow", run["share"])):
            cell = run[name]
            attempts = " / ".join(str(cell["slow_by_attempt"][n]) for n in ("1", "2", "3"))
            lines.append(
                f"| {run['rate']:g}/s | {share:.0%} | {cell['fast_per_s']:,.1f} | "
                f"{cell['fast_p50_ms']:.2f} | {cell['fast_p99_ms']:.2f} | "
                f"{cell['fast_max_ms']:.1f} | {attempts if cell['slow'] else '-'} | "
                f"{cell['slow_lost'] if cell['slow'] else '-'} |"
            )
    return [*lines, ""]
