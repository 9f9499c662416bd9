"""What one account's callbacks and jobs share: its settings, handler sets, store and API client."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from wxserver.protocol.messages import Message
from wxserver.protocol.routing import Router
from wxserver.protocol.wire import wire_of
from wxserver.services.api.client import WeChatAPI
from wxserver.services.component import ComponentServices
from wxserver.services.config import Account
from wxserver.services.context import HandlerContext
from wxserver.services.exchange import Exchange
from wxserver.services.metrics import Metrics
from wxserver.services.sessions import SessionStore
from wxserver.services.store import Store


@dataclass(frozen=True, slots=True)
class AccountServices:
    """The services of one account, built once when the app is."""

    account: Account
    router: Router
    store: Store
    api: WeChatAPI | None
    metrics: Metrics | None = None
    # How long the copies of a message are recognised as one; WeChat's wait for an answer.
    dedup_ttl: float = 300.0
    wechat_timeout: float = 5.0
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    # The component whose authorizers' messages these services answer, if they are its.
    component: ComponentServices | None = None
    sessions: SessionStore = field(init=False)
    # (reply, message, *, create_time) -> the reply's body in the account's format.
    render: Callable[..., bytes] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sessions", SessionStore(self.store))
        object.__setattr__(self, "render", wire_of(self.account.format).render)

    @property
    def name(self) -> str:
        """The account's name."""
        return self.account.name

    def exchange(self, message: Message) -> Exchange:
        """The store records shared by the copies of ``message``."""
        return Exchange(
            self.store,
            self.account.name,
            message.key,
            self.dedup_ttl,
            clock=self.clock,
            sleep=self.sleep,
        )

    def api_for(self, message: Message) -> WeChatAPI | None:
        """The API client that answers ``message``: the account's, or its authorizer's."""
        if self.component is None:
            return self.api
        return self.component.api_for(message.authorizer_app_id)

    def context(self, message: Message) -> HandlerContext:
        """What the handlers of ``message`` can reach."""
        component = self.component
        return HandlerContext(
            account=self.account,
            message=message,
            store=self.store,
            sessions=self.sessions,
            api=self.api if component is None else component.api_for(message.authorizer_app_id),
            component=component,
        )


def handler_set_names(accounts: Mapping[str, AccountServices]) -> dict[str, list[str]]:
    """Each account's handler sets by name, in the order they are tried."""
    return {
        name: [hs.name for hs in services.router.handler_sets]
        for name, services in accounts.items()
    }
