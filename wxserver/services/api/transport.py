"""How the WeChat API client reaches WeChat: connection lanes, failover, bounded retries.

One ``httpx.Client`` per instance keeps connections to WeChat open between calls; share one
instance per process. Its behaviour on failure, in order:

- A transport error or a 5xx (or an answer that is not JSON) moves on to the next base URL:
  api.weixin.qq.com, then the disaster-recovery api2, then the Shanghai, Shenzhen and Hong Kong
  entry points. Always names, never pinned IPs: WeChat retires IPs (48017 after the 2023 change).
  A request that must not be repeated (a message send, an OAuth code exchange) moves on only when
  it certainly never left this machine (connection refused, connect timeout); after a read
  timeout it may already have been delivered, so it raises ``ApiUnavailableError`` with
  ``outcome_unknown`` instead of sending the message twice.
- -1 (busy) and 45011 (too frequent) are retried on the same host after a short, doubling
  back-off, a few times per call in all; a -1 that outlasts that moves on to the next host,
  a 45011 does not (the limit belongs to the account, not to the host).
- Every other ``errcode != 0`` raises its typed error from ``wxserver.api_errors``.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from wxserver.protocol.api_errors import ApiError, ApiUnavailableError, RetryableApiError, classify

# The client's logger: its failover warnings read as the API client's.
log = logging.getLogger("wxserver.api")

# Raised before a single byte of the request left: safe to send again anywhere.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
Params = Callable[[], dict[str, str]]
# The connection broke without an answer (a kept-alive one the server had closed, typically).
_STALE = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)


class _Gate:
    """A counting semaphore that serves waiters first come, first served.

    threading.Semaphore lets a thread that releases take the slot straight back, so with many
    threads some wait for ever; here a released slot goes to the longest waiter.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._free = size
        self._guard = threading.Lock()
        self._waiters: collections.deque[threading.Event] = collections.deque()

    def acquire(self, timeout: float | None) -> bool:
        with self._guard:
            if self._free and not self._waiters:
                self._free -= 1
                return True
            turn = threading.Event()
            self._waiters.append(turn)
        if turn.wait(timeout):
            return True
        with self._guard:
            if turn.is_set():  # handed over just as the wait ran out
                return True
            self._waiters.remove(turn)
            return False

    def release(self) -> None:
        with self._guard:
            if self._waiters:
                self._waiters.popleft().set()  # the slot passes on, _free is unchanged
            else:
                self._free += 1


@dataclass(frozen=True, slots=True)
class _Lane:
    client: httpx.Client
    gate: _Gate


# At most this many requests per call, however it fails: WeChat's quota counts every one.
MAX_ATTEMPTS = 3


class _Pool:
    """The connections of one process, in lanes; shared by the clients made to share them."""

    def __init__(self, timeout: httpx.Timeout, max_connections: int) -> None:
        self.timeout = timeout
        self.sizes = {"api": max_connections, "credentials": 2}
        self.pid = 0
        self.lanes: dict[str, _Lane] = {}  # opened on first use, see lane()
        self.opening = threading.Lock()

    def lane(self, name: str) -> _Lane:
        # Two pools per process. Token and ticket fetches have their own small one, so that a
        # refresh, which every other process may be waiting for, never queues behind ordinary
        # calls. And one per process: connections opened before a fork (gunicorn forks its
        # workers after building the app) must not be shared with the children.
        pid = os.getpid()
        with self.opening:
            if self.pid != pid:
                self.lanes, self.pid = {}, pid
            lane = self.lanes.get(name)
            if lane is None:
                size = self.sizes[name]
                limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
                client = httpx.Client(timeout=self.timeout, limits=limits, trust_env=False)
                lane = self.lanes[name] = _Lane(client, _Gate(size))
            return lane

    def close(self) -> None:
        with self.opening:
            lanes, self.lanes = self.lanes, {}
        if self.pid == os.getpid():
            for lane in lanes.values():
                lane.client.close()


