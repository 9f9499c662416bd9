"""Per-user sessions: a small dict of JSON values kept in the store for each (account, OpenID).

A handler reads and writes its user's session like a dict::

    @handlers.text("next")
    def next_step(message: TextMessage) -> str:
        session = current_context().session
        session["step"] = session.get("step", 0) + 1
        return f"step {session['step']}"

Around each dispatch the server calls ``SessionStore.load(account, openid)`` before the handler
and ``SessionStore.save(session)`` after it. ``save`` writes only when the content changed (nested
changes such as ``session["cart"].append(x)`` count), so the many messages that never touch their
session cost one store read and no write.

Values must be JSON-serialisable (str, int, float, bool, None, lists and dicts of them); a value
that is not is refused when it is set. JSON has no tuples: one comes back as a list.

Lifetime: ``SESSION_TTL``, seven days after the last save. That spans a conversation paused over a
weekend, outlives WeChat's 48-hour customer-service window, and lets the state of users who left
disappear without a cleanup job. A session that is read but not changed is rewritten once half of
its lifetime has passed, so a user who keeps talking keeps it. ``SessionStore.delete`` forgets a
user at once (an unsubscribe handler should: the platform asks accounts to delete a leaving user's
data).

Two messages from one user handled at the same time take turns: the first read of the session in
a dispatch takes the user's lock in the store (``SessionStore.lock``), held until the handler has
returned and the session is saved, so every update lands, across processes and machines. The lock
is per user: other users' messages never wait for it. A holder that dies frees it after
``LOCK_TIMEOUT``; a message that cannot have it within ``LOCK_WAIT`` fails its handler, answered
``success`` and logged, rather than miss WeChat's five seconds.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import AbstractContextManager
from typing import Any

from wxserver.services.store import Store

log = logging.getLogger("wxserver.sessions")

SESSION_TTL = 7 * 24 * 3600.0
# How long a handler may hold its user's session, and how long the next one waits for it.
LOCK_TIMEOUT = 30.0
LOCK_WAIT = 4.0
_FORMAT = 1


def _dump(data: object) -> str:
    # Canonical form: equal content gives an equal string, which is how changes are detected.
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Session(MutableMapping[str, Any]):
    """One user's session for one account: a mutable mapping of JSON-serialisable values."""

    def __init__(
        self,
        account: str,
        openid: str,
        data: dict[str, Any] | None = None,
        *,
        saved_at: float | None = None,
    ) -> None:
        self.account = account
        self.openid = openid
        self._data: dict[str, Any] = dict(data or {})
        self._loaded = _dump(self._data)
        self.saved_at = saved_at  # None: not in the store when loaded

    @property
    def changed(self) -> bool:
        """Whether the content differs from what was loaded (or last saved)."""
        return _dump(self._data) != self._loaded

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"session keys are str, not {type(key).__name__}")
        try:
            _dump(value)
        except (TypeError, ValueError) as error:
            raise TypeError(f"session[{key!r}] must be JSON-serialisable: {error}") from None
        self._data[key] = value

    def __delitem__(self, key: str) -> None:
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        # Keys only: values are the user's data and do not belong in a log line.
        return f"Session(account={self.account!r}, openid={self.openid!r}, keys={sorted(self)!r})"

    def _saved(self, payload: str, when: float | None) -> None:
        self._loaded = payload
        self.saved_at = when


class SessionStore:
    """Loads and saves sessions in a Store, under ``session:<account>:<openid>``."""

    def __init__(
        self,
        store: Store,
        *,
        ttl: float = SESSION_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl <= 0:
            raise ValueError(f"a session's ttl must be positive, got {ttl}")
        self.store = store
        self.ttl = ttl
        self._clock = clock

    @staticmethod
    def key(account: str, openid: str) -> str:
        """The store key of one user's session."""
        return f"session:{account}:{openid}"

    def lock(self, account: str, openid: str) -> AbstractContextManager[None]:
        """The user's session lock (see the module docstring)."""
        return self.store.lock(self.key(account, openid), timeout=LOCK_TIMEOUT, wait=LOCK_WAIT)

    def load(self, account: str, openid: str) -> Session:
        """Return the user's session; an empty one when there is none (or it is unreadable)."""
        raw = self.store.get(self.key(account, openid))
        if raw is None:
            return Session(account, openid)
        try:
            envelope = json.loads(raw)
            version, data, saved_at = envelope["v"], envelope["data"], float(envelope["saved_at"])
        except (ValueError, TypeError, KeyError) as error:
            problem = str(error)
        else:
            if version == _FORMAT and isinstance(data, dict):
                return Session(account, openid, data, saved_at=saved_at)
            problem = f"format {version!r}"
        # A broken session must not break the conversation: start afresh, and say so.
        log.warning("session %s:%s unreadable (%s); starting a new one", account, openid, problem)
        return Session(account, openid)

    def save(self, session: Session) -> bool:
        """Write the session back if it changed or half its lifetime has passed; True if written.

        Raises TypeError if a nested value is not JSON-serialisable.
        """
        now = self._clock()
        stale = session.saved_at is not None and now - session.saved_at >= self.ttl / 2
        if not session.changed and not stale:
            return False
        data = dict(session)
        key = self.key(session.account, session.openid)
        if data:
            envelope = {"v": _FORMAT, "saved_at": now, "data": data}
            self.store.set(key, _dump(envelope).encode(), ttl=self.ttl)
            session._saved(_dump(data), now)
        else:
            # Emptied: nothing to keep, so the row goes rather than holding "{}".
            self.store.delete(key)
            session._saved(_dump(data), None)
        return True

    def delete(self, account: str, openid: str) -> None:
        """Forget the user's session now (for example when the user unsubscribes)."""
        self.store.delete(self.key(account, openid))
