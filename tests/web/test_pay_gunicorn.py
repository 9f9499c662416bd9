"""WeChat Pay notifications end to end: a real gunicorn (two workers) and the job worker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.pay_handlers import run_pids, runs
from tests.pay_keys import apiv3_key
from tests.pay_support import Merchant, Signers
from tests.servers import Server, gunicorn, job_worker
from tests.support import TOKEN

PATH = "/wechat/pay/notify"


def _environment(merchant: Merchant, plugins: str, **extra: str) -> dict[str, str]:
    return {
        "WX_ENV": "test",
        "WX_TOKEN": TOKEN,
        "WX_PLUGINS": plugins,
        "WX_LOAD_ENTRY_POINTS": "false",
        **merchant.environment(),
        **extra,
    }


@pytest.fixture(scope="module")
def served(pay_signers: Signers, tmp_path_factory: pytest.TempPathFactory) -> Merchant:
    folder = tmp_path_factory.mktemp("merchant")
    made = Merchant(folder, apiv3_key(), pay_signers)
    made.write_keys()
    return made


@pytest.fixture(scope="module")
def server(served: Merchant) -> Iterator[Server]:
    env = _environment(served, "tests.pay_handlers:handlers", WX__PAY__BUDGET="1")
    with gunicorn(env, workers=2, capture=False) as running:
        yield running


@pytest.fixture
def merchant(served: Merchant) -> Merchant:
    """The served merchant, its run log emptied for this test."""
    (served.folder / "runs.log").unlink(missing_ok=True)
    return served


def _post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(url + PATH, content=body, headers=headers, timeout=10)


def test_pay_gunicorn_concurrent_deliveries_run_the_handler_once(
    server: Server, merchant: Merchant
) -> None:
    body, _ = merchant.notification(attach="sleep:0.3")
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: _post(server.url, body, merchant.signed(body)), range(4)))
    assert [answer.status_code for answer in answers] == [200] * 4
    assert len(runs(merchant.folder)) == 1


def test_pay_gunicorn_failure_then_the_next_delivery_runs_again(
    server: Server, merchant: Merchant
) -> None:
    body, headers = merchant.notification(attach="fail-once")
    first = _post(server.url, body, headers)
    assert first.status_code == 500
    assert first.json()["code"] == "FAIL"
    assert _post(server.url, body, merchant.signed(body)).status_code == 200
    assert _post(server.url, body, merchant.signed(body)).status_code == 200
    assert len(runs(merchant.folder)) == 2


def test_pay_gunicorn_forgery_is_refused(server: Server, merchant: Merchant) -> None:
    body = merchant.body()
    answer = _post(server.url, body, merchant.signed(body, merchant.signers.stranger))
    assert answer.status_code == 401
    assert answer.json()["code"] == "FAIL"
    assert runs(merchant.folder) == []


def test_pay_gunicorn_slow_handler_answered_in_budget_and_finished_once(
    server: Server, merchant: Merchant
) -> None:
    body, headers = merchant.notification(attach="sleep:2")
    first = _post(server.url, body, headers)
    assert first.status_code == 503  # the budget (1 s here) ran out first
    assert "still being handled" in first.json()["message"]
    statuses: list[int] = []
    deadline = time.monotonic() + 15
    while (not statuses or statuses[-1] != 200) and time.monotonic() < deadline:
        time.sleep(0.2)
        statuses.append(_post(server.url, body, merchant.signed(body)).status_code)
    assert statuses[-1] == 200
    assert len(runs(merchant.folder)) == 1


def test_pay_gunicorn_background_handler_runs_as_a_job_in_the_worker(
    served: Merchant, tmp_path: Path
) -> None:
    (served.folder / "runs.log").unlink(missing_ok=True)
    env = _environment(
        served,
        "tests.pay_handlers:background",
        WX_STORE_URL=f"sqlite:///{tmp_path}/store.db",
    )
    with job_worker(env) as worker, gunicorn(env, workers=1, capture=False) as running:
        body, headers = served.notification()
        answer = _post(running.url, body, headers)
        assert answer.status_code == 200
        again = _post(running.url, body, served.signed(body))
        assert again.status_code == 200
        assert run_pids(served.folder) == [worker.pid]
