"""The notify URL in-process: verified, decrypted, handled once; refused, and never handled."""

from __future__ import annotations

import base64
import json
import logging
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.metric_values import value
from tests.pay_handlers import runs
from tests.pay_support import Merchant, notification_id
from tests.support import HERMETIC_ENV
from wxserver import create_app
from wxserver.protocol.pay.simulate import sample_refund

PATH = "/wechat/pay/notify"


@pytest.fixture
def app(merchant: Merchant) -> Flask:
    return create_app(merchant.config(), environ=HERMETIC_ENV)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _post(client: FlaskClient, body: bytes, headers: dict[str, str]) -> Any:
    return client.post(PATH, data=body, headers={"Content-Type": "application/json", **headers})


def _fail(response: Any) -> str:
    data = json.loads(response.data)
    assert set(data) == {"code", "message"}
    assert data["code"] == "FAIL"
    message: str = data["message"]
    return message


def test_pay_signed_transaction_is_verified_decrypted_and_handled(
    client: FlaskClient, merchant: Merchant
) -> None:
    body, headers = merchant.notification(out_trade_no="order-42")
    response = _post(client, body, headers)
    assert response.status_code == 200
    assert response.data == b""
    assert runs(merchant.folder) == [[notification_id(body), "TRANSACTION.SUCCESS", "order-42"]]


def test_pay_same_notification_three_times_runs_the_handler_once(
    client: FlaskClient, merchant: Merchant
) -> None:
    body, _ = merchant.notification()
    statuses: list[int] = []
    for _ in range(3):
        # WeChat signs each delivery afresh; the notification (its id) stays the same.
        statuses.append(_post(client, body, merchant.signed(body)).status_code)
    assert statuses == [200, 200, 200]
    assert len(runs(merchant.folder)) == 1


@pytest.mark.parametrize("signer", ["certificate", "public_key"])
def test_pay_certificate_serial_and_public_key_both_verify_in_one_server(
    client: FlaskClient, merchant: Merchant, signer: str
) -> None:
    body, headers = merchant.notification(signer=getattr(merchant.signers, signer))
    assert _post(client, body, headers).status_code == 200
    assert len(runs(merchant.folder)) == 1


def _tampered(merchant: Merchant, field: str) -> tuple[bytes, dict[str, str]]:
    """A body whose resource was altered, then signed again (as by WeChat Pay's own key)."""
    body = json.loads(merchant.body())
    resource = body["resource"]
    if field == "ciphertext":
        raw = bytearray(base64.b64decode(resource["ciphertext"]))
        raw[3] ^= 0x40
        resource["ciphertext"] = base64.b64encode(bytes(raw)).decode()
    else:
        resource["associated_data"] = "refund"
    data = json.dumps(body).encode()
    return data, merchant.signed(data)


REFUSALS = {
    "wrong-signature": (401, "does not verify"),
    "unknown-serial": (401, "no platform certificate or WeChat Pay public key"),
    "stale-timestamp": (401, "outside the 300 s window"),
    "missing-header": (401, "lacks Wechatpay-Signature"),
    "body-changed-after-signing": (401, "does not verify"),
    "tampered-ciphertext": (400, "does not authenticate"),
    "tampered-associated-data": (400, "does not authenticate"),
}


def _forgery(merchant: Merchant, case: str) -> tuple[bytes, dict[str, str]]:
    signers = merchant.signers
    body = merchant.body()
    if case == "wrong-signature":
        headers = merchant.signed(body, signers.stranger)
        return body, headers | {"Wechatpay-Serial": signers.certificate.serial}
    if case == "unknown-serial":
        return body, merchant.signed(body, signers.stranger)
    if case == "stale-timestamp":
        return body, merchant.signed(body, timestamp=int(time.time()) - 301)
    if case == "missing-header":
        headers = merchant.signed(body)
        del headers["Wechatpay-Signature"]
        return body, headers
    if case == "body-changed-after-signing":
        headers = merchant.signed(body)
        return merchant.body(), headers
    return _tampered(merchant, case.removeprefix("tampered-").replace("-", "_"))


@pytest.mark.parametrize("case", list(REFUSALS))
def test_pay_forgeries_are_refused_and_never_handled(
    client: FlaskClient, merchant: Merchant, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    body, headers = _forgery(merchant, case)
    with caplog.at_level(logging.WARNING, logger="wxserver.pay"):
        response = _post(client, body, headers)
    status, sentence = REFUSALS[case]
    assert response.status_code == status
    assert response.content_type.startswith("application/json")
    assert sentence in _fail(response)
    assert runs(merchant.folder) == []
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("pay "))
    assert f"serial={headers.get('Wechatpay-Serial', '-')}" in line
    assert f"status={status}" in line


def test_pay_handler_that_raises_answers_fail_and_runs_again_next_time(
    client: FlaskClient, merchant: Merchant
) -> None:
    body, headers = merchant.notification(attach="fail-once")
    first = _post(client, body, headers)
    assert first.status_code == 500
    assert "handler paytest.paid raised RuntimeError" in _fail(first)
    assert _post(client, body, merchant.signed(body)).status_code == 200
    assert _post(client, body, merchant.signed(body)).status_code == 200
    assert len(runs(merchant.folder)) == 2


