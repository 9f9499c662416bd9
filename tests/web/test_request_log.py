"""The request log line: a JSON object on request, a record as logging itself would make it."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import threading
import time
from typing import Any

import pytest

from tests.support import AppFactory, config_with
from wxserver.services.logs import configure_logging
from wxserver.testing import WeChatTestClient


def test_logs_json_request_line_is_one_object(
    make_app: AppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_with()
    config["log_format"] = "json"
    app = make_app(config)
    try:
        WeChatTestClient(app).send_text("json please")
    finally:
        configure_logging("text")
    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    (request,) = [line for line in lines if line["logger"] == "wxserver.request"]
    assert request["type"] == "text"
    assert request["outcome"] == "reply"
    assert request["handler"] == "echo.echo_text"


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _request_records(app: Any, senders: int) -> list[logging.LogRecord]:
    """The request records of one message from each of ``senders`` threads (0: this thread)."""
    keep = _Keep()
    logger = logging.getLogger("wxserver.request")
    logger.addHandler(keep)
    try:
        client = WeChatTestClient(app)
        threads = [
            threading.Thread(target=client.send_text, args=(f"from {n}",), name=f"sender-{n}")
            for n in range(senders)
        ]
        for thread in threads:
            thread.start()
            thread.join()
        if not senders:
            client.send_text("from this thread")
    finally:
        logger.removeHandler(keep)
    return keep.records


def test_logs_request_record_has_what_logging_itself_would_give(make_app: AppFactory) -> None:
    app = make_app(config_with())
    before = time.time()
    records = _request_records(app, senders=3)
    logger = logging.getLogger("wxserver.request")
    standard = logger.makeRecord(logger.name, logging.INFO, "x", 0, "", (), None).__dict__
    assert [r.threadName for r in records] == ["sender-0", "sender-1", "sender-2"]
    for record in records:
        assert set(standard) - {"fields"} <= set(vars(record))
        assert (record.name, record.levelname, record.process) == (logger.name, "INFO", os.getpid())
        assert record.funcName == "respond"
        assert record.filename == "request_log.py"
        assert before <= record.created <= time.time()
        assert record.msecs == int((record.created - int(record.created)) * 1000)
        # relativeCreated counts from logging's start, as a standard record's does.
        assert (
            abs(
                (record.created - record.relativeCreated / 1000)
                - (standard["created"] - standard["relativeCreated"] / 1000)
            )
            < 0.01
        )
        assert record.getMessage().startswith("account=default method=POST mode=")
        assert " type=text " in record.getMessage()
        assert record.fields["outcome"] == "reply"  # type: ignore[attr-defined]


def _child_record(app: Any, results: Any) -> None:
    (record,) = _request_records(app, senders=0)
    results.put((record.process, os.getpid()))


def test_logs_request_record_of_a_forked_worker_names_the_worker(make_app: AppFactory) -> None:
    app = make_app(config_with())
    _request_records(app, senders=0)  # the thread that forks made records first
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_child_record, args=(app, results))
    child.start()
    try:
        process, pid = results.get(timeout=30)
    finally:
        child.join(10)
    assert process == pid != os.getpid()
