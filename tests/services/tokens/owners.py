"""What the token tests share: the tokens' lifetime on the fake, and the owner factory's type."""

from __future__ import annotations

from collections.abc import Callable

from wxserver.services.tokens import TokenOwner

LIFETIME = 7200.0

OwnerFactory = Callable[..., TokenOwner]
