"""This process's id, kept current across ``fork()`` by a hook.

Code on the request path that must notice a fork (gunicorn forks its workers from the master)
reads ``pid`` instead of calling ``os.getpid()``, which is a system call every time.
"""

from __future__ import annotations

import os

pid = os.getpid()


def _forked() -> None:
    global pid  # noqa: PLW0603 - the one value fork() changes
    pid = os.getpid()


def current_pid() -> int:
    """``pid``, as a function for the libraries that take one."""
    return pid


os.register_at_fork(after_in_child=_forked)
