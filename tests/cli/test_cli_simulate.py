"""``wxserver simulate`` against the app under a real gunicorn process on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cli.echo_account import ENV, run_cli
from tests.servers import Server, gunicorn
from wxserver.services.config import Mode


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with gunicorn(ENV) as running:
        yield running


@pytest.mark.parametrize("mode", list(Mode), ids=[m.value for m in Mode])
def test_cli_simulate_gets_the_echo_in_each_mode(server: Server, mode: Mode) -> None:
    done = run_cli(
        "simulate", "--url", f"{server.url}/wechat", "--mode", mode.value, "--content", "sim"
    )
    assert done.returncode == 0, done.stderr
    assert f"({mode.value} mode) -> 200" in done.stdout
    assert "<Content><![CDATA[sim\nseen 1]]></Content>" in done.stdout
    assert ("encrypted reply, decrypted:" in done.stdout) is (mode is not Mode.PLAIN)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--type", "image"), "image\nseen 1"),
        (("--type", "event", "--event", "CLICK", "--event-key", "MENU_A"), "event CLICK MENU_A"),
    ],
    ids=["image", "click"],
)
def test_cli_simulate_other_types(server: Server, args: tuple[str, ...], expected: str) -> None:
    done = run_cli("simulate", "--url", f"{server.url}/wechat", *args)
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout


def test_cli_simulate_handshake(server: Server) -> None:
    done = run_cli("simulate", "--url", f"{server.url}/wechat", "--handshake")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "handshake OK" in done.stdout


def test_cli_simulate_wrong_token_reports_403(server: Server) -> None:
    done = run_cli(
        "simulate", "--url", f"{server.url}/wechat", env={**ENV, "WX_TOKEN": "wrongtoken"}
    )
    assert done.returncode == 1
    assert "-> 403" in done.stdout


def test_cli_simulate_unreachable_server_is_a_clear_error() -> None:
    done = run_cli("simulate", "--url", "http://127.0.0.1:9/wechat")
    assert done.returncode == 1
    assert "could not reach" in done.stderr
    assert "Traceback" not in done.stderr
