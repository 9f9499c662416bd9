"""The store for several machines: one Redis server (or a managed one) shared by all of them.

Each operation is one Redis command or one server-side script, so Redis, which runs them one at a
time, makes them atomic for every client:

- ``add`` is ``SET key value NX PX ttl``;
- ``incr`` is a Lua script running ``INCR`` then ``PEXPIRE`` when the counter was just created
  (or has no expiry, which only a writer outside this store can cause), so the TTL counts from
  creation and later increments do not extend it;
- ``lock`` is redis-py's own ``Lock`` (``SET NX PX`` with a random token, released by a script that
  deletes the key only while it still holds our token). Its key is ``wxserver:lock:<name>``, so
  lock names and store keys never collide.

The ``redis`` package is an optional extra (``pip install 'wxserver[redis]'``): it is imported
when a RedisStore is created, so ``wxserver.services.store`` imports without it. redis-py's
connection pool notices a fork and reconnects in the child, so one RedisStore can be built before
gunicorn forks.

A replicated Redis with Sentinel is named by a ``redis+sentinel://`` URL:
``redis+sentinel://[:password@]host:26379[,host:26379...]/<service name>[/<database>]``. The
client asks the sentinels for the current primary and asks again after a failover, so the same
store survives one (see :func:`redis_client`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from wxserver.services.store.base import LockTimeout

if TYPE_CHECKING:
    from redis import Redis

log = logging.getLogger("wxserver.store")

_INCR = """
local count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('PTTL', KEYS[1]) == -1 then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return count
"""

LOCK_PREFIX = "wxserver:lock:"
# How often a waiter retries a held lock. Each try is one round trip, so this can be short.
_LOCK_POLL = 0.01
# A store that cannot answer within this is as good as down: better an error than a handler
# that outlives WeChat's five seconds. A ``socket_timeout=`` in the URL overrides it.
SOCKET_TIMEOUT = 2.0
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")


def _ms(seconds: float) -> int:
    # Redis expiries are whole milliseconds, at least one: round up, never down to "no TTL".
    return max(1, math.ceil(seconds * 1000))


def sentinel_parts(url: str) -> tuple[list[tuple[str, int]], str, int, str | None, bool]:
    """The sentinels, service name, database, password and TLS flag of a ``redis+sentinel://`` URL.

    ValueError names what is missing or malformed.
    """
    parts = urlsplit(url.strip())
    credentials, _, hosts = parts.netloc.rpartition("@")
    password = unquote(credentials.partition(":")[2]) if credentials else None
    sentinels: list[tuple[str, int]] = []
    for entry in hosts.split(","):
        host, _, port = entry.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"{entry!r} is not host:port; list each sentinel as host:26379")
        sentinels.append((host.strip("[]"), int(port)))
    names = [part for part in parts.path.split("/") if part]
    if not names:
        raise ValueError("a Sentinel URL names the service after the hosts: .../mymaster")
    database = names[1] if len(names) > 1 else "0"
    if len(names) > 2 or not database.isdigit():
        raise ValueError("a Sentinel URL ends in /<service name>[/<database number>]")
    return sentinels, names[0], int(database), password or None, parts.scheme.startswith("rediss")


def redis_client(url: str, **client_options: Any) -> Redis:
    """A redis-py client for a ``redis://``, ``rediss://`` or ``redis+sentinel://`` URL."""
    import redis  # noqa: PLC0415 - an optional extra, needed only by this backend
    from redis.sentinel import Sentinel  # noqa: PLC0415 - the same extra

    options: dict[str, Any] = {
        "socket_timeout": SOCKET_TIMEOUT,
        "socket_connect_timeout": SOCKET_TIMEOUT,
        **client_options,
    }
    # Values are bytes in and bytes out: never let the client decode them.
    options["decode_responses"] = False
    if urlsplit(url.strip()).scheme.lower() not in SENTINEL_SCHEMES:
        return redis.Redis.from_url(url, **options)
    sentinels, service, database, password, tls = sentinel_parts(url)
    sentinel = Sentinel(
        sentinels,
        socket_timeout=options["socket_timeout"],
        socket_connect_timeout=options["socket_connect_timeout"],
        sentinel_kwargs={"password": password} if password else None,
    )
    master: Redis = sentinel.master_for(service, db=database, password=password, ssl=tls, **options)
    return master


class RedisStore:
    """The Store on a Redis server (or the primary Sentinel names), named by its URL."""

    def __init__(self, url: str, **client_options: Any) -> None:
        import redis  # noqa: PLC0415 - an optional extra, needed only by this backend

        self._client: Redis = redis_client(url, **client_options)
        self._incr = self._client.register_script(_INCR)
        self._lock_not_owned = redis.exceptions.LockNotOwnedError

    def __repr__(self) -> str:
        kwargs = self._client.connection_pool.connection_kwargs
        service = getattr(self._client.connection_pool, "service_name", None)
        if service is not None:
            return f"RedisStore(sentinel service={service!r})"
        return f"RedisStore(host={kwargs.get('host')!r}, port={kwargs.get('port')!r})"

    @property
    def client(self) -> Redis:
        """The redis-py client, for callers that need a command the Store does not offer."""
        return self._client

    def get(self, key: str) -> bytes | None:
        value = self._client.get(key)
        if value is None or isinstance(value, bytes):
            return value
        raise TypeError(f"Redis returned {type(value).__name__} for {key!r}, expected bytes")

    def set(self, key: str, value: bytes, *, ttl: float) -> None:
        self._client.set(key, value, px=_ms(ttl))

    def add(self, key: str, value: bytes, *, ttl: float) -> bool:
        return bool(self._client.set(key, value, px=_ms(ttl), nx=True))

    def delete(self, key: str) -> None:
        self._client.delete(key)

    def incr(self, key: str, *, ttl: float) -> int:
        return int(self._incr(keys=[key], args=[_ms(ttl)]))

    @contextmanager
    def lock(self, name: str, *, timeout: float, wait: float) -> Iterator[None]:
        if timeout <= 0:
            # redis-py reads a zero timeout as "never expires", which would defeat crash recovery.
            raise ValueError(f"a lock's timeout must be positive, got {timeout}")
        lock = self._client.lock(
            LOCK_PREFIX + name,
            timeout=timeout,
            sleep=_LOCK_POLL,
            blocking=True,
            blocking_timeout=max(wait, 0.0),
            thread_local=False,
        )
        if not lock.acquire():
            raise LockTimeout(f"lock {name!r} not acquired within {wait} s")
        try:
            yield
        finally:
            try:
                lock.release()
            except self._lock_not_owned:
                # Our lease ran out (the script deleted nothing): someone else may hold it now.
                log.warning(
                    "lock %r was held longer than its timeout (%s s); another holder may have run "
                    "at the same time. Raise the timeout.",
                    name,
                    timeout,
                )
