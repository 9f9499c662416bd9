"""Every way of starting the server, as real processes: where it listens, and how it stops on a bad
setting or plugin (one paragraph naming the key, a non-zero exit within 5 s, no traceback)."""

from __future__ import annotations

import json
import subprocess
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import (
    ROOT,
    clean_env,
    free_port,
    gunicorn,
    installed,
    procfile,
    wait_for_port,
)
from tests.support import TOKEN
from wxserver.services.config import load_settings
from wxserver.testing import build_message, sign_request

# gunicorn with the settings shipped in the package, as the Procfile, wxserver run and the unit
# start it, on both forms of the app; flask's development server; the two commands.
START_PATHS = {
    "gunicorn-wsgi-app": procfile()["web"],
    "gunicorn-factory": [*procfile()["web"][:-1], "wxserver:create_app()"],
    "flask-run": ["flask", "--app", "wxserver:create_app", "run", "--port", "{port}"],
    "wxserver-run": ["wxserver", "run", "--bind", "127.0.0.1:{port}"],
    "wxserver-worker": procfile()["worker"],
}
# WeChat's own deadline; a start that fails takes about a second.
EXIT_WITHIN = 5.0
MAX_LINES = 5

BROKEN_PLUGIN = """
    import os

    handlers = os.environ[
"""


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="wxserver-start-") as folder:
        path = Path(folder)
        (path / "wxplug_broken.py").write_text(textwrap.dedent(BROKEN_PLUGIN))
        yield path


def _start(path: str, env: dict[str, str], scratch: Path) -> subprocess.CompletedProcess[str]:
    port = free_port()
    command = [part.format(port=port) for part in START_PATHS[path]]
    full_env = clean_env(
        {
            "WX_STORE_URL": f"lmdb:///{scratch}/store.lmdb",
            "WX_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "1",
            "TMPDIR": str(scratch),
            **env,
        }
    )
    return subprocess.run(
        installed(command),
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=EXIT_WITHIN,
        check=False,
    )


def _stderr_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.strip()]


@pytest.mark.parametrize("path", list(START_PATHS))
def test_start_missing_token_is_one_paragraph(path: str, scratch: Path) -> None:
    # config/production.toml asks for secure mode; the token is checked first.
    done = _start(path, {}, scratch)
    lines = _stderr_lines(done)
    assert done.returncode != 0
    assert len(lines) <= MAX_LINES, done.stderr
    assert "Traceback" not in done.stderr
    assert lines[0].startswith("wxserver cannot start: WX_TOKEN (accounts.default.token)")
    assert "its value: not set in the environment" in lines[0]
    assert any(line.startswith("Fix: Copy the Token from the MP console") for line in lines)


@pytest.mark.parametrize("path", list(START_PATHS))
def test_start_broken_plugin_is_one_paragraph(path: str, scratch: Path) -> None:
    env = {
        "WX_TOKEN": TOKEN,
        "WX_MODE": "plain",
        "WX_PLUGINS": "wxplug_broken:handlers",
        "WX_PLUGIN_PATH": str(scratch),
    }
    done = _start(path, env, scratch)
    lines = _stderr_lines(done)
    assert done.returncode != 0
    assert len(lines) <= MAX_LINES, done.stderr
    assert "Traceback" not in done.stderr
    assert "handler set 'wxplug_broken:handlers' could not be imported: SyntaxError" in lines[0]
    assert "wxplug_broken.py, line 4" in lines[0]


@pytest.mark.parametrize("path", ["gunicorn-wsgi-app", "wxserver-run"])
def test_start_debug_shows_the_traceback(path: str, scratch: Path) -> None:
    done = _start(path, {"WX_DEBUG": "1"}, scratch)
    assert done.returncode != 0
    assert "Traceback" in done.stderr
    assert "ConfigError: WX_TOKEN (accounts.default.token)" in done.stderr


def test_start_misspelled_variable_is_named_with_the_error(scratch: Path) -> None:
    done = _start("gunicorn-wsgi-app", {"WX_TOKNE": TOKEN}, scratch)
    assert done.returncode != 0
    assert "WX_TOKNE is set but is not a wxserver setting: did you mean WX_TOKEN?" in done.stderr


def test_start_procfile_web_answers_on_port(scratch: Path) -> None:
    port = free_port()
    env = clean_env(
        {
            "PORT": str(port),
            "WX_TOKEN": TOKEN,
            "WX_MODE": "plain",
            "WX_STORE_URL": f"lmdb:///{scratch}/port.lmdb",
            "WEB_CONCURRENCY": "1",
        }
    )
    with subprocess.Popen(
        installed(procfile()["web"]),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    ) as process:
        try:
            wait_for_port(port, process)
            response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        finally:
            process.terminate()
            _, err = process.communicate(timeout=15)
    assert response.status_code == 200
    assert f"Listening at: http://0.0.0.0:{port}" in err.decode()


def test_start_json_log_format_makes_access_lines_json(tmp_path: Path) -> None:
    env = {"WX_TOKEN": TOKEN, "WX_MODE": "plain", "WX_LOG_FORMAT": "json", "TMPDIR": str(tmp_path)}
    with gunicorn(env, workers=1) as server:
        httpx.get(f"{server.url}/healthz", params={"openid": "oSecretUser"}, timeout=10)
        server.process.terminate()
        out, err = server.process.communicate(timeout=15)
    lines = [json.loads(line) for line in (out + err).decode().splitlines() if line.strip()]
    (access,) = [line for line in lines if line["logger"] == "gunicorn.access"]
    assert access["path"] == "/healthz"
    assert access["status"] == 200
    assert isinstance(access["duration_us"], int)
    assert "oSecretUser" not in json.dumps(access)
    assert any(line["message"].startswith("Booting worker") for line in lines)
    # The metrics folder the server named for itself is gone with it.
    assert not list(tmp_path.glob("wxserver-metrics-*"))


def test_start_callback_gets_one_log_line_other_urls_an_access_line(tmp_path: Path) -> None:
    env = {"WX_TOKEN": TOKEN, "WX_MODE": "plain", "TMPDIR": str(tmp_path)}
    account = load_settings(env).account("default")
    signed = sign_request(account, build_message("text", Content="one line"), "plain")
    with gunicorn(env, workers=1) as server:
        answer = httpx.post(f"{server.url}/wechat", params=signed.query, content=signed.body)
        httpx.get(f"{server.url}/healthz", timeout=10)
        server.process.terminate()
        out, err = server.process.communicate(timeout=15)
    assert answer.status_code == 200
    lines = (out + err).decode().splitlines()
    # The callback: its request log line, which names the account and the outcome; no access
    # line saying the same again.
    (callback,) = [line for line in lines if "method=POST" in line]
    assert "account=default" in callback
    assert "outcome=success" in callback
    assert not [line for line in lines if '"POST /wechat ' in line]
    # Any other URL keeps gunicorn's access line.
    assert [line for line in lines if '"GET /healthz HTTP/1.1" 200 ' in line]


def test_start_environment_values_are_typed_through_gunicorn(tmp_path: Path) -> None:
    env = {
        "WX_TOKEN": TOKEN,
        "WX_MODE": "plain",
        "WX__ACCOUNTS__DEFAULT__TIMESTAMP_TOLERANCE": "10",
        "WX_MDOE": "plain",
    }
    with gunicorn(env, workers=1) as server:
        assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
        server.process.terminate()
        _, err = server.process.communicate(timeout=15)
    warnings = [line for line in err.decode().splitlines() if "WX_MDOE" in line]
    assert len(warnings) == 1, err.decode()
    assert "did you mean WX_MODE?" in warnings[0]
