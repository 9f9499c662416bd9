"""``wxserver doctor`` on an Open Platform component: the console's alarms, read from the store."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.cli.commands import UNSET, Cli
from tests.component_player import COMPONENT_KEY, COMPONENT_TOKEN
from tests.fakewechat import COMPONENT_APP_ID, COMPONENT_SECRET, FakeWeChat
from wxserver.services.component.alarms import MESSAGE_FAILURE, REFUSED_PUSH, Alarms
from wxserver.services.component.authorizers import Authorizers
from wxserver.services.component.tickets import TicketBox
from wxserver.services.store import Store, open_store

COMPONENT_ENV = {
    "WX_COMPONENT_APPID": COMPONENT_APP_ID,
    "WX_COMPONENT_APPSECRET": COMPONENT_SECRET,
    "WX_COMPONENT_TOKEN": COMPONENT_TOKEN,
    "WX_COMPONENT_ENCODING_AES_KEY": COMPONENT_KEY,
    # A server of the component alone.
    "WX_TOKEN": UNSET,
    "WX_APPID": UNSET,
    "WX_APPSECRET": UNSET,
}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """The store the doctor reads (the one ``wx_here`` points WX_STORE_URL at)."""
    return open_store(f"sqlite:///{tmp_path}/store.db")


def test_cli_doctor_component_all_good(wx_here: Cli, store: Store, fake: FakeWeChat) -> None:
    TicketBox(store, COMPONENT_APP_ID).keep(fake.component.ticket())
    Authorizers(store, COMPONENT_APP_ID).add("wx1234567890abcdef", "refresh")
    done = wx_here("doctor", **COMPONENT_ENV)
    assert done.returncode == 0, done.stdout
    for line in (
        f"component {COMPONENT_APP_ID} (events /wechat/component, messages "
        "/wechat/component/$APPID$)",
        "✓ component_verify_ticket pushed 0 min ago",
        "✓ no push to the authorization-event URL refused in the last day",
        "✓ no authorizer message refused or failed in the last day",
        "✓ component_access_token available (expires in 120 min)",
        "· 1 authorizer in the store",
    ):
        assert line in done.stdout


def test_cli_doctor_component_without_a_ticket(wx_here: Cli) -> None:
    done = wx_here("doctor", **COMPONENT_ENV)
    assert done.returncode == 1
    assert "✗ no component_verify_ticket held" in done.stdout
    assert "授权事件接收URL" in done.stdout
    assert "✗ component_access_token: WeChat answered errcode 61006" in done.stdout


def test_cli_doctor_component_stale_ticket(wx_here: Cli, store: Store, fake: FakeWeChat) -> None:
    old = {"ticket": fake.component.ticket(), "at": time.time() - 25 * 60}
    store.set(f"component:{COMPONENT_APP_ID}:ticket", json.dumps(old).encode(), ttl=3600)
    done = wx_here("doctor", **COMPONENT_ENV)
    assert done.returncode == 1
    assert "✗ last component_verify_ticket push 25 min ago" in done.stdout
    assert "推送component_verify_ticket超时/失败" in done.stdout


def test_cli_doctor_component_refusals_and_failures(
    wx_here: Cli, store: Store, fake: FakeWeChat
) -> None:
    TicketBox(store, COMPONENT_APP_ID).keep(fake.component.ticket())
    alarms = Alarms(store, COMPONENT_APP_ID)
    alarms.record(REFUSED_PUSH, "SignatureError: msg_signature does not match")
    alarms.record(REFUSED_PUSH, "CryptoError: padding")
    alarms.record(MESSAGE_FAILURE, "handler-error")
    done = wx_here("doctor", **COMPONENT_ENV)
    assert done.returncode == 1
    assert "✗ 2 push(es) to the authorization-event URL refused in the last day" in done.stdout
    assert "CryptoError: padding" in done.stdout
    assert "✗ 1 authorizer message(s) refused or failed in the last day" in done.stdout
