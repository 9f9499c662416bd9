"""What the doctor shows of a store URL: everything but a password."""

from __future__ import annotations

import pytest

from wxserver.services.doctor import masked_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:hunter2@cache:6379/0", "redis://:***@cache:6379/0"),
        ("redis://app:hunter2@cache:6379/0", "redis://app:***@cache:6379/0"),
        ("sqlite:///instance/wxserver.db", "sqlite:///instance/wxserver.db"),
    ],
    ids=["password", "user-and-password", "no-password"],
)
def test_cli_masked_url(url: str, shown: str) -> None:
    assert masked_url(url) == shown
