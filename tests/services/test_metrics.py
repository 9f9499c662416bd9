"""Metrics in forked processes: each writes files of its own, by the pid the fork hook keeps."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, values

from tests.metric_values import value
from wxserver.services import forks
from wxserver.services import metrics as metrics_module


def _count_in_child(meter: Any, results: Any) -> None:
    meter.request("POST", _Facts(), 0.01)
    results.put(os.getpid())


class _Facts:
    mode, msg_type, outcome, handler = "secure", "text", "reply", "echo"
    handler_seconds: float | None = None
    duplicate = False


def test_metrics_multiprocess_values_follow_a_fork_without_asking_for_the_pid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As under gunicorn: the folder set before prometheus-client chose its multiprocess values.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setattr(values, "ValueClass", values.MultiProcessValue())  # type: ignore[no-untyped-call]
    metrics = metrics_module.Metrics(
        CollectorRegistry(), environ={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    )
    meter = metrics.meter("default")
    meter.request("POST", _Facts(), 0.01)
    assert "counter_424242.db" not in os.listdir(tmp_path)
    # The pid the values check is the one the fork hook keeps, not a system call's answer.
    monkeypatch.setattr(forks, "pid", 424242)
    meter.request("POST", _Facts(), 0.01)
    assert "counter_424242.db" in os.listdir(tmp_path)
    monkeypatch.setattr(forks, "pid", os.getpid())
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_count_in_child, args=(meter, results))
    child.start()
    try:
        child_pid = results.get(timeout=30)
    finally:
        child.join(10)
    # The child wrote to files of its own, not to its parent's.
    assert {f"counter_{os.getpid()}.db", f"counter_{child_pid}.db"} <= set(os.listdir(tmp_path))
    summed = metrics.exposition()
    assert value(summed.decode(), "wxserver_requests_total", account="default") == 3
