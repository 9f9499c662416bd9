"""open_store: each form of the WX_STORE_URL setting, and the errors that name it and its fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wxserver.protocol.errors import ConfigError
from wxserver.services.store import LmdbStore, MemoryStore, open_store
from wxserver.services.store.redis import RedisStore
from wxserver.services.store.sqlite import SqliteStore


def test_open_store_reads_each_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = open_store("sqlite:///instance/wxserver.db")
    absolute = open_store(f"sqlite:///{tmp_path / 'abs.db'}")
    assert isinstance(relative, SqliteStore)
    assert relative.path == tmp_path / "instance" / "wxserver.db"
    assert isinstance(absolute, SqliteStore)
    assert absolute.path == tmp_path / "abs.db"
    default = open_store("lmdb:///instance/wxserver.lmdb")
    assert isinstance(default, LmdbStore)
    assert default.path == tmp_path / "instance" / "wxserver.lmdb"
    assert (default.path / "data.mdb").is_file()
    lmdb_absolute = open_store(f"lmdb:///{tmp_path / 'abs.lmdb'}")
    assert isinstance(lmdb_absolute, LmdbStore)
    assert lmdb_absolute.path == tmp_path / "abs.lmdb"
    assert isinstance(open_store("memory://"), MemoryStore)
    # Creating a Redis client does not connect, so no server is needed here.
    assert isinstance(open_store("redis://127.0.0.1:6379/2"), RedisStore)
    assert isinstance(open_store("rediss://:pw@127.0.0.1:6380"), RedisStore)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "postgres://db/x",
        "memory://somewhere",
        "sqlite://host/x.db",
        "sqlite:///",
        "sqlite:///x.db?mode=ro",
        "lmdb://host/x.lmdb",
        "lmdb:///",
        "lmdb:///x.lmdb?map_size=1",
        "redis://",
        "redis://127.0.0.1:port/0",
        "redis://127.0.0.1/zero",
    ],
)
def test_open_store_bad_url_names_the_setting_and_the_fix(url: str) -> None:
    with pytest.raises(ConfigError) as raised:
        open_store(url)
    assert raised.value.key == "WX_STORE_URL"
    assert str(raised.value).startswith("WX_STORE_URL: ")
    assert "redis://host:6379/0" in raised.value.fix


def test_open_store_masks_a_redis_password() -> None:
    with pytest.raises(ConfigError) as raised:
        open_store("redis://user:s3cret@127.0.0.1/zero")
    assert "s3cret" not in str(raised.value)
    assert "user:***@127.0.0.1" in str(raised.value)


@pytest.mark.parametrize("scheme", ["sqlite", "lmdb"])
def test_open_store_unwritable_directory(tmp_path: Path, scheme: str) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(ConfigError, match="cannot be created"):
        open_store(f"{scheme}:///{tmp_path / 'file' / 'store'}")


def test_open_store_redis_without_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # as if not installed: import fails
    with pytest.raises(ConfigError, match=r"pip install 'wxserver\[redis\]'"):
        open_store("redis://127.0.0.1:6379/0")


def test_store_package_imports_without_redis() -> None:
    code = (
        "import sys\n"
        "sys.modules['redis'] = None\n"
        "import wxserver.services.store\n"
        "print(wxserver.services.store.open_store('memory://').add('k', b'v', ttl=1))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"
