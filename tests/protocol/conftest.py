"""Fixtures of the protocol tests."""

from __future__ import annotations

import pytest

from tests.protocol.crypto_vectors import APP_ID, KEY
from wxserver.protocol.crypto import MessageCrypto


@pytest.fixture
def crypto() -> MessageCrypto:
    return MessageCrypto([KEY], APP_ID)
