"""Which handler answered: read from the server's own request log line, when the file is known.

The server's reply does not say which handler made it; its request log line does (``handler=``),
one line per request, text or JSON (``WX_LOG_FORMAT``). Given the file the server writes its log
to (``make simulate`` writes it to ``instance/simulator-server.log``), the simulator notes where
the file ended before it sent a message and afterwards reads the lines written since: those of
its account whose message id matches (a message), or whose event and key match (an event, which
has no id). Two identical events in flight at once cannot be told apart; the answer then says so.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

_TEXT_LINE = re.compile(
    r"(?:^|\s)wxserver\.request account=(?P<account>\S+) method=(?P<method>\S+)"
    r" mode=(?P<mode>\S+) type=(?P<type>\S+) event=(?P<event>.*?) event_key=(?P<event_key>.*?)"
    r" msg_id=(?P<msg_id>\S+) handler=(?P<handler>\S+) outcome=(?P<outcome>\S+)"
    r" status=(?P<status>\d+) duration_ms=(?P<duration_ms>[0-9.]+)"
)
FIELDS = ("account", "method", "type", "event", "event_key", "msg_id", "handler", "outcome")


@dataclass(frozen=True, slots=True)
class RequestLine:
    """One request log line of the server: who answered, how, and the line as written."""

    account: str
    method: str
    type: str
    event: str
    event_key: str
    msg_id: str
    handler: str
    outcome: str
    text: str


def parse_line(line: str) -> RequestLine | None:
    """The request log line in ``line`` (text or JSON format), or None for any other line."""
    line = line.strip()
    if line.startswith("{"):
        try:
            data = json.loads(line)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("logger") != "wxserver.request":
            return None
        values = [str(data.get(name, "-")) for name in FIELDS]
    else:
        match = _TEXT_LINE.search(line)
        if match is None:
            return None
        values = [match[name] for name in FIELDS]
    account, method, msg_type, event, event_key, msg_id, handler, outcome = values
    return RequestLine(account, method, msg_type, event, event_key, msg_id, handler, outcome, line)


class ServerLog:
    """The server's log file, read from a noted position for one exchange's lines."""

    def __init__(self, path: Path, account: str) -> None:
        self.path = path
        self.account = account

    def mark(self) -> int:
        """Where the file ends now."""
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def _since(self, offset: int) -> list[RequestLine]:
        try:
            with self.path.open("rb") as handle:
                if handle.seek(0, 2) < offset:  # the file was started again
                    offset = 0
                handle.seek(offset)
                text = handle.read().decode("utf-8", "replace")
        except OSError:
            return []
        lines = (parse_line(line) for line in text.splitlines())
        return [line for line in lines if line is not None]

    def find(
        self, offset: int, *, msg_id: str, event: str, event_key: str, count: int, wait: float
    ) -> list[RequestLine]:
        """The lines of one message (``count`` copies expected), waiting up to ``wait`` s."""
        deadline = time.monotonic() + wait
        while True:
            found = [
                line
                for line in self._since(offset)
                if line.account == self.account
                and line.method == "POST"
                and (
                    line.msg_id == msg_id
                    if msg_id != "-"
                    else (line.type, line.event, line.event_key) == ("event", event, event_key)
                )
            ]
            if len(found) >= count or time.monotonic() >= deadline:
                return found
            time.sleep(0.05)


def handler_of(lines: list[RequestLine], copies: int) -> str:
    """The handler the lines name, or a sentence saying why it is not known."""
    if not lines:
        return "not in the server's log (no matching line was written)"
    named = sorted({line.handler for line in lines if line.handler != "-"})
    if len(lines) > copies and len(named) > 1:
        return "not known: identical events were in flight at once (" + ", ".join(named) + ")"
    if named:
        return named[0]
    return "none (no handler took it)"