def test_pay_handler_that_always_raises_is_run_on_every_delivery(
    client: FlaskClient, merchant: Merchant
) -> None:
    body, _ = merchant.notification(attach="fail")
    assert [_post(client, body, merchant.signed(body)).status_code for _ in range(3)] == [500] * 3
    assert len(runs(merchant.folder)) == 3


def test_pay_refund_goes_to_the_refund_handler(client: FlaskClient, merchant: Merchant) -> None:
    resource = sample_refund("1900000109", out_trade_no="order-7", refund=50, total=100)
    body = merchant.body(resource, "REFUND.SUCCESS")
    assert _post(client, body, merchant.signed(body)).status_code == 200
    assert runs(merchant.folder) == [[notification_id(body), "REFUND.SUCCESS", "order-7"]]


def test_pay_event_type_no_handler_takes_is_acknowledged(
    client: FlaskClient, merchant: Merchant
) -> None:
    body = merchant.body({"anything": 1}, "PARKING.SUCCESS")
    assert _post(client, body, merchant.signed(body)).status_code == 200
    assert runs(merchant.folder) == []


def test_pay_without_any_pay_handler_answers_fail(merchant: Merchant) -> None:
    config = merchant.config(plugins=["wxserver.builtin.echo:handlers"])
    client = create_app(config, environ=HERMETIC_ENV).test_client()
    body, headers = merchant.notification()
    response = _post(client, body, headers)
    assert response.status_code == 503
    assert "no handler" in _fail(response)


def test_pay_slow_handler_is_answered_within_the_budget_and_goes_on(merchant: Merchant) -> None:
    client = create_app(merchant.config(budget=0.5), environ=HERMETIC_ENV).test_client()
    body, headers = merchant.notification(attach="sleep:1.5")
    response = _post(client, body, headers)
    # Answered before the handler finished: WeChat will send it again.
    assert response.status_code == 503
    assert "still being handled" in _fail(response)
    assert len(runs(merchant.folder)) == 1
    statuses: list[int] = []
    deadline = time.monotonic() + 10
    while (not statuses or statuses[-1] != 200) and time.monotonic() < deadline:
        statuses.append(_post(client, body, merchant.signed(body)).status_code)
    assert statuses[-1] == 200
    assert set(statuses) <= {200, 503}
    assert len(runs(merchant.folder)) == 1


def test_pay_body_too_large_is_refused(merchant: Merchant) -> None:
    client = create_app(
        merchant.config() | {"max_body_size": 1024}, environ=HERMETIC_ENV
    ).test_client()
    body = merchant.body(merchant.transaction(attach="x" * 2000))
    response = _post(client, body, merchant.signed(body))
    assert response.status_code == 413
    assert "larger than 1024 bytes" in _fail(response)


def test_pay_answers_post_only(client: FlaskClient) -> None:
    assert client.get(PATH).status_code == 405


def test_pay_metrics_count_each_notification(app: Flask, merchant: Merchant) -> None:
    client = app.test_client()
    body, headers = merchant.notification()
    _post(client, body, headers)
    _post(client, body, merchant.signed(body))
    _post(client, body, merchant.signed(body, merchant.signers.stranger))
    scrape = app.extensions["wxserver"].metrics.exposition().decode()
    event = "TRANSACTION.SUCCESS"
    name = "wxserver_pay_notifications_total"
    assert value(scrape, name, event_type=event, outcome="handled") == 1
    assert value(scrape, name, event_type=event, outcome="duplicate") == 1
    assert value(scrape, "wxserver_pay_refused_total", error="UnknownSerialError") == 1
    assert value(scrape, "wxserver_pay_seconds_count") == 3


def test_pay_path_is_configurable(merchant: Merchant) -> None:
    client = create_app(merchant.config(path="/shop/notify"), environ=HERMETIC_ENV).test_client()
    body, headers = merchant.notification()
    assert client.post("/shop/notify", data=body, headers=headers).status_code == 200
    assert client.post(PATH, data=body, headers=headers).status_code == 404


def test_pay_bug_of_ours_is_a_logged_500_with_the_fail_json(
    app: Flask,
    merchant: Merchant,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(app.extensions["wxserver"].pay, "answer", broken)
    body, headers = merchant.notification()
    with caplog.at_level(logging.ERROR):
        response = _post(app.test_client(), body, headers)
    assert response.status_code == 500
    assert "Internal error" in _fail(response)
    assert "unexpected error: KeyError" in caplog.text


def test_pay_log_line_keeps_a_sent_serial_to_one_field(
    client: FlaskClient, merchant: Merchant, caplog: pytest.LogCaptureFixture
) -> None:
    body = merchant.body()
    headers = merchant.signed(body) | {"Wechatpay-Serial": "X outcome=handled status=200"}
    with caplog.at_level(logging.WARNING, logger="wxserver.pay"):
        assert _post(client, body, headers).status_code == 401
    assert "serial=X?outcome?handled?status?200 " in caplog.text
