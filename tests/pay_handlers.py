"""Pay handlers for the tests, told what to do by the order's ``attach`` field.

Each run appends one line, ``<id> <event_type> <out_trade_no> <pid>``, to ``runs.log`` in the folder
named by ``WXTEST_PAY_DIR``, so a test counts runs across processes (gunicorn workers, the job
worker). ``attach``: ``fail`` raises every time, ``fail-once`` raises on the first run of each
notification only, ``sleep:<seconds>`` takes that long.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from wxserver import HandlerSet, PayNotification, RefundNotification, TransactionNotification

handlers = HandlerSet("paytest")
background = HandlerSet("paytest-background")


def _folder() -> Path:
    return Path(os.environ["WXTEST_PAY_DIR"])


def _lines(folder: Path) -> list[list[str]]:
    path = folder / "runs.log"
    return [line.split(" ") for line in path.read_text().splitlines()] if path.exists() else []


def runs(folder: Path) -> list[list[str]]:
    """Every run so far, as [id, event_type, out_trade_no]."""
    return [line[:3] for line in _lines(folder)]


def run_pids(folder: Path) -> list[int]:
    """The process each run happened in."""
    return [int(line[3]) for line in _lines(folder)]


def _record(notification: PayNotification, order: str) -> None:
    line = f"{notification.id} {notification.event_type} {order or '-'} {os.getpid()}\n"
    with (_folder() / "runs.log").open("a") as log:
        log.write(line)


def _act(notification: TransactionNotification) -> None:
    _record(notification, notification.out_trade_no)
    attach = notification.attach
    if attach == "fail":
        raise RuntimeError("the order system is down")
    if attach == "fail-once":
        marker = _folder() / f"failed-{notification.id}"
        if not marker.exists():
            marker.touch()
            raise RuntimeError("the order system is down, once")
    if attach.startswith("sleep:"):
        time.sleep(float(attach.removeprefix("sleep:")))


@handlers.pay("TRANSACTION.SUCCESS")
def paid(notification: TransactionNotification) -> None:
    _act(notification)


@handlers.pay("REFUND.SUCCESS", "REFUND.ABNORMAL", "REFUND.CLOSED")
def refunded(notification: RefundNotification) -> None:
    _record(notification, notification.out_trade_no)


@background.pay("transaction.success", background=True)
def paid_in_the_background(notification: TransactionNotification) -> None:
    _act(notification)
