"""A fake merchant API (/v3/certificates) and the merchant's API key that it trusts."""

from __future__ import annotations

import pytest
from Crypto.PublicKey import RSA

from tests.fakewechat import FakeWeChat
from tests.fakewechat.pay import FakePay
from tests.pay_keys import MCH_ID, MERCHANT_SERIAL, rsa_key
from tests.pay_support import Merchant


@pytest.fixture(scope="session")
def merchant_key() -> RSA.RsaKey:
    """The merchant's API private key (apiclient_key.pem), RSA 2048."""
    return rsa_key()[1]


@pytest.fixture
def fake_pay(fake: FakeWeChat, merchant: Merchant, merchant_key: RSA.RsaKey) -> FakePay:
    """The fake's merchant API, holding the session's platform certificate."""
    fake.pay = FakePay(
        MCH_ID,
        MERCHANT_SERIAL,
        merchant_key.public_key(),
        merchant.apiv3.encode(),
        [merchant.signers.certificate],
    )
    return fake.pay
