"""``wxserver simulate --web``: starts on development settings only, on 127.0.0.1 only."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.cli.echo_account import run_cli
from tests.servers import BIN, ROOT, clean_env, free_port, wait_for_port
from tests.support import AES_KEY

DEVELOPMENT = {"WX_ENV": "development", "WX_LOAD_ENTRY_POINTS": "false"}


def listening_addresses(port: int) -> list[str]:
    """The local addresses of the sockets listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.append(address)
    return found


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        (
            {
                "WX_ENV": "production",
                "WX_TOKEN": "wxserverdev",
                "WX_APPID": "wx0000000000devapp",
                "WX_ENCODING_AES_KEY": AES_KEY,
            },
            "the settings are production's",
        ),
        ({**DEVELOPMENT, "WX_TOKEN": "aRealToken2024"}, "a Token other than the development one"),
        ({**DEVELOPMENT, "WX_BIND": "0.0.0.0:8000"}, "not a loopback address"),
    ],
    ids=["env-production", "real-token", "bind-off-loopback"],
)
def test_cli_simulate_web_refuses_production_settings(env: dict[str, str], reason: str) -> None:
    port = free_port()
    done = run_cli("simulate", "--web", "--port", str(port), env=env)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: the simulator refuses to start:")
    assert reason in lines[0]
    assert "aRealToken2024" not in done.stderr + done.stdout
    assert listening_addresses(port) == []


def test_cli_simulate_web_without_settings_is_refused() -> None:
    # No WX_ENV: the production defaults, which lack the account's credentials anyway.
    done = run_cli("simulate", "--web", "--port", str(free_port()), env={"WX_PLUGINS": ""})
    assert done.returncode == 1
    assert done.stderr.startswith("Error: configuration error:")


def test_cli_simulate_web_serves_on_loopback_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    output = tmp_path / "simulator.out"
    command = [str(BIN / "wxserver"), "simulate", "--web", "--env", "development"]
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=ROOT,
            env=clean_env(DEVELOPMENT),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(port, process)
            assert listening_addresses(port) == ["0100007F"]  # 127.0.0.1, and nothing else
            page = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
            assert page.status_code == 200
            assert 'role="log"' in page.text
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    text = output.read_text()
    assert f"Simulator on http://127.0.0.1:{port}/ playing WeChat against " in text
    assert "http://127.0.0.1:8000/wechat" in text
    assert text.rstrip().endswith("Simulator stopped.")


def test_cli_simulate_web_port_in_use_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        started = time.monotonic()
        done = run_cli("simulate", "--web", "--port", str(port), env=DEVELOPMENT)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"Error: cannot listen on 127.0.0.1:{port}: Address already in use"
    )
    assert time.monotonic() - started < 60


def test_cli_simulate_web_reads_config_and_takes_the_first_openid_and_mode(tmp_path: Path) -> None:
    config = tmp_path / "simulator.toml"
    config.write_text(
        (ROOT / "config" / "development.toml").read_text("utf-8").replace("/wechat", "/chat")
    )
    port = free_port()
    command = [str(BIN / "wxserver"), "simulate", "--web", "--config", str(config)]
    command += ["--port", str(port), "--from-user", "oFirstUser", "--mode", "secure"]
    with (tmp_path / "simulator.out").open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=ROOT, env=clean_env(DEVELOPMENT), stdout=sink, stderr=subprocess.STDOUT
        )
        try:
            wait_for_port(port, process)
            state = httpx.get(f"http://127.0.0.1:{port}/api/state", timeout=10).json()
        finally:
            process.terminate()
            process.wait(timeout=15)
    assert state["url"] == "http://127.0.0.1:8000/chat"
    assert (state["openid"], state["mode"]) == ("oFirstUser", "secure")


def test_cli_simulate_web_refuses_a_malformed_openid() -> None:
    done = run_cli("simulate", "--web", "--from-user", "not an openid", env=DEVELOPMENT)
    assert done.returncode == 2
    assert "--from-user" in done.stderr
