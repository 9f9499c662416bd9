"""``wxserver run`` from anywhere, ``--config`` and ``--env`` naming the files they read."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from tests.servers import BIN, ROOT, clean_env, free_port, wait_for_port
from tests.support import TOKEN
from wxserver.services.config import load_settings
from wxserver.testing import sign_handshake

SETTINGS = """
bind = "127.0.0.1:{port}"
store_url = "lmdb:///{store}"

[accounts.default]
token = "{token}"
mode = "plain"
"""


def _wxserver(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "wxserver"), *args],
        cwd=cwd,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_cli_run_from_an_empty_directory_uses_the_shipped_settings(tmp_path: Path) -> None:
    here, etc = tmp_path / "empty", tmp_path / "etc"
    here.mkdir()
    etc.mkdir()
    port = free_port()
    config = etc / "wxserver.toml"
    config.write_text(SETTINGS.format(port=port, store=tmp_path / "store.lmdb", token=TOKEN))
    account = load_settings({"WX_CONFIG": str(config)}).account("default")
    env = clean_env({"WEB_CONCURRENCY": "1", "TMPDIR": str(tmp_path)})
    with subprocess.Popen(
        [str(BIN / "wxserver"), "--config", str(config), "run"],
        cwd=here,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        try:
            wait_for_port(port, process)
            response = httpx.get(
                f"http://127.0.0.1:{port}/wechat",
                params=sign_handshake(account, "from-anywhere"),
                timeout=10,
            )
            health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        finally:
            process.terminate()
            out, err = process.communicate(timeout=15)
    assert response.content == b"from-anywhere"
    assert health.status_code == 200
    # gthread, an access line for other URLs and one request line per callback: gunicorn read
    # the shipped settings.
    assert "Using worker: gthread" in err.decode()
    assert '"GET /healthz HTTP/1.1" 200' in out.decode()
    assert '"GET /wechat' not in out.decode()
    assert "method=GET" in err.decode()
    # Nothing was looked for or left in the directory it ran from.
    assert list(here.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "tried"),
    [
        (["check-config", "--env", "developmnet"], ROOT / "config" / "developmnet.toml"),
        (["run", "--env", "developmnet"], ROOT / "config" / "developmnet.toml"),
        (["--config", "config/developmnet.toml", "check-config"], None),
    ],
    ids=["check-config-env", "run-env", "config-flag"],
)
def test_cli_misspelled_configuration_names_the_path_tried(
    args: list[str], tried: Path | None
) -> None:
    done = _wxserver(*args)
    expected = tried or ROOT / "config" / "developmnet.toml"
    assert done.returncode == 1
    assert f"tried {expected}" in done.stderr
    assert "Traceback" not in done.stderr
    if tried is not None:
        assert "did you mean development?" in done.stderr


def test_cli_env_without_its_file_is_an_error_elsewhere(tmp_path: Path) -> None:
    done = _wxserver("check-config", "--env", "development", cwd=tmp_path)
    assert done.returncode == 1
    assert f"tried {tmp_path / 'config' / 'development.toml'}" in done.stderr
    assert "WX_TOKEN" not in done.stderr


def test_cli_debug_flag_shows_the_traceback() -> None:
    quiet = _wxserver("worker")
    loud = _wxserver("--debug", "worker")
    assert quiet.returncode == loud.returncode == 1
    assert "Traceback" not in quiet.stderr
    assert "Traceback" in loud.stderr
    assert "WX_TOKEN" in quiet.stderr
