"""The diagnostics commands against the fake WeChat API on 127.0.0.1.

Every command runs as a real subprocess, ``.venv/bin/wxserver ...``, with ``WX_API_BASE_URL``
pointing at the fake and ``WX_STORE_URL`` at a SQLite file of the test's own, so the token is
shared between runs exactly as between the server's workers. Further variations of a command run
in this process through click's CliRunner (``wx_here``), which skips a second of start-up each.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from click.testing import CliRunner

from tests.fakewechat import API_IPS, APP_ID, APP_SECRET, CALLBACK_IPS, FakeWeChat
from tests.servers import BIN, ROOT, Server, free_port, gunicorn
from tests.support import TOKEN
from wxserver.cli import diagnostics as cli_diagnostics
from wxserver.cli import main
from wxserver.services.doctor import masked_url

WHITELISTED_IP = "203.0.113.7"
STABLE_TOKEN = "/cgi-bin/stable_token"
UNSET = "<unset>"  # as an environment override: leave the variable out

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def fake() -> Iterator[FakeWeChat]:
    with FakeWeChat() as running:
        yield running


def base_env(fake: FakeWeChat, tmp_path: Path) -> dict[str, str]:
    """An account of the fake, the echo handlers, a store of the test's own; no config file."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("WX")}
    python_path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {
        **inherited,
        "PYTHONPATH": python_path,
        "WX_ENV": "test",
        "WX_TOKEN": TOKEN,
        "WX_APPID": APP_ID,
        "WX_APPSECRET": APP_SECRET,
        "WX_MODE": "plain",
        "WX_PLUGINS": "wxserver.builtin.echo:handlers",
        "WX_LOAD_ENTRY_POINTS": "false",
        "WX_API_BASE_URL": fake.url,
        "WX_STORE_URL": f"sqlite:///{tmp_path}/store.db",
    }


