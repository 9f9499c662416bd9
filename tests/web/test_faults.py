"""Faults of ours on the callback: answered, and seen in the log, the metrics and /readyz."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import pytest
from flask import Flask

from tests.metric_values import value
from tests.services.store.flaky import Clock, Switchable
from tests.support import HERMETIC_ENV, AppFactory, config_with
from wxserver import HandlerSet, TextMessage, create_app
from wxserver.services import heartbeat
from wxserver.services.store import FallbackStore, MemoryStore
from wxserver.testing import WeChatTestClient

background = HandlerSet("slow")


@background.text("later", background=True)
def later(message: TextMessage) -> str:
    return "done"


def test_faults_a_failure_below_the_pipeline_is_answered_and_accounted(
    app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store = app.extensions["wxserver"].store

    def broken(*_args: object, **_kwargs: object) -> bool:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(store, "add", broken)
    with caplog.at_level(logging.INFO, "wxserver"):
        reply = WeChatTestClient(app).send_text("hello")
    assert (reply.status, reply.body) == (200, b"success")
    lines = [r for r in caplog.records if r.name == "wxserver.request"]
    traceback, line = lines
    assert traceback.getMessage() == "unexpected error: RuntimeError"
    assert traceback.exc_info is not None
    assert line.levelno == logging.WARNING
    assert "outcome=internal-error status=200" in line.getMessage()
    assert "reason='RuntimeError'" in line.getMessage()
    scrape = app.test_client().get("/internal/metrics").get_data(as_text=True)
    assert value(scrape, "wxserver_requests_total", outcome="internal-error") == 1
    assert value(scrape, "wxserver_alarm_signals_total", category="invalid_response") == 1


def _degraded(app: Flask, shared: object, local: object) -> FallbackStore:
    store = FallbackStore(shared, local)  # type: ignore[arg-type]
    app.extensions["wxserver"] = dataclasses.replace(app.extensions["wxserver"], store=store)
    return store


def test_faults_readyz_says_degraded_while_the_local_store_stands_in(app: Flask) -> None:
    shared = Switchable()
    _degraded(app, shared, MemoryStore())
    assert app.test_client().get("/readyz").get_data() == b"ready\n"
    shared.down = True
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == (
        "ready, degraded:\n- the shared store cannot be reached (ConnectionError); this "
        "machine's store stands in, so each message is handled once per machine until it "
        "returns\n"
    )


def test_faults_readyz_is_503_only_when_no_store_answers(app: Flask) -> None:
    shared, local = Switchable(), Switchable()
    _degraded(app, shared, local)
    shared.down = local.down = True
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_data(as_text=True) == (
        "store unavailable: ConnectionError; this machine's store too: ConnectionError\n"
    )


def test_faults_readyz_and_metrics_follow_an_outage_of_the_shared_store(app: Flask) -> None:
    shared = Switchable()
    state = app.extensions["wxserver"]
    clock = Clock()
    store = FallbackStore(shared, MemoryStore(), on_change=state.metrics.store_state, clock=clock)
    app.extensions["wxserver"] = dataclasses.replace(state, store=store)
    client = app.test_client()
    shared.down = True
    store.get("anything")
    during = client.get("/internal/metrics").get_data(as_text=True)
    shared.down = False
    clock.now += store.retry_after
    store.get("anything")
    after = client.get("/internal/metrics").get_data(as_text=True)
    assert value(during, "wxserver_store_degraded") == 1
    assert value(after, "wxserver_store_degraded") == 0
    assert value(after, "wxserver_store_outages_total") == 1


@pytest.fixture
def queued(make_app: AppFactory, tmp_path: Path) -> Flask:
    """An app on an LMDB store (so jobs go to a worker) with a background rule."""
    config = config_with()
    config["store_url"] = f"lmdb:///{tmp_path / 'store.lmdb'}"
    config["plugins"] = [f"{__name__}:background", "wxserver.builtin.echo:handlers"]
    return create_app(config, environ=HERMETIC_ENV)


def test_faults_readyz_names_a_missing_worker(queued: Flask) -> None:
    response = queued.test_client().get("/readyz")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert text.startswith("ready, degraded:\n- no job worker is running (none has reported)")
    assert "start `wxserver worker` (the Procfile's worker)" in text


def test_faults_readyz_names_a_worker_with_other_handler_sets(queued: Flask) -> None:
    store = queued.extensions["wxserver"].store
    heartbeat.write(store, {"default": ["echo"]}, time.time())
    text = queued.test_client().get("/readyz").get_data(as_text=True)
    assert "worker echo, this server slow, echo" in text
    heartbeat.write(store, {"default": ["slow", "echo"]}, time.time())
    assert queued.test_client().get("/readyz").get_data() == b"ready\n"
