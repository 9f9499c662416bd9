"""The request log line of the callback URL: one line per request.

The line names the account, method, mode, message type, event, event key, message id, handler,
outcome, status and duration; a refusal's sentence goes last, quoted, as the one field with
spaces in it. Formatters also get the fields as a dict (``record.fields``, for JSON logs).
"""

from __future__ import annotations

import logging
from typing import Protocol

log = logging.getLogger("wxserver.request")

# Set in the WSGI environ of a request this line was written for: gunicorn's access line would
# say the same again (see wxserver.web.gunicorn_log).
LOGGED = "wxserver.request_logged"

# The fields of the request log line, in order.
FIELDS = (
    "account",
    "method",
    "mode",
    "type",
    "event",
    "event_key",
    "msg_id",
    "handler",
    "outcome",
    "status",
    "duration_ms",
)
_LINE = " ".join(f"{name}=%s" for name in FIELDS)
_LINE_WITH_REASON = _LINE + " reason=%r"


class Facts(Protocol):
    """What the line says of a request's answer."""

    @property
    def mode(self) -> str: ...
    @property
    def msg_type(self) -> str: ...
    @property
    def event(self) -> str: ...
    @property
    def event_key(self) -> str: ...
    @property
    def msg_id(self) -> str: ...
    @property
    def handler(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def reason(self) -> str: ...


def write(account: str, method: str, facts: Facts, status: int, seconds: float) -> None:
    """Log one request: INFO when answered, WARNING when refused or answered for a fault."""
    level = logging.WARNING if status >= 400 or facts.reason else logging.INFO
    if not log.isEnabledFor(level):
        return
    values: tuple[object, ...] = (
        account,
        method,
        facts.mode,
        facts.msg_type,
        facts.event,
        facts.event_key,
        facts.msg_id,
        facts.handler,
        facts.outcome,
        status,
        round(seconds * 1000, 2),
    )
    fields: dict[str, object] = dict(zip(FIELDS, values, strict=True))
    line = _LINE
    if facts.reason:
        fields["reason"] = facts.reason
        values += (facts.reason,)
        line = _LINE_WITH_REASON
    log.handle(_record(level, line, values, fields))


def _record(
    level: int, line: str, values: tuple[object, ...], fields: dict[str, object]
) -> logging.LogRecord:
    # Made here, with the logger's public makeRecord, rather than by log.log(), which would also
    # walk the stack to find the caller on every request: this is the caller.
    made = log.makeRecord(log.name, level, __file__, 0, line, values, None, "respond")
    made.fields = fields
    return made
