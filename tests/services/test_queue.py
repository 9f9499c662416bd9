"""The job queue through an outage: empty reads with a back-off, and a few lines, not thousands."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.redis_server import redis_server
from wxserver.protocol.messages import TextMessage
from wxserver.protocol.replies import Deferred
from wxserver.services.jobs import HueyJobs, Job
from wxserver.services.queue import MAX_BACKOFF, REMIND_EVERY, Outage, make_huey


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_queue_outage_backs_off_doubling_to_a_cap(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    outage = Outage(clock=clock, sleep=clock.sleep)
    with caplog.at_level(logging.WARNING, "wxserver.jobs"):
        for _ in range(10):
            outage.failed(ConnectionError("refused"))
    assert clock.slept[:6] == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2]
    assert clock.slept[6:] == [MAX_BACKOFF] * 4
    assert [r.getMessage() for r in caplog.records] == [
        "the job queue cannot be reached (ConnectionError: refused); retrying with back-off"
    ]


def test_queue_outage_is_told_once_a_minute_then_once_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    outage = Outage(clock=clock, sleep=clock.sleep)
    with caplog.at_level(logging.WARNING, "wxserver.jobs"):
        while clock.now < 2.5 * REMIND_EVERY:
            outage.failed(ConnectionError("refused"))
        outage.succeeded()
        outage.succeeded()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4
    assert lines[1].startswith("the job queue is still unreachable after 6")
    assert lines[-1].startswith("the job queue is back after 1")
    assert not outage.down


def test_queue_reads_from_a_stopped_redis_are_empty_reads(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with redis_server() as server:
        huey = make_huey(server.url)
        assert huey is not None
        huey.outage = Outage(sleep=lambda seconds: None)
        server.process.terminate()
        server.process.wait(10)
        with caplog.at_level(logging.WARNING, "wxserver.jobs"):
            assert [huey.dequeue() for _ in range(50)] == [None] * 50
            assert huey.read_schedule() == []
    assert huey.outage.down
    assert len(caplog.records) == 1


def test_queue_a_job_that_cannot_be_queued_runs_in_this_process(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    done = threading.Event()

    class Finisher:
        def finish(self, job: Job) -> None:
            done.set()

        def watch(self, job: Job) -> bool | None:
            return True

    huey = make_huey(f"lmdb:///{tmp_path / 'store.lmdb'}")
    assert huey is not None
    jobs = HueyJobs(huey, {"default": Finisher()})

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise ConnectionError("the queue is out")

    huey.enqueue = refuse
    message = TextMessage(
        to_user_name="gh", from_user_name="o", create_time=1, msg_type="text", content="x"
    )
    with caplog.at_level(logging.WARNING, "wxserver.jobs"):
        jobs.submit(Job("default", message, Deferred(time.time)))
        assert done.wait(5)
    assert "could not be queued (ConnectionError: the queue is out)" in caplog.text
