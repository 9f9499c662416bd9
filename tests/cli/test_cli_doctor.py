"""``wxserver doctor``: every check against the fake WeChat API, and --url against a real server.

Every command runs as a real subprocess, ``.venv/bin/wxserver ...``, or in this process through
click's CliRunner (``wx_here``); see tests/cli/conftest.py.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.cli.commands import STABLE_TOKEN, UNSET, WHITELISTED_IP, Cli
from tests.fakewechat import APP_ID, FakeWeChat
from tests.servers import Server, free_port, gunicorn
from tests.support import TOKEN
from wxserver.cli import diagnostics as cli_diagnostics

# --- doctor --------------------------------------------------------------------------------------


def test_cli_doctor_all_good(wx: Cli) -> None:
    done = wx("doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✗" not in done.stdout
    for check in (
        "✓ configuration valid",
        "✓ store reachable",
        "✓ handler sets load: echo",
        "✓ AppSecret set",
        "✓ access_token available (stable_token; expires in 120 min)",
        "· menu: no config/menu.toml, nothing to check",
    ):
        assert check in done.stdout
    assert done.stdout.rstrip().endswith("all 6 checks passed.")


ALERTS = [
    (
        40164,
        f"invalid ip {WHITELISTED_IP} ipv6 ::ffff:{WHITELISTED_IP}, not in whitelist",
        [
            "IPs listed in the account's IP whitelist",
            f"fix: Add this server's IP {WHITELISTED_IP} to the IP whitelist",
            "设置与开发 > 基本配置 > IP白名单",
        ],
    ),
    (
        89503,
        f"risky ip {WHITELISTED_IP}, need admin confirm",
        [
            "sent the account's administrator a message asking them to confirm it",
            f"confirmation request for {WHITELISTED_IP}",
        ],
    ),
    (
        89501,
        f"ip {WHITELISTED_IP} is waiting for confirmation",
        [
            "has not yet answered",
            f"approve calls from {WHITELISTED_IP}",
        ],
    ),
    (89506, f"ip {WHITELISTED_IP} refused twice", ["blocked for 24 hours"]),
    (89507, f"ip {WHITELISTED_IP} refused", ["blocked for one hour"]),
    (45009, "reach max api daily quota limit", ["2000 a day", "/cgi-bin/clear_quota"]),
]


# The three the platform's documentation dwells on run in a real process, the others in this one.
IN_A_PROCESS = {40164, 89503, 45009}


@pytest.mark.parametrize(("errcode", "errmsg", "says"), ALERTS, ids=[str(a[0]) for a in ALERTS])
def test_cli_doctor_explains_token_failures(
    request: pytest.FixtureRequest, fake: FakeWeChat, errcode: int, errmsg: str, says: list[str]
) -> None:
    run: Cli = request.getfixturevalue("wx" if errcode in IN_A_PROCESS else "wx_here")
    fake.inject(STABLE_TOKEN, errcode=errcode, errmsg=errmsg)
    done = run("doctor")
    assert done.returncode == 1
    assert f"✗ access_token: WeChat answered errcode {errcode}" in done.stdout
    assert f"(WeChat said: {errmsg})" in done.stdout
    for text in says:
        assert text in done.stdout
    assert "1 problem(s) found" in done.stdout


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"WX_APPSECRET": "wrongsecret"}, "WeChat refused the AppSecret"),
        ({"WX_APPID": "wx00000000000wrong"}, "WeChat does not know this AppID"),
    ],
    ids=["appsecret", "appid"],
)
def test_cli_doctor_wrong_credentials(wx_here: Cli, env: dict[str, str], says: str) -> None:
    done = wx_here("doctor", **env)
    assert done.returncode == 1
    assert says in done.stdout
    assert "fix: Copy the" in done.stdout


def test_cli_doctor_cool_down_then_retry(wx: Cli, fake: FakeWeChat) -> None:
    fake.inject(STABLE_TOKEN, errcode=89503, errmsg=f"risky ip {WHITELISTED_IP}")
    assert wx("doctor").returncode == 1
    # Within the cool-down WeChat is not asked again (each ask messages the administrator).
    again = wx("doctor")
    assert again.returncode == 1
    assert "the failure recorded at" in again.stdout
    assert fake.calls(STABLE_TOKEN) == 1
    fixed = wx("doctor", "--retry")
    assert fixed.returncode == 0, fixed.stdout
    assert fake.calls(STABLE_TOKEN) == 2


def test_cli_doctor_configuration_error_names_the_key(wx: Cli) -> None:
    done = wx("doctor", WX_TOKEN="x")
    assert done.returncode == 1
    assert done.stdout.startswith("✗ configuration: WX_TOKEN")


def test_cli_doctor_missing_appsecret_and_broken_plugin(wx_here: Cli) -> None:
    done = wx_here("doctor", WX_APPSECRET=UNSET, WX_PLUGINS="tests.no_such_module:handlers")
    assert done.returncode == 1
    assert "✗ handler sets: handler set 'tests.no_such_module:handlers' could not be imported" in (
        done.stdout
    )
    assert "✗ AppSecret not set" in done.stdout
    assert "WX_APPSECRET" in done.stdout
    assert "2 problem(s) found" in done.stdout


def test_cli_doctor_api_unreachable(wx_here: Cli) -> None:
    done = wx_here("doctor", WX_API_BASE_URL=f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 1
    assert "✗ access_token: no answer from the WeChat API" in done.stdout
    assert "allow outbound HTTPS to api.weixin.qq.com" in done.stdout


def test_cli_doctor_checks_the_menu_file(wx_here: Cli, tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "menu.toml").write_text(
        '[[button]]\ntype = "click"\nname = "今日推荐"\nkey = "MENU_TODAY"\n', "utf-8"
    )
    done = wx_here("doctor")
    assert "✓ menu config/menu.toml: 1 buttons, 0 sub-buttons, every key has a handler" in (
        done.stdout
    )
    # Without a catch-all handler, the key reaches nobody.
    refused = wx_here("doctor", WX_PLUGINS="")
    assert refused.returncode == 1
    assert "✗ menu config/menu.toml cannot be pushed" in refused.stdout
    assert "CLICK key 'MENU_TODAY'" in refused.stdout


# --- doctor --url, against a real gunicorn on 127.0.0.1 -------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    env = {
        "WX_ENV": "test",
        "WX_TOKEN": TOKEN,
        "WX_APPID": APP_ID,
        "WX_MODE": "plain",
        "WX_PLUGINS": "wxserver.builtin.echo:handlers",
        "WX_LOAD_ENTRY_POINTS": "false",
    }
    with gunicorn(env, workers=1) as running:
        yield running


def test_cli_doctor_url_passes_against_the_server(wx: Cli, server: Server) -> None:
    done = wx("doctor", "--url", f"{server.url}/wechat")
    assert done.returncode == 0, done.stdout + done.stderr
    port = server.url.rsplit(":", 1)[1]
    assert f"callback URL {server.url}/wechat" in done.stdout
    assert f"· port {port}: WeChat calls only ports 80 and 443" in done.stdout
    assert "✓ DNS: 127.0.0.1 resolves to 127.0.0.1" in done.stdout
    assert f"✓ TCP: connected to 127.0.0.1:{port}" in done.stdout
    assert "✓ handshake: signed GET answered the echostr" in done.stdout


@pytest.mark.parametrize(
    ("path", "env", "says"),
    [
        ("/wechat", {"WX_TOKEN": "someothertoken"}, "✗ handshake: HTTP 403"),
        ("/elsewhere", {}, "✗ handshake: HTTP 404"),
    ],
    ids=["wrong-token", "wrong-path"],
)
def test_cli_doctor_url_handshake_failures(
    wx_here: Cli, server: Server, path: str, env: dict[str, str], says: str
) -> None:
    done = wx_here("doctor", "--url", server.url + path, **env)
    assert done.returncode == 1
    assert says in done.stdout
    assert "'回应不合法'" in done.stdout


def test_cli_doctor_url_connection_refused(wx_here: Cli) -> None:
    done = wx_here("doctor", "--url", f"http://127.0.0.1:{free_port()}/wechat")
    assert done.returncode == 1
    assert "✗ TCP: cannot connect to 127.0.0.1" in done.stdout
    assert "'连接超时'" in done.stdout
    assert "wxserver callback-ip" in done.stdout


def _resolver_failing_for(host: str, failure: Callable[[], NoReturn]) -> Callable[..., Any]:
    """getaddrinfo, except that ``host`` fails with ``failure``: no query leaves the machine."""
    real = socket.getaddrinfo

    def getaddrinfo(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == host:
            failure()
        return real(name, *args, **kwargs)

    return getaddrinfo


def _no_such_host() -> NoReturn:
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def _slow_resolver() -> NoReturn:
    time.sleep(2)
    raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")


@pytest.mark.parametrize(
    ("resolver", "says"),
    [(_no_such_host, "Name or service not known"), (_slow_resolver, "no answer from the resolver")],
    ids=["unknown-host", "resolver-timeout"],
)
def test_cli_doctor_url_dns_failures(
    wx_here: Cli,
    monkeypatch: pytest.MonkeyPatch,
    resolver: Callable[[], NoReturn],
    says: str,
) -> None:
    # The resolver is replaced for this host: no DNS query is sent anywhere.
    monkeypatch.setattr(socket, "getaddrinfo", _resolver_failing_for("wx.example.com", resolver))
    monkeypatch.setattr(cli_diagnostics, "TIMEOUT", 0.3)
    done = wx_here("doctor", "--url", "https://wx.example.com/wechat")
    assert done.returncode == 1, done.stdout
    assert "✗ DNS: wx.example.com does not resolve" in done.stdout
    assert says in done.stdout
    assert "'DNS失败'" in done.stdout
    assert "✗ TCP" not in done.stdout  # nothing further is tried
