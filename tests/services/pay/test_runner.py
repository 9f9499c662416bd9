"""The runner: a background pay handler is queued for the worker, or run here if it cannot be."""

from __future__ import annotations

import pytest
from huey import MemoryHuey
from prometheus_client import CollectorRegistry

from tests.pay_handlers import background, runs
from tests.pay_keys import MCH_ID
from tests.pay_support import Merchant
from wxserver.protocol.pay.notify import open_notification
from wxserver.protocol.pay.routing import PayRouter
from wxserver.services.pay.ledger import Ledger
from wxserver.services.pay.metrics import PayMetrics
from wxserver.services.pay.runner import PayRunner
from wxserver.services.store import MemoryStore


def _runner(huey: MemoryHuey) -> PayRunner:
    metrics = PayMetrics(CollectorRegistry())
    return PayRunner(PayRouter([background]), MemoryStore(), MCH_ID, metrics, huey)


def test_runner_queues_a_background_handler_for_the_worker(merchant: Merchant) -> None:
    huey = MemoryHuey("paytest", immediate=False)
    runner = _runner(huey)
    notification = open_notification(merchant.body(), merchant.apiv3.encode())
    rule = runner.router.match(notification)
    assert rule is not None
    token = Ledger(runner.store, MCH_ID, notification.id).claim().token
    assert token is not None
    assert runner.submit(rule, notification, token) is None
    assert huey.pending_count() == 1
    assert runs(merchant.folder) == []


def test_runner_runs_it_here_when_the_queue_is_down(
    merchant: Merchant, monkeypatch: pytest.MonkeyPatch
) -> None:
    huey = MemoryHuey("paytest", immediate=False)

    def down(data: bytes, priority: int | None = None) -> None:
        raise ConnectionError("the queue's Redis is stopped")

    monkeypatch.setattr(huey.storage, "enqueue", down)
    runner = _runner(huey)
    notification = open_notification(merchant.body(), merchant.apiv3.encode())
    rule = runner.router.match(notification)
    assert rule is not None
    token = Ledger(runner.store, MCH_ID, notification.id).claim().token
    assert token is not None
    future = runner.submit(rule, notification, token)
    assert future is not None
    assert future.result(timeout=10).outcome == "handled"
    assert len(runs(merchant.folder)) == 1
    assert Ledger(runner.store, MCH_ID, notification.id).done()
