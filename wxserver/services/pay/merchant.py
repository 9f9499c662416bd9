"""Building a merchant's services from its settings: keys, API client, runner, pipeline."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from huey import Huey

from wxserver.protocol.handlers import HandlerSet
from wxserver.protocol.pay.crypto import apiv3_key
from wxserver.protocol.pay.keys import (
    KeyRing,
    load_certificates,
    load_private_key,
    load_public_key,
)
from wxserver.protocol.pay.routing import PayRouter
from wxserver.services.config import Merchant
from wxserver.services.metrics import Metrics
from wxserver.services.pay.api import DEFAULT_PAY_BASE_URLS, PayAPI
from wxserver.services.pay.keys import PlatformKeys
from wxserver.services.pay.metrics import PayMetrics
from wxserver.services.pay.pipeline import PayPipeline
from wxserver.services.pay.runner import PayRunner
from wxserver.services.store import Store

__all__ = ["configured_keys", "pay_api", "pay_pipeline", "platform_keys"]


def configured_keys(merchant: Merchant) -> KeyRing:
    """The WeChat Pay public key and the platform certificates named in the settings."""
    keys = [
        key
        for name in merchant.platform_cert_files
        for key in load_certificates(Path(name).read_bytes(), origin=name)
    ]
    if merchant.public_key_id:
        pem = Path(merchant.public_key_file).read_bytes()
        keys.append(load_public_key(merchant.public_key_id, pem, origin=merchant.public_key_file))
    return KeyRing(keys)


def pay_api(merchant: Merchant, trusted: KeyRing) -> PayAPI | None:
    """The merchant API client, or None without the merchant's API private key."""
    if not merchant.private_key_file:
        return None
    private_key = load_private_key(
        Path(merchant.private_key_file).read_bytes(), origin=merchant.private_key_file
    )
    return PayAPI(
        merchant.mch_id,
        merchant.cert_serial,
        private_key,
        apiv3_key(merchant.apiv3_key.reveal()),
        base_urls=merchant.api_base_url or DEFAULT_PAY_BASE_URLS,
        trusted=lambda: trusted,
    )


def platform_keys(merchant: Merchant, store: Store) -> PlatformKeys:
    """The merchant's keys by serial: configured ones, and downloaded ones with an API key."""
    configured = configured_keys(merchant)
    return PlatformKeys(configured, store, merchant.mch_id, pay_api(merchant, configured))


def pay_pipeline(
    merchant: Merchant,
    store: Store,
    metrics: Metrics,
    handler_sets: Iterable[HandlerSet],
    huey: Huey | None = None,
) -> PayPipeline:
    """The notify URL of ``merchant``, handled by the pay rules of ``handler_sets``."""
    unique: list[HandlerSet] = []
    for handler_set in handler_sets:
        if all(handler_set is not seen for seen in unique):
            unique.append(handler_set)
    runner = PayRunner(
        PayRouter(unique), store, merchant.mch_id, PayMetrics(metrics.registry), huey
    )
    return PayPipeline(
        merchant.mch_id,
        apiv3_key(merchant.apiv3_key.reveal()),
        platform_keys(merchant, store),
        runner,
        budget=merchant.budget,
    )
