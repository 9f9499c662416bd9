"""Which handler answered, read from the server's request log lines as the server writes them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from wxserver.services.logs import JsonFormatter, TextFormatter
from wxserver.web import request_log
from wxserver.web.simulator.server_log import ServerLog, handler_of, parse_line


@dataclass(frozen=True)
class Facts:
    mode: str = "compat"
    msg_type: str = "text"
    event: str = "-"
    event_key: str = "-"
    msg_id: str = "-"
    handler: str = "-"
    outcome: str = "reply"
    reason: str = ""


@pytest.fixture(params=["text", "json"])
def server_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A file the request log writes to, in the text or the JSON format."""
    path = tmp_path / "server.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(TextFormatter() if request.param == "text" else JsonFormatter())
    logger = logging.getLogger("wxserver.request")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield path, request.param
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        handler.close()


def write(account: str = "default", status: int = 200, **facts: str) -> None:
    request_log.write(account, "POST", Facts(**facts), status, 0.0012)


def test_server_log_parses_the_servers_own_lines(server_log: tuple[Path, str]) -> None:
    path, _ = server_log
    write(msg_type="event", event="CLICK", event_key="A KEY", handler="menu.today")
    write(status=403, outcome="SignatureError", reason="the signature does not match")
    lines = [parse_line(text) for text in path.read_text("utf-8").splitlines()]
    assert lines[0] is not None
    assert (lines[0].type, lines[0].event, lines[0].event_key, lines[0].handler) == (
        "event",
        "CLICK",
        "A KEY",
        "menu.today",
    )
    assert lines[1] is not None
    assert lines[1].outcome == "SignatureError"


@pytest.mark.parametrize(
    "line",
    [
        "",
        "[2026-01-01 00:00:00 +0000] [1] [INFO] Booting worker",
        '{"logger": "wxserver.api"}',
        "{",
    ],
    ids=["empty", "gunicorn", "other-logger", "broken-json"],
)
def test_server_log_ignores_other_lines(line: str) -> None:
    assert parse_line(line) is None


def test_server_log_finds_a_message_by_its_id(server_log: tuple[Path, str]) -> None:
    path, _ = server_log
    write(msg_id="111", handler="echo.echo_text")
    log = ServerLog(path, "default")
    offset = log.mark()
    write(msg_id="222", handler="other.handler")
    write(account="shop", msg_id="333", handler="shop.handler")
    write(msg_id="333", handler="mine.handler", outcome="held")
    write(msg_id="333", outcome="reply")
    found = log.find(offset, msg_id="333", event="-", event_key="-", count=2, wait=0)
    assert [line.handler for line in found] == ["mine.handler", "-"]
    assert handler_of(found, 2) == "mine.handler"


def test_server_log_finds_an_event_by_name_and_key(server_log: tuple[Path, str]) -> None:
    path, _ = server_log
    log = ServerLog(path, "default")
    offset = log.mark()
    write(msg_type="event", event="CLICK", event_key="OTHER", handler="a.other")
    write(msg_type="event", event="CLICK", event_key="MINE", handler="a.mine")
    found = log.find(offset, msg_id="-", event="CLICK", event_key="MINE", count=1, wait=0)
    assert handler_of(found, 1) == "a.mine"


def test_server_log_waits_for_a_line_written_late(server_log: tuple[Path, str]) -> None:
    path, _ = server_log
    log = ServerLog(path, "default")
    offset = log.mark()
    later = threading.Timer(0.2, lambda: write(msg_id="9", handler="slow.one"))
    later.start()
    started = time.monotonic()
    found = log.find(offset, msg_id="9", event="-", event_key="-", count=1, wait=5)
    later.join()
    assert [line.handler for line in found] == ["slow.one"]
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("handlers", "copies", "answer"),
    [
        ([], 1, "not in the server's log (no matching line was written)"),
        (["-"], 1, "none (no handler took it)"),
        (["a.one", "-", "-"], 3, "a.one"),
        (
            ["a.one", "b.two"],
            1,
            "not known: identical events were in flight at once (a.one, b.two)",
        ),
    ],
    ids=["no-line", "no-handler", "retries", "ambiguous"],
)
def test_server_log_handler_of(handlers: list[str], copies: int, answer: str) -> None:
    lines = [
        parse_line(
            f" wxserver.request account=default method=POST mode=plain type=text "
            f"event=- event_key=- msg_id=1 handler={h} outcome=reply status=200 "
            f"duration_ms=1.0"
        )
        for h in handlers
    ]
    assert handler_of([line for line in lines if line is not None], copies) == answer


def test_server_log_missing_or_restarted_file(tmp_path: Path) -> None:
    log = ServerLog(tmp_path / "absent.log", "default")
    assert log.mark() == 0
    assert log.find(0, msg_id="1", event="-", event_key="-", count=1, wait=0) == []
    path = tmp_path / "server.log"
    path.write_text(
        "x wxserver.request account=default method=POST mode=plain type=text event=- "
        "event_key=- msg_id=7 handler=h.one outcome=reply status=200 duration_ms=1\n"
    )
    # Noted at a position past the end: the file was started again, so it is read whole.
    found = ServerLog(path, "default").find(
        10_000, msg_id="7", event="-", event_key="-", count=1, wait=0
    )
    assert [line.handler for line in found] == ["h.one"]
