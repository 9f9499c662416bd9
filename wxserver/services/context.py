"""What a handler can reach while it answers a message: its account, the store, its user's session.

Handlers are called with the message alone (no parameter counting), so the rest travels in a
context variable set around each dispatch. It is per thread and per task, never global.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from contextvars import ContextVar, Token
from types import TracebackType

from wxserver.protocol.messages import Message
from wxserver.services.api.client import WeChatAPI
from wxserver.services.component import ComponentServices
from wxserver.services.config import Account
from wxserver.services.sessions import Session, SessionStore
from wxserver.services.store import Store


class HandlerContext:
    """The account a message arrived for, the message, the server's store and the user's session."""

    __slots__ = (
        "_api",
        "_held",
        "_session",
        "_sessions",
        "account",
        "component",
        "message",
        "store",
    )

    def __init__(
        self,
        *,
        account: Account,
        message: Message,
        store: Store,
        sessions: SessionStore | None = None,
        api: WeChatAPI | None = None,
        component: ComponentServices | None = None,
    ) -> None:
        self.account = account
        self.message = message
        self.store = store
        self._sessions = sessions or SessionStore(store)
        self._session: Session | None = None
        self._held: AbstractContextManager[None] | None = None
        self._api = api
        # The Open Platform component a message came through (its authorizers' messages only).
        self.component = component

    @property
    def api(self) -> WeChatAPI:
        """The account's WeChat API client (customer-service messages, templates, ...); for an
        authorizer's message, a client bound to that authorizer and its token."""
        if self._api is None:
            raise RuntimeError(
                f"account {self.account.name!r} has no API client: set its AppSecret "
                "(WX_APPSECRET) to call the WeChat API"
            )
        return self._api

    @property
    def session(self) -> Session:
        """The sending user's session: a dict kept between messages (read on first use).

        Reading it takes the user's session lock until the handler returns, so two messages of
        one user handled at once update the session one after the other and lose nothing.
        """
        if self._session is None:
            account, openid = self.account.name, self.message.from_user_name
            held = self._sessions.lock(account, openid)
            held.__enter__()
            self._held = held
            self._session = self._sessions.load(account, openid)
        return self._session

    def save_session(self) -> None:
        """Write the session back if a handler read it and changed it."""
        if self._session is not None:
            self._sessions.save(self._session)

    def finish(self, *, save: bool) -> None:
        """After the handler: write the session back (``save``), and let the user's next message
        read it."""
        if self._session is None:
            return
        try:
            if save:
                self._sessions.save(self._session)
        finally:
            held, self._held = self._held, None
            if held is not None:
                held.__exit__(None, None, None)


_current: ContextVar[HandlerContext] = ContextVar("wxserver_handler_context")


def current_context() -> HandlerContext:
    """Return the context of the message being handled; only valid inside a handler."""
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError("current_context() is only available inside a handler") from None


class handler_context:  # lower case: used as a function, ``with handler_context(c):``
    """Make ``context`` current for the duration of a dispatch, then save the session.

    A class rather than a generator-based context manager: it is entered once per message.
    """

    __slots__ = ("_context", "_token")

    def __init__(self, context: HandlerContext) -> None:
        self._context = context
        self._token: Token[HandlerContext] | None = None

    def __enter__(self) -> HandlerContext:
        self._token = _current.set(self._context)
        return self._context

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _current.reset(self._token)
        self._context.finish(save=exc is None)
