"""Shared fixtures: apps built from explicit settings, never from the host's environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from Crypto.PublicKey import RSA
from flask import Flask
from flask.testing import FlaskClient

from tests.fakewechat import FakeWeChat
from tests.fakewechat.pay import FakePay
from tests.pay_keys import (
    MCH_ID,
    MERCHANT_SERIAL,
    apiv3_key,
    certificate_signer,
    public_key_signer,
    rsa_key,
)
from tests.pay_support import Merchant, Signers
from tests.support import HERMETIC_ENV, AppFactory, config_with
from tests.web_apps import AppBuilder, close_apis, wired_app
from wxserver import create_app
from wxserver.testing import WeChatTestClient


@pytest.fixture
def make_app() -> AppFactory:
    """Build an app from BASE_CONFIG merged with the given overrides."""

    def factory(config: dict[str, Any] | None = None, **account: Any) -> Flask:
        return create_app(
            config if config is not None else config_with(**account), environ=HERMETIC_ENV
        )

    return factory


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    """An app with the echo handlers, in compat mode."""
    return make_app()


@pytest.fixture
def wechat(app: Flask) -> WeChatTestClient:
    """A WeChat stand-in talking to ``app`` in its account's mode."""
    return WeChatTestClient(app)


@pytest.fixture
def fake() -> Iterator[FakeWeChat]:
    """A fake WeChat API server on 127.0.0.1 for this test."""
    with FakeWeChat() as running:
        yield running


@pytest.fixture
def build(fake: FakeWeChat, request: pytest.FixtureRequest) -> Iterator[AppBuilder]:
    """Apps wired to ``fake`` with the test module's ``APP_DEFAULTS``; clients closed after."""
    defaults = getattr(request.module, "APP_DEFAULTS", {})
    apps: list[Flask] = []

    def factory(**options: Any) -> Flask:
        apps.append(wired_app(fake, **{**defaults, **options}))
        return apps[-1]

    yield factory
    for app in apps:
        close_apis(app)


@pytest.fixture
def client(build: AppBuilder) -> FlaskClient:
    """A test client of a wired app."""
    return build().test_client()


@pytest.fixture(scope="session")
def pay_signers() -> Signers:
    """RSA 2048 platform keys, made once a session: a certificate, a public key, a forger."""
    return Signers(certificate_signer(), public_key_signer(), certificate_signer())


@pytest.fixture
def merchant(pay_signers: Signers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Merchant:
    """A merchant with a random APIv3 key, its key files written to ``tmp_path``."""
    folder = tmp_path / "merchant"
    folder.mkdir()
    made = Merchant(folder, apiv3_key(), pay_signers)
    made.write_keys()
    monkeypatch.setenv("WXTEST_PAY_DIR", str(folder))
    return made


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
