"""The diagnostics commands token, callback-ip, api-ip and net-check against the fake WeChat API.

Every command runs as a real subprocess, ``.venv/bin/wxserver ...``, with ``WX_API_BASE_URL``
pointing at the fake and ``WX_STORE_URL`` at a SQLite file of the test's own, so the token is
shared between runs exactly as between the server's workers. Further variations of a command run
in this process through click's CliRunner (``wx_here``), which skips a second of start-up each.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cli.commands import STABLE_TOKEN, UNSET, WHITELISTED_IP, Cli, one_error_line
from tests.fakewechat import API_IPS, CALLBACK_IPS, FakeWeChat
from tests.servers import free_port

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
