"""Log set-up: plain text by default, JSON lines on request, one handler however often built."""

from __future__ import annotations

import json
import logging
import sys

from wxserver.services.logs import JsonFormatter, TextFormatter, configure_logging


def test_logs_json_formatter_merges_fields() -> None:
    record = logging.LogRecord("wxserver.request", logging.INFO, __file__, 1, "x=%s", ("1",), None)
    record.fields = {"account": "default", "status": 200}
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "x=1"
    assert line["account"] == "default"
    assert line["status"] == 200
    assert line["level"] == "INFO"


def test_logs_configure_is_idempotent() -> None:
    configure_logging("text")
    configure_logging("json")
    handlers = [h for h in logging.getLogger("wxserver").handlers if h.get_name() == "wxserver"]
    assert len(handlers) == 1
    assert isinstance(handlers[0].formatter, JsonFormatter)
    configure_logging("text")


def test_logs_httpx_request_urls_are_not_logged() -> None:
    # WeChat API URLs carry the access_token in their query string.
    configure_logging("text")
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING


def test_logs_text_formatter_writes_what_the_standard_format_writes() -> None:
    standard = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    ours = TextFormatter()
    for created in (1_700_000_000.0, 1_700_000_000.999, 1_700_000_001.5, 1_700_000_000.25):
        record = logging.LogRecord(
            "wxserver.request", logging.INFO, __file__, 1, "a=%s", (1,), None
        )
        record.created, record.msecs = created, (created - int(created)) * 1000
        assert ours.format(record) == standard.format(record)
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.LogRecord(
            "wxserver.x", logging.ERROR, __file__, 1, "bad", (), sys.exc_info()
        )
    assert ours.format(failed) == standard.format(failed)
    assert "ValueError: boom" in ours.format(failed)
