"""Logging set-up: one line per request, plain text by default or JSON lines."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

_HANDLER_NAME = "wxserver"


class TextFormatter(logging.Formatter):
    """``time level logger message``; the time is formatted once per second, not once per line."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        # One tuple, swapped whole, so a thread never pairs one second with another's text.
        self._second: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        """The line; a record with a traceback or stack goes through the standard formatting."""
        if record.exc_info or record.exc_text or record.stack_info:
            return super().format(record)
        record.message = record.getMessage()
        return f"{self.formatTime(record)} {record.levelname} {record.name} {record.message}"

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        cached = self._second
        if cached[0] != second:
            cached = (second, time.strftime("%Y-%m-%d %H:%M:%S", self.converter(second)))
            self._second = cached
        return f"{cached[1]},{int(record.msecs):03d}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the fields passed as ``extra={"fields": {...}}`` are merged in."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update(getattr(record, "fields", {}))
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(log_format: str, loggers: tuple[str, ...] = ("wxserver",)) -> None:
    """Attach one handler to each of ``loggers`` (idempotent: the factory may run twice).

    ``wxserver worker`` adds ``huey``, whose lines then look like the server's: one handler per
    logger, and no root handler, so that no line is written twice.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    for name in loggers:
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        for old in list(logger.handlers):
            if old.get_name() == _HANDLER_NAME:
                logger.removeHandler(old)
        logger.addHandler(handler)
    # httpx logs each request's URL at INFO, and WeChat's URLs carry the access_token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
