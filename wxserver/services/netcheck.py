"""WeChat's own view of the callback URL: an hourly network check, for the DNS-failure alarm.

A DNS failure (the MP console's DNS失败 alarm) cannot be seen from inside the server: no request
arrives at all. So, once an hour, one process asks WeChat to resolve and ping the account's
callback URL (``/cgi-bin/callback/check``) and keeps the answer in the store; every scrape of the
metrics turns the stored answer into ``wxserver_callback_check_ok{check="dns"|"ping"}``. The
check runs on a background thread, never on a request, and under a store lock, so several
workers and machines ask WeChat once between them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wxserver.protocol.api_errors import ApiError, ApiUnavailableError
from wxserver.services.api.client import WeChatAPI
from wxserver.services.store import LockTimeout, Store

log = logging.getLogger("wxserver.netcheck")

KEEP = 3 * 86400.0


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What WeChat found: whether the URL resolved and answered ping, and when it looked."""

    checked_at: float
    dns_ok: bool
    ping_ok: bool


def judge(answer: dict[str, Any], now: float) -> CheckResult:
    """Read callback/check's answer: DNS passes with any address, ping with any reply."""
    dns = answer.get("dns") or []
    ping = answer.get("ping") or []

    def answered(entry: Any) -> bool:
        loss = str(entry.get("package_loss", "100%")).rstrip("%") if isinstance(entry, dict) else ""
        try:
            return float(loss) < 100
        except ValueError:
            return False

    return CheckResult(now, bool(dns), any(answered(entry) for entry in ping))


class NetworkCheck:
    """Runs the check at most every ``every`` seconds across all processes sharing ``store``."""

    def __init__(
        self,
        store: Store,
        api: WeChatAPI,
        *,
        every: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.api = api
        self.every = every
        self._clock = clock
        self._key = f"netcheck:{api.app_id}"
        self._running = threading.Lock()

    def last(self) -> CheckResult | None:
        """The last stored result, or None before the first check."""
        raw = self.store.get(self._key)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return CheckResult(
                float(data["checked_at"]), bool(data["dns_ok"]), bool(data["ping_ok"])
            )
        except (ValueError, KeyError, TypeError):
            return None

    def due(self) -> bool:
        """Whether the stored result is missing or older than ``every``."""
        last = self.last()
        return last is None or self._clock() - last.checked_at >= self.every

    def run(self) -> CheckResult | None:
        """Check now if due and no other process is checking; the result, or None if skipped."""
        if not self.due():
            return None
        try:
            with self.store.lock(self._key, timeout=60, wait=0):
                if not self.due():  # another process checked while this one waited
                    return None
                try:
                    answer = self.api.check_callback(action="all", operator="DEFAULT")
                except (ApiError, ApiUnavailableError) as exc:
                    # 40201 (no URL configured) and the like: nothing to judge; try next period.
                    log.warning("network check of the callback URL failed: %s", exc)
                    answer = {}
                    result = CheckResult(self._clock(), dns_ok=False, ping_ok=False)
                else:
                    result = judge(answer, self._clock())
                record = {
                    "checked_at": result.checked_at,
                    "dns_ok": result.dns_ok,
                    "ping_ok": result.ping_ok,
                }
                self.store.set(self._key, json.dumps(record).encode(), ttl=KEEP)
                if not (result.dns_ok and result.ping_ok):
                    log.warning("WeChat cannot reach the callback URL: %s", answer or "no answer")
                return result
        except LockTimeout:
            return None

    def run_in_background(self) -> None:
        """Start the check on a daemon thread when due (one at a time in this process)."""
        if not self.due() or not self._running.acquire(blocking=False):
            return

        def work() -> None:
            try:
                self.run()
            except Exception:  # the check must never take a scrape or a worker down
                log.exception("network check of the callback URL failed")
            finally:
                self._running.release()

        threading.Thread(target=work, name="wxserver-netcheck", daemon=True).start()
