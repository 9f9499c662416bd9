"""Open the store named by a URL: the one setting, ``WX_STORE_URL``, that picks the backend.

- ``memory://``: this process only (tests, a single worker);
- ``sqlite:///instance/wxserver.db``: a file relative to the current directory (three slashes);
- ``sqlite:////var/lib/wxserver/store.db``: an absolute path (four slashes);
- ``redis://[:password@]host:6379/0``: a Redis server; ``rediss://`` for TLS.

The SQLite forms follow SQLAlchemy's convention, which most people who have written a database URL
already know. A relative path is resolved once, when the store is opened, so a later change of
directory does not move the file.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import SplitResult, unquote, urlsplit

from wxserver.errors import ConfigError
from wxserver.store.base import Store
from wxserver.store.memory import MemoryStore
from wxserver.store.sqlite import SqliteStore

SETTING = "WX_STORE_URL"
_FORMS = (
    "Use memory://, sqlite:///relative/path.db, sqlite:////absolute/path.db "
    "or redis://host:6379/0 (rediss:// for TLS)."
)


def open_store(url: str) -> Store:
    """Return the store that ``url`` names; a URL that names none raises ConfigError."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - parsing the port is what validates it
    except ValueError as error:
        raise _invalid(url, str(error)) from None
    scheme = parts.scheme.lower()
    if scheme == "memory":
        if parts.netloc or parts.path or parts.query:
            raise _invalid(url, "memory:// takes nothing after the scheme")
        return MemoryStore()
    if scheme == "sqlite":
        return _sqlite(url, parts)
    if scheme in {"redis", "rediss"}:
        return _redis(url, parts)
    raise _invalid(url, f"the scheme {parts.scheme or '(none)'!r} names no store")


def _sqlite(url: str, parts: SplitResult) -> SqliteStore:
    if parts.netloc:
        raise _invalid(url, f"a SQLite URL names a file, not a host ({parts.netloc!r})")
    if parts.query or parts.fragment:
        raise _invalid(url, "a SQLite URL takes no options")
    # urlsplit keeps the slash after the empty host: "/relative.db" or "//absolute/path.db".
    path = unquote(parts.path[1:])
    if not path or path.endswith("/"):
        raise _invalid(url, "a SQLite URL needs a file name")
    try:
        return SqliteStore(Path.cwd() / path)
    except OSError as error:
        raise ConfigError(
            SETTING,
            f"the SQLite file {path!r} cannot be created ({error.strerror or error})",
            "Point it at a directory the server can write to.",
        ) from None


def _redis(url: str, parts: SplitResult) -> Store:
    if not parts.hostname:
        raise _invalid(url, "a Redis URL needs a host")
    database = parts.path.lstrip("/")
    if database and not database.isdigit():
        raise _invalid(url, f"the Redis database must be a number, not {database!r}")
    try:
        from wxserver.store.redis import RedisStore  # noqa: PLC0415 - redis is an optional extra

        return RedisStore(url)
    except ImportError:
        raise ConfigError(
            SETTING,
            "a redis:// store needs the redis package, which is not installed",
            "Install it with: pip install 'wxserver[redis]'.",
        ) from None
    except ValueError as error:
        raise _invalid(url, str(error)) from None


def _invalid(url: str, problem: str) -> ConfigError:
    return ConfigError(SETTING, f"{_masked(url)!r} is not a store URL: {problem}", _FORMS)


def _masked(url: str) -> str:
    """The URL with its password replaced, fit for an error message or a log line."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:***@{netloc}").geturl()
