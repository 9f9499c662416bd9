"""gunicorn's own log lines in wxserver's format: with ``log_format = "json"``, JSON lines too.

gunicorn writes its access lines and its master's and workers' messages to the same streams as
the app; a log collector reading JSON lines would otherwise meet plain text among them. Named by
the shipped settings as gunicorn's ``logger_class``.
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.glogging import Logger

from wxserver.protocol.errors import WxServerError
from wxserver.services.config import load_settings
from wxserver.services.logs import JsonFormatter
from wxserver.web.request_log import LOGGED

# The access line's fields, as in the text format (gunicorn_conf.access_log_format): never the
# query string, which carries the user's openid and the signatures.
_ACCESS_FIELDS = {
    "remote_addr": "h",
    "forwarded_for": "{x-forwarded-for}i",
    "forwarded_proto": "{x-forwarded-proto}i",
    "method": "m",
    "path": "U",
    "protocol": "H",
    "status": "s",
    "bytes": "B",
    "duration_us": "D",
}


def _log_format() -> str:
    """The configured log format; text if the settings are bad (the app then says why)."""
    try:
        return load_settings().log_format
    except WxServerError:
        return "text"


class GunicornLog(Logger):  # type: ignore[misc] # gunicorn has no type hints
    """gunicorn's Logger, writing JSON lines when wxserver's log format is json."""

    json = False

    def setup(self, cfg: Any) -> None:
        """gunicorn's set-up, then the JSON formatter on its handlers when asked for."""
        super().setup(cfg)
        self.json = _log_format() == "json"
        if self.json:
            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    if getattr(handler, "_gunicorn", False):
                        handler.setFormatter(JsonFormatter())

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        """One access line; in JSON mode, its parts as fields of one JSON object.

        None for a callback request: its request log line (account, outcome, status, duration)
        already says more. A second line per message cost a tenth of a worker's time per
        request, and another write to the log stream for every thread to wait on.
        """
        if environ.get(LOGGED):
            return
        if not self.json:
            super().access(resp, req, environ, request_time)
            return
        if not self.access_log_enabled:
            return
        atoms = self.atoms_wrapper_class(self.atoms(resp, req, environ, request_time))
        fields = {name: atoms[atom] for name, atom in _ACCESS_FIELDS.items()}
        for name in ("status", "bytes", "duration_us"):
            if str(fields[name]).isdigit():
                fields[name] = int(fields[name])
        self.access_log.log(
            logging.INFO,
            "%s %s %s",
            fields["method"],
            fields["path"],
            fields["status"],
            extra={"fields": fields},
        )
