"""Typed WeChat Pay notifications: a transaction, a refund, or any other event kept raw.

Each is a frozen dataclass built from the notification's envelope (``id``, ``event_type``,
``create_time``, ``summary``) and its decrypted resource, with WeChat's own field names. Amounts
are integers in fen (分), times aware datetimes. Lenient like the messages: a field left out or
malformed is "" for text and None for a number or time, and ``raw`` keeps the decrypted resource as
it arrived (read-only), for the fields not modelled here (promotions, partner-mode ids ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

__all__ = [
    "PayNotification",
    "RefundAmount",
    "RefundNotification",
    "TransactionAmount",
    "TransactionNotification",
    "UnknownPayNotification",
    "notification_from",
]

# WeChat Pay's times carry their offset; one without is read in China Standard Time.
CHINA = timezone(timedelta(hours=8), "CST")


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({key: _freeze(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(item) for item in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_thaw(item) for item in value]
    return value


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    return value.strip() if isinstance(value, str) else ""


def _fen(data: Mapping[str, Any], name: str) -> int | None:
    value = data.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _time(data: Mapping[str, Any], name: str) -> datetime | None:
    value = data.get(name)
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=CHINA)


def _section(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name)
    return value if isinstance(value, Mapping) else {}


def _rebuild(cls: type[PayNotification], values: dict[str, Any]) -> PayNotification:
    return cls(**values)


@dataclass(frozen=True, slots=True, kw_only=True)
class PayNotification:
    """What every notification carries: its id, event type and times, and the resource raw."""

    id: str
    event_type: str
    create_time: datetime | None
    summary: str
    original_type: str
    raw: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, compare=False
    )

    def __post_init__(self) -> None:
        # Frozen all the way down: a handler must not be able to alter what it was given.
        object.__setattr__(self, "raw", _freeze(self.raw))

    def __reduce__(self) -> tuple[Any, ...]:
        # A mappingproxy does not pickle; a job queue does: travel as plain values.
        values = {item.name: getattr(self, item.name) for item in fields(self)}
        values["raw"] = _thaw(self.raw)
        return (_rebuild, (type(self), values))


@dataclass(frozen=True, slots=True)
class TransactionAmount:
    """A payment's amounts in fen: what the order cost and what the payer paid."""

    total: int | None
    payer_total: int | None
    currency: str
    payer_currency: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionNotification(PayNotification):
    """TRANSACTION.SUCCESS (支付成功): the order ``out_trade_no`` was paid."""

    appid: str
    mchid: str
    out_trade_no: str
    transaction_id: str
    trade_type: str
    trade_state: str
    trade_state_desc: str
    bank_type: str
    attach: str
    success_time: datetime | None
    payer_openid: str
    amount: TransactionAmount


@dataclass(frozen=True, slots=True)
class RefundAmount:
    """A refund's amounts in fen: the order's total, the refund, and the payer's shares."""

    total: int | None
    refund: int | None
    payer_total: int | None
    payer_refund: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RefundNotification(PayNotification):
    """REFUND.SUCCESS, REFUND.ABNORMAL or REFUND.CLOSED: what became of refund ``out_refund_no``."""

    mchid: str
    out_trade_no: str
    transaction_id: str
    out_refund_no: str
    refund_id: str
    refund_status: str
    success_time: datetime | None
    user_received_account: str
    amount: RefundAmount


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownPayNotification(PayNotification):
    """An event type not modelled here; the decrypted resource is in ``raw``."""


def _transaction(head: dict[str, Any], resource: Mapping[str, Any]) -> TransactionNotification:
    amount = _section(resource, "amount")
    return TransactionNotification(
        **head,
        appid=_text(resource, "appid"),
        mchid=_text(resource, "mchid"),
        out_trade_no=_text(resource, "out_trade_no"),
        transaction_id=_text(resource, "transaction_id"),
        trade_type=_text(resource, "trade_type"),
        trade_state=_text(resource, "trade_state"),
        trade_state_desc=_text(resource, "trade_state_desc"),
        bank_type=_text(resource, "bank_type"),
        attach=_text(resource, "attach"),
        success_time=_time(resource, "success_time"),
        payer_openid=_text(_section(resource, "payer"), "openid"),
        amount=TransactionAmount(
            total=_fen(amount, "total"),
            payer_total=_fen(amount, "payer_total"),
            currency=_text(amount, "currency"),
            payer_currency=_text(amount, "payer_currency"),
        ),
    )


def _refund(head: dict[str, Any], resource: Mapping[str, Any]) -> RefundNotification:
    amount = _section(resource, "amount")
    return RefundNotification(
        **head,
        mchid=_text(resource, "mchid"),
        out_trade_no=_text(resource, "out_trade_no"),
        transaction_id=_text(resource, "transaction_id"),
        out_refund_no=_text(resource, "out_refund_no"),
        refund_id=_text(resource, "refund_id"),
        refund_status=_text(resource, "refund_status"),
        success_time=_time(resource, "success_time"),
        user_received_account=_text(resource, "user_received_account"),
        amount=RefundAmount(
            total=_fen(amount, "total"),
            refund=_fen(amount, "refund"),
            payer_total=_fen(amount, "payer_total"),
            payer_refund=_fen(amount, "payer_refund"),
        ),
    )


def notification_from(envelope: Mapping[str, Any], resource: Mapping[str, Any]) -> PayNotification:
    """The typed notification of a body (``envelope``) and its decrypted ``resource``."""
    head: dict[str, Any] = {
        "id": _text(envelope, "id"),
        "event_type": _text(envelope, "event_type"),
        "create_time": _time(envelope, "create_time"),
        "summary": _text(envelope, "summary"),
        "original_type": _text(_section(envelope, "resource"), "original_type"),
        "raw": resource,
    }
    family = head["event_type"].upper().partition(".")[0]
    if family == "TRANSACTION":
        return _transaction(head, resource)
    if family == "REFUND":
        return _refund(head, resource)
    return UnknownPayNotification(**head)
