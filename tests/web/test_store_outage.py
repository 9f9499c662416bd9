"""Redis stopped for 8 seconds under traffic: every message still answered once, nothing restarted.

Two gunicorn instances and a job worker share one real redis-server. Messages arrive twice a
second, alternately at each instance; at 4 s the Redis process is stopped, at 12 s a new one
starts on the same port.
"""

from __future__ import annotations

import collections
import time
from pathlib import Path

import httpx

from tests.metric_values import value
from tests.redis_server import start_redis, stop_redis
from tests.run_counter import runs
from tests.servers import Server, free_port, gunicorn, job_worker
from tests.support import AES_KEY, APP_ID, TOKEN
from wxserver.services.config import load_settings
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
MESSAGES = 32
STOP_AT, START_AT = 8, 24  # message numbers: 4 s and 12 s at two a second


def _send(server: Server, msg_id: int) -> tuple[int, str | None]:
    xml = build_message("text", Content="hi", MsgId=msg_id, from_user=f"oUser{msg_id % 3}")
    signed = sign_request(ACCOUNT, xml, "secure")
    response = httpx.post(
        f"{server.url}/wechat", params=signed.query, content=signed.body, timeout=6
    )
    reply = open_reply(ACCOUNT, response.status_code, response.content, "")
    return response.status_code, reply.content


def _degraded(server: Server) -> tuple[str, float]:
    ready = httpx.get(f"{server.url}/readyz", timeout=5)
    scrape = httpx.get(f"{server.url}/internal/metrics", timeout=5).text
    assert ready.status_code == 200
    return ready.text, value(scrape, "wxserver_store_degraded")


def test_store_outage_of_8_s_under_traffic_answers_every_message_once(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "redis").mkdir()
    redis = start_redis(port, str(tmp_path / "redis"))
    env = {
        **BASE,
        "WX_STORE_URL": f"redis://127.0.0.1:{port}/0",
        "WX_STORE_FALLBACK_URL": f"lmdb:///{tmp_path / 'fallback.lmdb'}",
        "WX_TEST_RUNS_FILE": str(tmp_path / "runs"),
    }
    worker_log = tmp_path / "worker.log"
    answers: dict[int, tuple[int, str | None]] = {}
    try:
        with (
            gunicorn(env, capture=False) as first,
            gunicorn(env, capture=False) as second,
            job_worker(env, worker_log),
        ):
            before = len(worker_log.read_text().splitlines())
            during: list[tuple[str, float]] = []
            started = time.monotonic()
            for n in range(MESSAGES):
                if n == STOP_AT:
                    stop_redis(redis)
                elif n == START_AT:
                    during.append(_degraded(first))
                    outage_lines = len(worker_log.read_text().splitlines()) - before
                    redis = start_redis(port, str(tmp_path / "redis"))
                time.sleep(max(0.0, started + n / 2 - time.monotonic()))
                msg_id = 7_000_000 + n
                answers[msg_id] = _send(first if n % 2 else second, msg_id)
            after = [_degraded(server) for server in (first, second)]
    finally:
        stop_redis(redis)
    statuses = collections.Counter(status for status, _ in answers.values())
    assert statuses == {200: MESSAGES}
    assert all(content == f"ran {msg_id}" for msg_id, (_, content) in answers.items())
    assert collections.Counter(runs(env["WX_TEST_RUNS_FILE"])) == dict.fromkeys(answers, 1)
    ((text, gauge),) = during
    assert text.startswith("ready, degraded:\n- the shared store cannot be reached")
    assert gauge == 1
    assert after == [("ready\n", 0), ("ready\n", 0)]
    assert outage_lines <= 4, worker_log.read_text()


def test_store_outage_worker_writes_each_line_once(tmp_path: Path) -> None:
    env = {
        **BASE,
        "WX_STORE_URL": f"lmdb:///{tmp_path / 'store.lmdb'}",
        "WX_PLUGINS": "wxserver.builtin.echo:handlers",
    }
    log = tmp_path / "worker.log"
    with job_worker(env, log):
        pass
    written = [line.split(" ", 2)[-1] for line in log.read_text().splitlines() if line]
    assert sum("started; handler sets of default: echo" in line for line in written) == 1
    assert len(written) == len(set(written))