@pytest.fixture
def wx(fake: FakeWeChat, tmp_path: Path) -> Cli:
    """Run ``wxserver *args`` in ``tmp_path``; keyword arguments override the environment."""

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        full_env = base_env(fake, tmp_path) | env
        done = subprocess.run(
            [str(BIN / "wxserver"), *args],
            cwd=tmp_path,
            env={k: v for k, v in full_env.items() if v != UNSET},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        # Whatever happened, no secret and no traceback reaches the terminal.
        for stream in (done.stdout, done.stderr):
            assert "Traceback" not in stream
            assert APP_SECRET not in stream
        return done

    return run


@pytest.fixture
def wx_here(fake: FakeWeChat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Like ``wx``, but in this process, through click's CliRunner."""
    for name in [k for k in os.environ if k.startswith("WX")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    # The commands quiet the "wxserver" logger with a handler; keep that out of other tests.
    monkeypatch.setattr(logging.getLogger("wxserver"), "handlers", [])

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in (base_env(fake, tmp_path) | env).items() if k.startswith("WX")}
        unset = [k for k, v in full_env.items() if v == UNSET]
        result = CliRunner(
            env={k: (None if k in unset else v) for k, v in full_env.items()}
        ).invoke(main, list(args))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        for stream in (result.stdout, result.stderr):
            assert APP_SECRET not in stream
        return subprocess.CompletedProcess(
            list(args), result.exit_code, result.stdout, result.stderr
        )

    return run


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The single line a failed command wrote to stderr."""
    assert done.returncode == 1, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


# --- token ---------------------------------------------------------------------------------------


def test_cli_token_shows_source_and_expiry_but_not_the_value(
    wx: Cli, fake: FakeWeChat, tmp_path: Path
) -> None:
    done = wx("token")
    assert done.returncode == 0, done.stderr
    assert "source: stable_token (POST /cgi-bin/stable_token)" in done.stdout
    assert f"shared through sqlite:///{tmp_path}/store.db" in done.stdout
    assert re.search(r"expires: .+ \(in 1[12]\d min\)", done.stdout)
    assert "value: hidden" in done.stdout
    shown = wx("token", "--show")
    value = re.search(r"^value: (\S+)$", shown.stdout, re.MULTILINE)
    assert value is not None
    assert len(value.group(1)) > 50
    assert value.group(1) not in done.stdout
    # The second run read the token the first one stored: one fetch for both.
    assert fake.calls(STABLE_TOKEN) == 1


def test_cli_token_classic_mode(wx: Cli, fake: FakeWeChat) -> None:
    done = wx("token", WX_TOKEN_MODE="classic")
    assert done.returncode == 0, done.stderr
    assert "source: classic (GET /cgi-bin/token)" in done.stdout
    assert fake.calls("/cgi-bin/token") == 1


def test_cli_token_failure_is_one_line_with_its_fix(wx: Cli, fake: FakeWeChat) -> None:
    fake.inject(
        STABLE_TOKEN, errcode=40164, errmsg=f"invalid ip {WHITELISTED_IP}, not in whitelist"
    )
    line = one_error_line(wx("token"))
    assert line.startswith("Error: WeChat API error 40164")
    assert f"Add this server's IP {WHITELISTED_IP} to the IP whitelist" in line
    # The failure is recorded: the next run shows it, and --retry asks WeChat again.
    again = wx("token", "--retry")
    assert again.returncode == 0, again.stderr
    assert fake.calls(STABLE_TOKEN) == 2


def test_cli_token_without_appsecret(wx_here: Cli) -> None:
    line = one_error_line(wx_here("token", WX_APPSECRET=UNSET))
    assert "has no AppSecret" in line
    assert "WX_APPSECRET" in line


def test_cli_token_unknown_account(wx_here: Cli) -> None:
    assert "no account named 'shop' (accounts: default)" in one_error_line(
        wx_here("token", "--account", "shop")
    )


def test_cli_configuration_error_is_one_line(wx: Cli) -> None:
    line = one_error_line(wx("callback-ip", WX_TOKEN="x"))
    assert line.startswith("Error: configuration error: WX_TOKEN")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:hunter2@cache:6379/0", "redis://:***@cache:6379/0"),
        ("redis://app:hunter2@cache:6379/0", "redis://app:***@cache:6379/0"),
        ("sqlite:///instance/wxserver.db", "sqlite:///instance/wxserver.db"),
    ],
    ids=["password", "user-and-password", "no-password"],
)
def test_cli_masked_url(url: str, shown: str) -> None:
    assert masked_url(url) == shown


# --- callback-ip, api-ip -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "ips"),
    [("callback-ip", CALLBACK_IPS), ("api-ip", API_IPS)],
    ids=["callback", "api"],
)
def test_cli_ip_lists(wx: Cli, command: str, ips: list[str]) -> None:
    plain = wx(command)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.splitlines() == ips
    as_json = wx(command, "--json")
    assert json.loads(as_json.stdout) == ips


def test_cli_ip_list_api_error(wx_here: Cli, fake: FakeWeChat) -> None:
    fake.inject("/cgi-bin/getcallbackip", errcode=48001, errmsg="api unauthorized")
    line = one_error_line(wx_here("callback-ip"))
    assert "WeChat API error 48001" in line
    assert "接口权限" in line


def test_cli_api_unreachable_is_one_line(wx: Cli) -> None:
    line = one_error_line(wx("api-ip", WX_API_BASE_URL=f"http://127.0.0.1:{free_port()}"))
    assert "no usable answer for /cgi-bin/stable_token" in line


# --- net-check -----------------------------------------------------------------------------------


def test_cli_net_check_prints_dns_and_ping_tables(wx: Cli) -> None:
    done = wx("net-check")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "DNS, as resolved by WeChat (DEFAULT):"
    assert lines[1].split() == ["IP", "OPERATOR"]
    assert lines[2].split() == ["111.161.64.40", "UNICOM"]
    assert lines[3] == "ping, from WeChat (DEFAULT):"
    assert lines[4].split() == ["IP", "FROM", "LOSS", "TIME"]
    assert lines[5].split() == ["111.161.64.40", "UNICOM", "0%", "23ms"]


def test_cli_net_check_action_and_operator(wx_here: Cli) -> None:
    done = wx_here("net-check", "--action", "dns", "--operator", "CHINANET")
    assert done.returncode == 0, done.stderr
    assert "DNS, as resolved by WeChat (CHINANET):" in done.stdout
    assert "ping" not in done.stdout
    refused = wx_here("net-check", "--operator", "MOBILE")
    assert refused.returncode == 2
    assert "'MOBILE' is not one of" in refused.stderr


def test_cli_net_check_without_callback_url(wx: Cli, fake: FakeWeChat) -> None:
    fake.inject("/cgi-bin/callback/check", errcode=40201, errmsg="invalid url")
    line = one_error_line(wx("net-check"))
    assert "no callback URL is configured in the MP console" in line
    assert "服务器配置" in line


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
    assert done.stdout.rstrip().endswith("all 5 checks passed.")


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
