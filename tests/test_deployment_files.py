"""The ways to run the server in production agree: the Procfile, the systemd units and the
container recipe run the same two commands, and the units pass systemd's own check."""

from __future__ import annotations

import json
import re
import runpy
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.nginx_server import SITE
from tests.servers import BIN, ROOT, procfile
from wxserver.protocol.errors import ConfigError
from wxserver.services.config import load_settings

UNITS = ROOT / "config" / "systemd"
DOCKER = ROOT / "config" / "docker"
# Where the units expect the checkout and its virtualenv (README.md, "Deploying").
INSTALLED_AT = "/srv/wxserver"
SYSTEMD_HINT = (
    "systemd-analyze is not installed; the unit files are checked with it. Install Debian's "
    "package: apt-get update && apt-get install -y systemd"
)


def _unit(name: str) -> dict[str, list[str]]:
    """The unit file's settings: name -> values, in order."""
    settings: dict[str, list[str]] = {}
    for line in (UNITS / name).read_text("utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yaml").read_text("utf-8"))
    return loaded


def _command(value: str | list[str]) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else value


def test_procfile_declares_web_and_worker() -> None:
    processes = procfile()
    assert processes["web"] == ["gunicorn", "-c", "python:wxserver.web.gunicorn_conf", "wsgi:app"]
    assert processes["worker"] == ["wxserver", "worker"]


@pytest.mark.parametrize(("unit", "process"), [("web", "web"), ("worker", "worker")])
def test_systemd_unit_runs_the_procfile_command(unit: str, process: str) -> None:
    settings = _unit(f"wxserver-{unit}.service")
    (exec_start,) = settings["ExecStart"]
    program, *arguments = shlex.split(exec_start)
    command = procfile()[process]
    assert program == f"{INSTALLED_AT}/.venv/bin/{command[0]}"
    assert arguments == command[1:]
    assert settings["WorkingDirectory"] == [INSTALLED_AT]
    assert settings["EnvironmentFile"] == ["/etc/wxserver.env"]


def test_systemd_web_unit_stops_after_gunicorns_graceful_timeout() -> None:
    settings = _unit("wxserver-web.service")
    conf = runpy.run_path(str(ROOT / "wxserver" / "web" / "gunicorn_conf.py"))
    assert int(settings["TimeoutStopSec"][0]) > conf["graceful_timeout"]
    # Only the master gets SIGTERM, so it can let each worker finish its message.
    assert settings["KillMode"] == ["mixed"]
    assert settings["Type"] == ["notify"]


def _systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        raise RuntimeError(SYSTEMD_HINT)
    return found


def _verify(folder: Path, text: dict[str, str]) -> subprocess.CompletedProcess[str]:
    for name, content in text.items():
        (folder / name).write_text(content)
    return subprocess.run(
        [_systemd_analyze(), "verify", *(str(folder / name) for name in text)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _installed_here(name: str) -> str:
    """The unit as installed from this checkout: its paths those of this test run."""
    text = (UNITS / name).read_text("utf-8")
    return text.replace(f"{INSTALLED_AT}/.venv/bin", str(BIN)).replace(INSTALLED_AT, str(ROOT))


def test_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    names = sorted(path.name for path in UNITS.glob("*.service"))
    assert names == ["wxserver-web.service", "wxserver-worker.service"]
    done = _verify(tmp_path, {name: _installed_here(name) for name in names})
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_systemd_analyze_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    broken = _installed_here("wxserver-web.service").replace("Type=notify", "Type=notifyy")
    done = _verify(tmp_path, {"wxserver-web.service": broken})
    assert "notifyy" in done.stdout + done.stderr


def test_systemd_missing_tool_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(RuntimeError, match="apt-get install -y systemd"):
        _systemd_analyze()


@pytest.mark.parametrize("process", ["web", "worker"])
def test_compose_runs_the_procfile_commands(process: str) -> None:
    service = _compose()["services"][process]
    assert _command(service["command"]) == procfile()[process]


def test_dockerfile_default_command_is_the_procfile_web() -> None:
    text = (DOCKER / "Dockerfile").read_text("utf-8")
    (cmd,) = re.findall(r"^CMD (.+)$", text, re.MULTILINE)
    assert json.loads(cmd) == procfile()["web"]
    assert _compose()["services"]["web"]["build"]["dockerfile"] == "config/docker/Dockerfile"


def test_compose_web_and_worker_share_redis() -> None:
    services = _compose()["services"]
    assert services["redis"]["image"].startswith("redis:")
    for process in ("web", "worker"):
        environment = services[process]["environment"]
        assert environment["WX_STORE_URL"] == "redis://redis:6379/0"
        assert "redis" in services[process]["depends_on"]
        # The settings the containers get are accepted; with a local store they are refused.
        settings = load_settings({"WX_ENV": "test", "WX_TOKEN": "composetest", **environment})
        assert settings.worker_elsewhere is True
        with pytest.raises(ConfigError, match="job worker runs on another host"):
            load_settings(
                {
                    "WX_ENV": "test",
                    "WX_TOKEN": "composetest",
                    **environment,
                    "WX_STORE_URL": "lmdb:///s",
                }
            )


def test_logs_go_where_they_are_rotated() -> None:
    # gunicorn and the worker write to stdout and stderr (the journal, or the platform's log);
    # nginx's files are under /var/log/nginx/, which Debian's nginx package rotates (*.log).
    conf = runpy.run_path(str(ROOT / "wxserver" / "web" / "gunicorn_conf.py"))
    assert conf["accesslog"] == "-"
    assert "errorlog" not in conf
    site_logs = re.findall(r"^\s*(?:access|error)_log\s+(\S+)", SITE.read_text(), re.MULTILINE)
    assert site_logs
    assert all(re.fullmatch(r"/var/log/nginx/[^/]+\.log", path) for path in site_logs)
