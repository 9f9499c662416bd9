"""A replicated Redis fails over under traffic: no message lost, none handled twice.

A primary, a replica and a Sentinel run on 127.0.0.1; gunicorn uses the store through a
``redis+sentinel://`` URL. Messages arrive four a second; after 2 s the primary is killed. The
Sentinel promotes the replica, and the server finds the new primary by itself.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.metric_values import value
from tests.redis_server import start_redis, start_sentinel, stop_redis
from tests.run_counter import runs
from tests.servers import Server, free_port, gunicorn
from tests.support import AES_KEY, APP_ID, TOKEN
from wxserver.services.config import load_settings
from wxserver.services.store import RedisStore, open_store
from wxserver.testing import build_message, open_reply, sign_request

BASE = {
    "WX_ENV": "test",
    "WX_TOKEN": TOKEN,
    "WX_APPID": APP_ID,
    "WX_ENCODING_AES_KEY": AES_KEY,
    "WX_MODE": "secure",
    "WX_PLUGINS": "tests.run_counter:handlers",
    "WX_LOAD_ENTRY_POINTS": "false",
}
ACCOUNT = load_settings(BASE).account("default")
MESSAGES = 48
KILL_AT = 8  # the message number: 2 s at four a second


def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {timeout} s")
        time.sleep(0.1)


class Replicated:
    """A primary, its replica and a Sentinel watching them."""

    def __init__(self, directory: Path) -> None:
        self.ports = [free_port() for _ in range(3)]
        self.primary = start_redis(self.ports[0], str(directory))
        self.replica = start_redis(
            self.ports[1], str(directory), "--replicaof", "127.0.0.1", str(self.ports[0])
        )
        replica = redis.Redis(port=self.ports[1])
        _until(
            lambda: replica.info("replication").get("master_link_status") == "up",
            10,
            "the replica did not sync",
        )
        self.sentinel = start_sentinel(self.ports[2], str(directory), self.ports[0])
        self.url = f"redis+sentinel://127.0.0.1:{self.ports[2]}/mymaster/0"

    def role(self, port: int) -> str:
        return str(redis.Redis(port=port).info("replication")["role"])

    def stop(self) -> None:
        for process in (self.sentinel, self.replica, self.primary):
            stop_redis(process)


@pytest.fixture
def replicated(tmp_path: Path) -> Iterator[Replicated]:
    running = Replicated(tmp_path)
    yield running
    running.stop()


def _send(server: Server, msg_id: int) -> tuple[int, str | None]:
    xml = build_message("text", Content="hi", MsgId=msg_id, from_user=f"oUser{msg_id % 4}")
    signed = sign_request(ACCOUNT, xml, "secure")
    response = httpx.post(
        f"{server.url}/wechat", params=signed.query, content=signed.body, timeout=6
    )
    return response.status_code, open_reply(
        ACCOUNT, response.status_code, response.content, ""
    ).content


def test_sentinel_failover_under_traffic_loses_no_message_and_runs_none_twice(
    replicated: Replicated, tmp_path: Path
) -> None:
    store = open_store(replicated.url)
    assert isinstance(store, RedisStore)
    store.set("before", b"1", ttl=60)
    env = {
        **BASE,
        "WX_STORE_URL": replicated.url,
        "WX_STORE_FALLBACK_URL": f"lmdb:///{tmp_path / 'fallback.lmdb'}",
        "WX_TEST_RUNS_FILE": str(tmp_path / "runs"),
    }
    answers: dict[int, tuple[int, str | None]] = {}
    with gunicorn(env, capture=False) as server:
        started = time.monotonic()
        for n in range(MESSAGES):
            if n == KILL_AT:
                replicated.primary.kill()
                replicated.primary.wait(10)
            time.sleep(max(0.0, started + n / 4 - time.monotonic()))
            msg_id = 8_000_000 + n
            answers[msg_id] = _send(server, msg_id)
        _until(lambda: replicated.role(replicated.ports[1]) == "master", 15, "no failover")
        # The next messages find the new primary: the outage ends in every worker that has one.
        for n in range(MESSAGES, MESSAGES + 6):
            time.sleep(0.5)
            answers[8_000_000 + n] = _send(server, 8_000_000 + n)
        scrape = httpx.get(f"{server.url}/internal/metrics", timeout=5).text
    assert collections.Counter(status for status, _ in answers.values()) == {200: len(answers)}
    assert all(content == f"ran {msg_id}" for msg_id, (_, content) in answers.items())
    assert collections.Counter(runs(env["WX_TEST_RUNS_FILE"])) == dict.fromkeys(answers, 1)
    assert value(scrape, "wxserver_store_degraded") == 0
    assert value(scrape, "wxserver_store_outages_total") >= 1
    # The store is the promoted replica now: what the server wrote last is there.
    promoted = redis.Redis(port=replicated.ports[1])
    assert promoted.exists(f"session:default:oUser{(8_000_000 + MESSAGES + 5) % 4}")
    assert store.get("before") == b"1"  # replicated before the failover
