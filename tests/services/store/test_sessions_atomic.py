"""Session updates from one user's concurrent messages all land, on every store.

Each update is a handler's own: read the session through the handler context, change it, and let
the dispatch save it, from threads of two forked processes (as two gunicorn workers would be).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.services.store.children import in_processes
from tests.support import HERMETIC_ENV, config_with
from wxserver.protocol.messages import TextMessage
from wxserver.services.config import load_settings
from wxserver.services.context import HandlerContext, handler_context
from wxserver.services.sessions import SessionStore
from wxserver.services.store import Store, open_store

ACCOUNT = load_settings(HERMETIC_ENV, config_with()).account("default")
USER = "oSessionUser0000000000000000"


def _message(n: int) -> TextMessage:
    return TextMessage(
        to_user_name="gh_1", from_user_name=USER, create_time=n, msg_type="text", content="next"
    )


def _step(store: Store, sessions: SessionStore, n: int) -> None:
    # What a handler counting its user's steps does, inside its dispatch.
    context = HandlerContext(account=ACCOUNT, message=_message(n), store=store, sessions=sessions)
    with handler_context(context):
        session = context.session
        steps = session.get("steps", 0)
        time.sleep(0.002)  # the handler's own work, between reading its session and the save
        session["steps"] = steps + 1
        session.setdefault("seen", []).append(n)


def _steps_in_threads(url: str, first: int, count: int) -> int:
    store = open_store(url)
    sessions = SessionStore(store)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            _step(store, sessions, n)
        except BaseException as error:  # reported below, not lost in a thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(first, first + count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    if errors:
        raise errors[0]
    return count


def _final(url: str) -> dict[str, Any]:
    return dict(SessionStore(open_store(url)).load(ACCOUNT.name, USER))


def test_sessions_50_concurrent_updates_across_2_processes_all_land(shared_url: str) -> None:
    assert in_processes(_steps_in_threads, (shared_url, 0, 25), (shared_url, 25, 25)) == [25, 25]
    session = _final(shared_url)
    assert session["steps"] == 50
    assert sorted(session["seen"]) == list(range(50))


def test_sessions_50_concurrent_updates_in_one_process_all_land_in_memory() -> None:
    store = open_store("memory://")
    sessions = SessionStore(store)
    threads = [threading.Thread(target=_step, args=(store, sessions, n)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sessions.load(ACCOUNT.name, USER)["steps"] == 50


def test_sessions_lock_is_released_when_the_handler_raises(shared: Store) -> None:
    sessions = SessionStore(shared)
    context = HandlerContext(account=ACCOUNT, message=_message(1), store=shared, sessions=sessions)

    def failing_handler() -> None:
        with handler_context(context):
            context.session["steps"] = 1
            raise RuntimeError("handler bug")

    with pytest.raises(RuntimeError, match="handler bug"):
        failing_handler()
    _step(shared, sessions, 2)  # the lock is free again
    assert sessions.load(ACCOUNT.name, USER)["steps"] == 1  # the failed update was not saved


def test_sessions_a_handler_that_never_reads_its_session_takes_no_lock(shared: Store) -> None:
    sessions = SessionStore(shared)
    with shared.lock(SessionStore.key(ACCOUNT.name, USER), timeout=30, wait=0):
        context = HandlerContext(
            account=ACCOUNT, message=_message(1), store=shared, sessions=sessions
        )
        with handler_context(context):
            pass  # would wait LOCK_WAIT seconds and fail, had it taken the lock
