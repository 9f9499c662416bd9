"""Open the store named by a URL: the one setting, ``WX_STORE_URL``, that picks the backend.

- ``memory://``: this process only (tests, a single worker);
- ``lmdb:///instance/wxserver.lmdb``: an LMDB directory relative to the current directory (three
  slashes), shared by every worker on this machine; ``lmdb:////var/lib/wxserver/store.lmdb`` for
  an absolute path (four slashes);
- ``sqlite:///instance/wxserver.db``, ``sqlite:////var/lib/wxserver/store.db``: the same on one
  SQLite file;
- ``redis://[:password@]host:6379/0``: a Redis server; ``rediss://`` for TLS;
- ``redis+sentinel://[:password@]host:26379,host:26379/mymaster/0``: the primary of a replicated
  Redis, as its sentinels name it, through a failover.

:func:`open_shared_store` opens the store of ``WX_STORE_URL`` for the server: a Redis store, which
another machine can make unreachable, comes with this machine's store as a stand-in for while it
is (:mod:`wxserver.services.store.fallback`).

The file forms follow SQLAlchemy's convention, which most people who have written a database URL
already know. A relative path is resolved once, when the store is opened, so a later change of
directory does not move the file.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import SplitResult, unquote, urlsplit

from wxserver.protocol.errors import ConfigError
from wxserver.services.store.base import Store
from wxserver.services.store.fallback import FallbackStore, Listener
from wxserver.services.store.lmdb import LmdbStore
from wxserver.services.store.memory import MemoryStore
from wxserver.services.store.sqlite import SqliteStore

SETTING = "WX_STORE_URL"
_FORMS = (
    "Use memory://, lmdb:///relative/dir.lmdb, lmdb:////absolute/dir.lmdb, "
    "sqlite:///relative/path.db, sqlite:////absolute/path.db "
    "redis://host:6379/0 (rediss:// for TLS) "
    "or redis+sentinel://host:26379,host:26379/mymaster/0."
)
_REDIS_SCHEMES = {"redis", "rediss"}
_SENTINEL_SCHEMES = {"redis+sentinel", "rediss+sentinel"}


def open_store(url: str) -> Store:
    """Return the store that ``url`` names; a URL that names none raises ConfigError."""
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in _SENTINEL_SCHEMES:  # a Sentinel URL lists several host:port pairs
            parts.port  # noqa: B018 - parsing the port is what validates it
    except ValueError as error:
        raise _invalid(url, str(error)) from None
    if scheme == "memory":
        if parts.netloc or parts.path or parts.query:
            raise _invalid(url, "memory:// takes nothing after the scheme")
        return MemoryStore()
    if scheme in {"lmdb", "sqlite"}:
        path = _local_path(url, parts, scheme)
        try:
            return LmdbStore(path) if scheme == "lmdb" else SqliteStore(path)
        except OSError as error:
            raise ConfigError(
                SETTING,
                f"the store {str(path)!r} cannot be created ({error.strerror or error})",
                "Point it at a directory the server can write to.",
            ) from None
    if scheme in _REDIS_SCHEMES | _SENTINEL_SCHEMES:
        return _redis(url, parts)
    raise _invalid(url, f"the scheme {parts.scheme or '(none)'!r} names no store")


def local_path(url: str) -> Path | None:
    """The directory (lmdb://) or file (sqlite://) a store URL names, resolved against the current
    directory; None for a store without one. ConfigError for such a URL that names none."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    return _local_path(url, parts, scheme) if scheme in {"lmdb", "sqlite"} else None


def _local_path(url: str, parts: SplitResult, scheme: str) -> Path:
    """The path that an lmdb:// or sqlite:// URL names, relative to the current directory."""
    what, kind = ("an LMDB URL", "directory") if scheme == "lmdb" else ("a SQLite URL", "file")
    if parts.netloc:
        raise _invalid(url, f"{what} names a {kind}, not a host ({parts.netloc!r})")
    if parts.query or parts.fragment:
        raise _invalid(url, f"{what} takes no options")
    # urlsplit keeps the slash after the empty host: "/relative.db" or "//absolute/path.db".
    name = unquote(parts.path[1:])
    if not name or name.endswith("/"):
        raise _invalid(url, f"{what} needs a {kind} name")
    return Path.cwd() / name


def is_shared(url: str) -> bool:
    """Whether ``url`` names a store on another machine (Redis), one that can become unreachable."""
    return urlsplit(url.strip()).scheme.lower() in _REDIS_SCHEMES | _SENTINEL_SCHEMES


def open_shared_store(url: str, fallback_url: str, *, on_change: Listener | None = None) -> Store:
    """The server's store: ``url``'s, with ``fallback_url``'s standing in while a Redis is out."""
    store = open_store(url)
    if not is_shared(url):
        return store
    return FallbackStore(store, open_store(fallback_url), on_change=on_change)


def _redis(url: str, parts: SplitResult) -> Store:
    if parts.scheme.lower() in _SENTINEL_SCHEMES:
        from wxserver.services.store.redis import sentinel_parts  # noqa: PLC0415 - see below

        try:
            sentinel_parts(url)
        except ValueError as error:
            raise _invalid(url, str(error)) from None
    else:
        if not parts.hostname:
            raise _invalid(url, "a Redis URL needs a host")
        database = parts.path.lstrip("/")
        if database and not database.isdigit():
            raise _invalid(url, f"the Redis database must be a number, not {database!r}")
    try:
        from wxserver.services.store.redis import RedisStore  # noqa: PLC0415 - redis is an optional extra

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
