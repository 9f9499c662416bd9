"""A handler set that records every run of its handler in a file, for exactly-once tests.

Each run appends one line, ``<pid> <msg_id>``, to the file named by ``WX_TEST_RUNS_FILE``; an
append of a short line is atomic, so lines from many processes never mix.
"""

from __future__ import annotations

import os

from wxserver import HandlerSet, TextMessage, current_context

handlers = HandlerSet("counted")


@handlers.text
def counted(message: TextMessage) -> str:
    with open(os.environ["WX_TEST_RUNS_FILE"], "a", encoding="ascii") as runs:
        runs.write(f"{os.getpid()} {message.msg_id}\n")
    session = current_context().session
    session["seen"] = session.get("seen", 0) + 1
    return f"ran {message.msg_id}"


def runs(path: str) -> list[int]:
    """The message ids of every run recorded in ``path``, in order."""
    with open(path, encoding="ascii") as lines:
        return [int(line.split()[1]) for line in lines if line.strip()]
