"""A merchant for the tests: its keys on disk, its settings, and notifications signed for it."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.pay_keys import MCH_ID, Signer
from tests.support import BASE_CONFIG
from wxserver.protocol.pay.crypto import apiv3_key
from wxserver.protocol.pay.simulate import build_notification, sample_transaction, sign_notification

PAY_PLUGINS = ["tests.pay_handlers:handlers"]


@dataclass(frozen=True)
class Signers:
    """The platform's keys for a test session: a certificate, a public key, and a stranger."""

    certificate: Signer
    public_key: Signer
    # Signs like WeChat Pay but is configured nowhere: a forger's key.
    stranger: Signer


@dataclass(frozen=True)
class Merchant:
    """A merchant whose key files are in ``folder``; handler runs are logged there too."""

    folder: Path
    apiv3: str
    signers: Signers

    @property
    def certificate_file(self) -> Path:
        return self.folder / "platform-cert.pem"

    @property
    def public_key_file(self) -> Path:
        return self.folder / "wechatpay-public.pem"

    def write_keys(self) -> None:
        self.signers.certificate.write(self.folder, self.certificate_file.name)
        self.signers.public_key.write(self.folder, self.public_key_file.name)

    def pay_settings(self, **overrides: Any) -> dict[str, Any]:
        """The ``pay`` table trusting both the certificate and the public key."""
        return {
            "mch_id": MCH_ID,
            "apiv3_key": self.apiv3,
            "platform_cert_files": [str(self.certificate_file)],
            "public_key_id": self.signers.public_key.serial,
            "public_key_file": str(self.public_key_file),
            **overrides,
        }

    def environment(self) -> dict[str, str]:
        """The same settings as the WX_PAY_* variables the README names."""
        return {
            "WX_PAY_MCH_ID": MCH_ID,
            "WX_PAY_APIV3_KEY": self.apiv3,
            "WX_PAY_PLATFORM_CERT_FILES": str(self.certificate_file),
            "WX_PAY_PUBLIC_KEY_ID": self.signers.public_key.serial,
            "WX_PAY_PUBLIC_KEY_FILE": str(self.public_key_file),
            "WXTEST_PAY_DIR": str(self.folder),
        }

    def config(self, plugins: list[str] | None = None, **pay: Any) -> dict[str, Any]:
        """BASE_CONFIG with the pay handlers and this merchant."""
        config = copy.deepcopy(BASE_CONFIG)
        config["plugins"] = [*config["plugins"], *(plugins or PAY_PLUGINS)]
        config["pay"] = self.pay_settings(**pay)
        return config

    def body(
        self,
        resource: dict[str, Any] | None = None,
        event_type: str = "TRANSACTION.SUCCESS",
        **options: Any,
    ) -> bytes:
        """A notification body encrypted with this merchant's APIv3 key."""
        resource = resource if resource is not None else self.transaction()
        return build_notification(event_type, resource, apiv3_key(self.apiv3), **options)

    def transaction(self, **fields: Any) -> dict[str, Any]:
        return sample_transaction(MCH_ID, **fields)

    def signed(self, body: bytes, signer: Signer | None = None, **options: Any) -> dict[str, str]:
        """The headers of ``body`` signed by ``signer`` (the certificate by default)."""
        signer = signer or self.signers.certificate
        return sign_notification(body, signer.private, signer.serial, **options)

    def notification(
        self, signer: Signer | None = None, **resource: Any
    ) -> tuple[bytes, dict[str, str]]:
        """A signed TRANSACTION.SUCCESS for an order with ``resource``'s fields."""
        body = self.body(self.transaction(**resource))
        return body, self.signed(body, signer)


def notification_id(body: bytes) -> str:
    value: str = json.loads(body)["id"]
    return value
