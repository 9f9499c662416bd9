"""Platform certificates downloaded through the merchant API, kept in the store, rotated."""

from __future__ import annotations

import json
import logging

import pytest
from Crypto.PublicKey import RSA

from tests.fakewechat import FakeWeChat
from tests.fakewechat.pay import FakePay
from tests.pay_keys import MCH_ID, MERCHANT_SERIAL, certificate_signer
from tests.pay_support import Merchant
from wxserver.protocol.api_errors import ApiUnavailableError
from wxserver.protocol.pay.keys import KeyRing, load_certificates
from wxserver.services.pay.api import PayAPI, PayApiError
from wxserver.services.pay.keys import REFRESH_EVERY, PlatformKeys
from wxserver.services.store import MemoryStore


def _api(fake: FakeWeChat, merchant: Merchant, key: RSA.RsaKey, **options: object) -> PayAPI:
    return PayAPI(
        MCH_ID,
        MERCHANT_SERIAL,
        key,
        merchant.apiv3.encode(),
        base_urls=fake.url,
        **options,  # type: ignore[arg-type]
    )


def test_pay_api_downloads_and_decrypts_the_certificates(
    fake: FakeWeChat, fake_pay: FakePay, merchant: Merchant, merchant_key: RSA.RsaKey
) -> None:
    with _api(fake, merchant, merchant_key) as api:
        assert api.certificates() == [merchant.signers.certificate.pem.decode()]
    assert fake.calls("/v3/certificates") == 1


def test_pay_api_refusal_is_a_typed_error(
    fake: FakeWeChat, fake_pay: FakePay, merchant: Merchant
) -> None:
    with (
        _api(fake, merchant, merchant.signers.stranger.private) as api,
        pytest.raises(PayApiError, match="SIGN_ERROR: signature does not verify") as caught,
    ):
        api.certificates()
    assert caught.value.status == 401


def test_pay_api_refuses_an_answer_signed_by_another_key(
    fake: FakeWeChat, fake_pay: FakePay, merchant: Merchant, merchant_key: RSA.RsaKey
) -> None:
    # The answer is signed by a key whose serial is the certificate's, but not its key.
    forged = certificate_signer()
    real = merchant.signers.certificate
    fake_pay.certificates = [type(real)(forged.private, real.serial, real.pem)]
    with (
        _api(fake, merchant, merchant_key) as api,
        pytest.raises(PayApiError, match="does not verify"),
    ):
        api.certificates()


def test_pay_api_unreachable(merchant: Merchant, merchant_key: RSA.RsaKey) -> None:
    api = PayAPI(
        MCH_ID,
        MERCHANT_SERIAL,
        merchant_key,
        merchant.apiv3.encode(),
        base_urls="http://127.0.0.1:9",
    )
    with api, pytest.raises(ApiUnavailableError):
        api.certificates()


def test_platform_keys_download_on_an_unknown_serial_once_a_minute(
    fake: FakeWeChat, fake_pay: FakePay, merchant: Merchant, merchant_key: RSA.RsaKey
) -> None:
    clock = [1_000_000.0]
    store = MemoryStore(clock=lambda: clock[0])
    keys = PlatformKeys(KeyRing(), store, MCH_ID, _api(fake, merchant, merchant_key))
    serial = merchant.signers.certificate.serial
    found = keys.find(serial)
    assert found is not None
    assert found.serial == serial
    assert keys.find(serial) is not None  # from the store now
    assert keys.find("ABCDEF") is None  # unknown, but the minute's download was made
    assert fake.calls("/v3/certificates") == 1
    clock[0] += 61
    assert keys.find("ABCDEF") is None  # one more download, then no more this minute
    assert keys.find("ABCDEF") is None
    assert fake.calls("/v3/certificates") == 2
    record = json.loads(store.get(f"pay:{MCH_ID}:certificates") or b"{}")
    assert record["certificates"] == [merchant.signers.certificate.pem.decode()]


def test_platform_keys_pick_up_a_rotated_certificate(
    fake: FakeWeChat, fake_pay: FakePay, merchant: Merchant, merchant_key: RSA.RsaKey
) -> None:
    clock = [1_000_000.0]
    store = MemoryStore(clock=lambda: clock[0])
    api = _api(fake, merchant, merchant_key)
    keys = PlatformKeys(KeyRing(), store, MCH_ID, api, clock=lambda: clock[0])
    old = merchant.signers.certificate
    assert keys.find(old.serial) is not None
    new = certificate_signer()
    fake_pay.certificates = [old, new]  # WeChat Pay issues a new one beside the old
    clock[0] += 61
    assert keys.find(new.serial) is not None
    fake_pay.certificates = [new]  # the old one retired
    clock[0] += REFRESH_EVERY + 1
    assert keys.find(new.serial) is not None  # a stale set is fetched again
    assert keys.find(old.serial) is None
    assert fake.calls("/v3/certificates") == 3


def test_platform_keys_keep_the_stored_set_when_a_download_fails(
    fake: FakeWeChat,
    fake_pay: FakePay,
    merchant: Merchant,
    merchant_key: RSA.RsaKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = [1_000_000.0]
    store = MemoryStore(clock=lambda: clock[0])
    api = _api(fake, merchant, merchant_key)
    keys = PlatformKeys(KeyRing(), store, MCH_ID, api, clock=lambda: clock[0])
    serial = merchant.signers.certificate.serial
    assert keys.find(serial) is not None
    fake.pay = None  # the merchant API answers nothing useful now
    clock[0] += REFRESH_EVERY + 1
    with caplog.at_level(logging.WARNING, logger="wxserver.pay"):
        assert keys.find(serial) is not None
    assert "downloading the platform certificates failed" in caplog.text


def test_platform_keys_without_an_api_use_the_configured_ones(merchant: Merchant) -> None:
    ring = KeyRing(load_certificates(merchant.signers.certificate.pem))
    keys = PlatformKeys(ring, MemoryStore(), MCH_ID)
    assert keys.find(merchant.signers.certificate.serial) is not None
    assert keys.find(merchant.signers.stranger.serial) is None
    assert keys.refresh() is None
