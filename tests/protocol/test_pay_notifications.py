"""Typed notifications from a verified body: transactions, refunds, others kept raw."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from wxserver import (
    HandlerSet,
    RefundNotification,
    TransactionNotification,
    UnknownPayNotification,
)
from wxserver.protocol.pay.errors import PayBodyError, PayDecryptError
from wxserver.protocol.pay.notifications import notification_from
from wxserver.protocol.pay.notify import fail_body, open_notification
from wxserver.protocol.pay.routing import PayRouter
from wxserver.protocol.pay.simulate import build_notification, sample_refund, sample_transaction

KEY = b"0123456789abcdefghijABCDEFGHIJ01"
ENVELOPE = {"id": "EV-2018022511223320873", "event_type": "TRANSACTION.SUCCESS"}
CST = timezone(timedelta(hours=8))


def test_transaction_fields_amounts_in_fen_and_aware_times() -> None:
    resource = sample_transaction("1900000109", out_trade_no="order-1", total=1999, attach="x")
    resource["success_time"] = "2018-06-08T10:34:56+08:00"
    body = build_notification("TRANSACTION.SUCCESS", resource, KEY, notification_id="EV-1")
    notification = open_notification(body, KEY)
    assert isinstance(notification, TransactionNotification)
    assert (notification.id, notification.event_type) == ("EV-1", "TRANSACTION.SUCCESS")
    assert notification.out_trade_no == "order-1"
    assert notification.mchid == "1900000109"
    assert notification.amount.total == 1999
    assert notification.amount.payer_total == 1999
    assert notification.amount.currency == "CNY"
    assert notification.attach == "x"
    assert notification.payer_openid == "oWxServerSimulatedPayer0000"
    assert notification.success_time == datetime(2018, 6, 8, 2, 34, 56, tzinfo=UTC)
    assert notification.create_time is not None
    assert notification.create_time.tzinfo is not None
    assert notification.original_type == "transaction"
    assert notification.summary == "支付成功"
    assert notification.raw["payer"]["openid"] == "oWxServerSimulatedPayer0000"


@pytest.mark.parametrize("event", ["REFUND.SUCCESS", "REFUND.ABNORMAL", "REFUND.CLOSED"])
def test_refund_fields(event: str) -> None:
    status = event.partition(".")[2]
    resource = sample_refund(
        "1900000109", out_trade_no="order-1", refund=500, total=1999, status=status
    )
    notification = open_notification(build_notification(event, resource, KEY), KEY)
    assert isinstance(notification, RefundNotification)
    assert notification.refund_status == status
    assert notification.amount.refund == 500
    assert notification.amount.total == 1999
    assert notification.out_refund_no == resource["out_refund_no"]
    assert notification.success_time is not None
    assert notification.success_time.tzinfo is not None


def test_unknown_event_type_is_kept_raw() -> None:
    body = build_notification("PARKING.SUCCESS", {"plate": "粤B12345", "n": 3}, KEY)
    notification = open_notification(body, KEY)
    assert isinstance(notification, UnknownPayNotification)
    assert dict(notification.raw) == {"plate": "粤B12345", "n": 3}


@pytest.mark.parametrize(
    ("resource", "field", "expected"),
    [
        ({"amount": {"total": "100"}}, "total", 100),
        ({"amount": {"total": "1.00"}}, "total", None),
        ({"amount": {"total": True}}, "total", None),
        ({"amount": "100"}, "total", None),
        ({}, "total", None),
    ],
    ids=["digits-as-text", "yuan-not-fen", "bool", "amount-not-object", "missing"],
)
def test_amount_malformed_is_none(resource: dict[str, Any], field: str, expected: object) -> None:
    notification = notification_from(ENVELOPE, resource)
    assert isinstance(notification, TransactionNotification)
    assert getattr(notification.amount, field) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2018-06-08T10:34:56+08:00", datetime(2018, 6, 8, 10, 34, 56, tzinfo=CST)),
        ("2018-06-08T10:34:56", datetime(2018, 6, 8, 10, 34, 56, tzinfo=CST)),
        ("yesterday", None),
        (12345, None),
    ],
    ids=["with-offset", "without-offset-is-china-time", "not-a-time", "number"],
)
def test_times_are_aware_or_none(text: object, expected: datetime | None) -> None:
    notification = notification_from(ENVELOPE, {"success_time": text, "out_trade_no": 7})
    assert isinstance(notification, TransactionNotification)
    assert notification.success_time == expected
    assert notification.out_trade_no == ""  # a number where text belongs: empty


def test_notification_is_frozen_and_pickles() -> None:
    notification = notification_from(ENVELOPE, sample_transaction("1900000109"))
    with pytest.raises(AttributeError):
        notification.id = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        notification.raw["appid"] = "x"  # type: ignore[index]
    # A job queue pickles what it carries.
    assert pickle.loads(pickle.dumps(notification)) == notification  # noqa: S301


@pytest.mark.parametrize(
    ("body", "error", "match"),
    [
        (b"<xml/>", PayBodyError, "not JSON"),
        (b"[1]", PayBodyError, "not a JSON object"),
        (b'{"id": "EV"}', PayBodyError, "no resource"),
        (b'{"resource": {"algorithm": "AES_128"}}', PayBodyError, "AES_128"),
        (
            b'{"resource": {"algorithm": "AEAD_AES_256_GCM", "nonce": 1, "ciphertext": ""}}',
            PayBodyError,
            "must be text",
        ),
        (
            json.dumps(
                {
                    "resource": {
                        "algorithm": "AEAD_AES_256_GCM",
                        "nonce": "0123456789ab",
                        "associated_data": "transaction",
                        "ciphertext": "QUJDREVGR0hJSktMTU5PUFFSU1RVVg==",
                    }
                }
            ).encode(),
            PayDecryptError,
            "does not authenticate",
        ),
    ],
    ids=["xml", "array", "no-resource", "other-algorithm", "nonce-not-text", "forged-ciphertext"],
)
def test_open_refuses_what_is_not_a_notification(
    body: bytes, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        open_notification(body, KEY)


def test_fail_body_is_wechat_pays_failure_json() -> None:
    assert json.loads(fail_body("签名错误")) == {"code": "FAIL", "message": "签名错误"}


def test_handler_set_pay_registers_by_event_type_in_order() -> None:
    handlers = HandlerSet("shop")

    @handlers.pay("transaction.success")
    def paid(notification: TransactionNotification) -> None: ...

    @handlers.pay
    def anything(notification: object) -> None: ...

    assert paid.__name__ == "paid"  # returned unchanged
    router = PayRouter([handlers])
    transaction = notification_from(ENVELOPE, {})
    refund = notification_from({"event_type": "REFUND.SUCCESS"}, {})
    assert [rule.name for rule in router.rules] == ["shop.paid", "shop.anything"]
    matched = router.match(transaction)
    assert matched is not None
    assert matched.handler is paid
    matched = router.match(refund)
    assert matched is not None
    assert matched.handler is anything
    assert router.rule("shop.paid") is router.rules[0]
    assert handlers.rules == []  # pay rules never see messages


def test_handler_set_pay_with_no_match() -> None:
    handlers = HandlerSet("shop")
    handlers.pay("REFUND.SUCCESS", background=True)(lambda notification: None)
    router = PayRouter([handlers])
    assert router.rules[0].background
    assert router.match(notification_from(ENVELOPE, {})) is None
