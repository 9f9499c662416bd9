"""WeChat Pay notifications through the shipped nginx site: the Wechatpay-* headers get through."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.nginx_server import Nginx, nginx
from tests.pay_handlers import runs
from tests.pay_keys import apiv3_key
from tests.pay_support import Merchant, Signers, notification_id
from tests.servers import gunicorn
from tests.web.nginx_stack import ENV, TIMEOUT, address

PATH = "/wechat/pay/notify"


@pytest.fixture(scope="module")
def served(pay_signers: Signers, tmp_path_factory: pytest.TempPathFactory) -> Merchant:
    made = Merchant(tmp_path_factory.mktemp("merchant"), apiv3_key(), pay_signers)
    made.write_keys()
    return made


@pytest.fixture(scope="module")
def pay_edge(served: Merchant) -> Iterator[Nginx]:
    env = {**ENV, **served.environment(), "WX_PLUGINS": "tests.pay_handlers:handlers"}
    with gunicorn(env, workers=1, capture=False) as backend, nginx(address(backend)) as edge:
        yield edge


def _post(edge: Nginx, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    with httpx.Client(verify=edge.ssl_context(), timeout=TIMEOUT) as client:
        return client.post(url + PATH, content=body, headers=headers)


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_nginx_pay_headers_reach_the_app(pay_edge: Nginx, served: Merchant, scheme: str) -> None:
    before = len(runs(served.folder))
    body, headers = served.notification()
    url = pay_edge.https_url if scheme == "https" else pay_edge.http_url
    answer = _post(pay_edge, url, body, headers | {"Content-Type": "application/json"})
    # 200 means the app verified the signature: every Wechatpay-* header arrived intact.
    assert answer.status_code == 200
    assert len(runs(served.folder)) == before + 1
    assert runs(served.folder)[-1][0] == notification_id(body)


def test_nginx_pay_without_the_headers_is_refused(pay_edge: Nginx, served: Merchant) -> None:
    body, _ = served.notification()
    answer = _post(pay_edge, pay_edge.https_url, body, {"Content-Type": "application/json"})
    assert answer.status_code == 401
    assert answer.json()["code"] == "FAIL"
    assert "lacks Wechatpay-Timestamp" in answer.json()["message"]