class Transport:
    """Sends requests to WeChat's base URLs in turn; returns the JSON answer or a typed error."""

    def __init__(
        self,
        base_urls: Sequence[str],
        *,
        connect_timeout: float,
        read_timeout: float,
        busy_retries: int,
        backoff: float,
        max_connections: int,
        on_error: Callable[[ApiError], None] | None,
        share: Transport | None = None,
    ) -> None:
        self.base_urls = tuple(base_urls)
        # Told of every errcode WeChat returns (metrics count them by errcode).
        self.on_error = on_error
        # Requests one call may make in all: busy retries, a stale connection, failovers.
        self.max_attempts = MAX_ATTEMPTS
        self.busy_retries = busy_retries
        self.backoff = backoff
        self._timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=read_timeout, pool=read_timeout
        )
        # ``share``: use that client's connections (the many authorizers of one component).
        self._pool: _Pool = (
            share._pool if share is not None else _Pool(self._timeout, max_connections)
        )

    def close(self) -> None:
        """Close the pooled connections (those of every client sharing them)."""
        self._pool.close()

    def _lane(self, name: str) -> _Lane:
        return self._pool.lane(name)

    def _request(
        self, lane_name: str, method: str, base: str, path: str, params: Params, **options: Any
    ) -> httpx.Response:
        # At most as many requests as connections enter the pool; the others wait here.
        # httpcore's pool can close a connection it has just given to a queued request when
        # many threads wait on it (encode/httpcore#1110), so its queue is kept empty.
        lane = self._lane(lane_name)
        if not lane.gate.acquire(timeout=self._timeout.pool):
            busy = f"all {lane.gate.size} connections stayed busy for {self._timeout.pool} s"
            raise ApiUnavailableError(path, [busy])
        try:
            # The parameters (the access_token) are read only now that a connection is free:
            # a token read before a long wait may have expired by the time it is sent.
            return lane.client.request(method, base + path, params=params(), **options)
        finally:
            lane.gate.release()

    def _send(
        self,
        method: str,
        path: str,
        params: Params,
        body: Mapping[str, Any] | None,
        *,
        idempotent: bool = True,
        lane: str = "api",
    ) -> dict[str, Any]:
        # ensure_ascii=False: some endpoints (menus, messages) show \u escapes literally.
        content = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"} if content else {}
        attempts: list[str] = []
        busy = index = sent = 0
        stale_retry = idempotent
        # Credentials are fetched for their owner, whose own back-off is the one retry loop.
        owned = lane == "credentials"
        busy_retries = 0 if owned else self.busy_retries
        while index < len(self.base_urls) and sent < self.max_attempts:
            base = self.base_urls[index]
            sent += 1
            try:
                response = self._request(
                    lane, method, base, path, params, content=content, headers=headers
                )
            except httpx.TransportError as exc:
                attempts.append(f"{base}: {type(exc).__name__} {exc}".rstrip())
                if not idempotent and not isinstance(exc, _NOT_SENT):
                    raise ApiUnavailableError(path, attempts, outcome_unknown=True) from exc
                if stale_retry and isinstance(exc, _STALE):
                    # A kept-alive connection closed under the request: once more, on a new one.
                    stale_retry = False
                    continue
                log.warning("%s%s failed (%s); trying the next base URL", base, path, attempts[-1])
                index += 1
                continue
            data = _json(response)
            if data is None:
                attempts.append(f"{base}: HTTP {response.status_code}, no JSON answer")
                log.warning("%s%s answered HTTP %s", base, path, response.status_code)
                index += 1
                continue
            errcode = data.get("errcode", 0)
            if not isinstance(errcode, int) or errcode == 0:
                return data
            error = classify(errcode, str(data.get("errmsg", "")), path=path)
            if self.on_error is not None:
                self.on_error(error)
            if isinstance(error, RetryableApiError) and sent < self.max_attempts:
                if busy < busy_retries:
                    time.sleep(self.backoff * 2**busy)
                    busy += 1
                    continue
                if errcode == -1 and not owned and index + 1 < len(self.base_urls):
                    attempts.append(f"{base}: errcode -1")
                    index += 1
                    continue
            raise error
        raise ApiUnavailableError(path, attempts)


def _json(response: httpx.Response) -> dict[str, Any] | None:
    if response.status_code >= 500:
        return None
    try:
        data = json.loads(response.content)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
