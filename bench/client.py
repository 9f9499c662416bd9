"""A small HTTP client on 127.0.0.1: checks a sample of replies and drives the memory check."""

from __future__ import annotations

import http.client
from collections.abc import Sequence

from bench.records import Record
from bench.wire import check_reply


def post(port: int, record: Record, *, timeout: float = 10.0) -> tuple[int, bytes]:
    """POST one record to 127.0.0.1:``port``; return the status and the body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(
            "POST", record.target, body=record.body, headers={"Content-Type": "text/xml"}
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def check_sample(port: int, sample: Sequence[Record], *, mode: str, echoes: bool) -> int:
    """Send each record and check its reply; return how many were checked, raise on a mismatch."""
    for record in sample:
        status, body = post(port, record)
        check_reply(status, body, mode=mode, echoes=echoes, content=record.content)
    return len(sample)
