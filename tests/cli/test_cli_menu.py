"""The menu commands: push and pull the custom menu.

The commands run as real subprocesses (``.venv/bin/wxserver menu ...``) against the fake WeChat
API on 127.0.0.1; what the fake received is read back through its menu/get.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakewechat import APP_ID, APP_SECRET, FakeWeChat
from tests.servers import BIN, ROOT
from tests.support import TOKEN
from wxserver.services.api.client import WeChatAPI
from wxserver.services.menu import load_menu
from wxserver.services.store import MemoryStore
from wxserver.services.tokens import TokenOwner

EXAMPLE = ROOT / "config" / "menu.toml"
MENU_CREATE = "/cgi-bin/menu/create"


Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def fake() -> Iterator[FakeWeChat]:
    with FakeWeChat() as running:
        yield running


@pytest.fixture
def wx(fake: FakeWeChat, tmp_path: Path) -> Cli:
    """Run ``wxserver *args`` in ``tmp_path`` with an account of the fake; env overrides."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("WX")}
    python_path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    base = {
        **inherited,
        "PYTHONPATH": python_path,  # for tests.menu_handlers:handlers
        "WX_ENV": "test",
        "WX_TOKEN": TOKEN,
        "WX_APPID": APP_ID,
        "WX_APPSECRET": APP_SECRET,
        "WX_PLUGINS": "wxserver.builtin.echo:handlers",
        "WX_LOAD_ENTRY_POINTS": "false",
        "WX_API_BASE_URL": fake.url,
        "WX_STORE_URL": f"sqlite:///{tmp_path}/store.db",
    }

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(BIN / "wxserver"), *args],
            cwd=tmp_path,
            env=base | env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert "Traceback" not in done.stderr
        return done

    return run


def live_menu(fake: FakeWeChat) -> dict[str, Any]:
    """The menu the fake holds, read back through menu/get as any client would."""
    with WeChatAPI(APP_ID, APP_SECRET, base_urls=fake.url) as api:
        api.tokens = TokenOwner(MemoryStore(), api, APP_ID)
        menu: dict[str, Any] = api.get_menu()["menu"]
        return menu


EXAMPLE_JSON = {
    "button": [
        {"type": "click", "name": "今日推荐", "key": "MENU_TODAY"},
        {
            "name": "工具",
            "sub_button": [
                {"type": "scancode_waitmsg", "name": "扫一扫", "key": "MENU_SCAN"},
                {"type": "pic_photo_or_album", "name": "发图片", "key": "MENU_PHOTO"},
                {"type": "location_select", "name": "发送位置", "key": "MENU_LOCATION"},
            ],
        },
        {
            "name": "关于",
            "sub_button": [
                {"type": "view", "name": "项目主页", "url": "https://example.com/wxserver"},
                {"type": "click", "name": "联系我们", "key": "MENU_CONTACT"},
            ],
        },
    ]
}


def test_cli_menu_push_sends_exactly_the_file(wx: Cli, fake: FakeWeChat, tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "menu.toml").write_text(EXAMPLE.read_text("utf-8"), "utf-8")
    done = wx("menu", "push")  # the account's default menu_file, config/menu.toml
    assert done.returncode == 0, done.stderr
    assert "pushed config/menu.toml to account default: 3 buttons, 5 sub-buttons" in done.stdout
    assert fake.calls(MENU_CREATE) == 1
    assert live_menu(fake) == EXAMPLE_JSON


def test_cli_menu_push_dry_run_prints_the_json_and_sends_nothing(wx: Cli, fake: FakeWeChat) -> None:
    done = wx("menu", "push", "--dry-run", "--file", str(EXAMPLE), WX_APPSECRET="")
    assert done.returncode == 0, done.stderr
    printed, _, tail = done.stdout.rpartition("}\n")
    assert json.loads(printed + "}") == EXAMPLE_JSON
    assert tail.startswith("dry run:")
    assert fake.token_fetches() == 0
    assert fake.calls(MENU_CREATE) == 0


def test_cli_menu_push_refuses_keys_without_handler(wx: Cli, fake: FakeWeChat) -> None:
    done = wx("menu", "push", "--file", str(EXAMPLE), WX_PLUGINS="tests.menu_handlers:handlers")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"Error: {EXAMPLE}: 3 keys reach no handler (handler sets: menu_test):",
        "  - button 2 '工具' > sub_button 1 '扫一扫': scancode_waitmsg key 'MENU_SCAN'",
        "  - button 2 '工具' > sub_button 2 '发图片': pic_photo_or_album key 'MENU_PHOTO'",
        "  - button 3 '关于' > sub_button 2 '联系我们': CLICK key 'MENU_CONTACT'",
        '  - register them, e.g. @handlers.event("CLICK", key="...") in one of the handler sets '
        "(WX_PLUGINS), or remove them from the menu",
    ]
    assert fake.calls(MENU_CREATE) == 0


def test_cli_menu_push_refuses_an_invalid_menu(wx: Cli, fake: FakeWeChat, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[button]]\ntype = "click"\nname = "一二三四五六"\n', "utf-8")
    done = wx("menu", "push", "--file", str(bad))
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == f"Error: {bad}: is not a valid menu:"
    assert "the name is 18 bytes; the limit is 16" in done.stderr
    assert "a click button needs 'key'" in done.stderr
    assert fake.calls(MENU_CREATE) == 0


def test_cli_menu_push_api_error_is_one_line(wx: Cli, fake: FakeWeChat) -> None:
    fake.inject(MENU_CREATE, errcode=40018, errmsg="invalid button name size")
    done = wx("menu", "push", "--file", str(EXAMPLE))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "Error: WeChat API error 40018: An error the client does not know. "
        "(errmsg: invalid button name size)"
    ]


def test_cli_menu_pull_round_trips(wx: Cli, fake: FakeWeChat, tmp_path: Path) -> None:
    assert wx("menu", "push", "--file", str(EXAMPLE)).returncode == 0
    pulled = tmp_path / "pulled.toml"
    done = wx("menu", "pull", "--file", str(pulled))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"wrote {pulled}: 3 buttons, 5 sub-buttons\n"
    assert load_menu(pulled) == load_menu(EXAMPLE)
    # What was pulled pushes back to the same menu.
    assert wx("menu", "push", "--file", str(pulled)).returncode == 0
    assert live_menu(fake) == EXAMPLE_JSON


def test_cli_menu_pull_refuses_to_overwrite_without_force(
    wx: Cli, fake: FakeWeChat, tmp_path: Path
) -> None:
    assert wx("menu", "push", "--file", str(EXAMPLE)).returncode == 0
    target = tmp_path / "menu.toml"
    target.write_text("# mine\n", "utf-8")
    refused = wx("menu", "pull", "--file", str(target))
    assert refused.returncode == 1
    assert refused.stderr == f"Error: {target} exists; pass --force to overwrite it\n"
    assert target.read_text("utf-8") == "# mine\n"
    assert fake.calls("/cgi-bin/menu/get") == 0  # refused before asking WeChat
    forced = wx("menu", "pull", "--file", str(target), "--force")
    assert forced.returncode == 0, forced.stderr
    assert load_menu(target) == load_menu(EXAMPLE)


def test_cli_menu_pull_without_a_menu(wx: Cli, tmp_path: Path) -> None:
    done = wx("menu", "pull", "--file", str(tmp_path / "m.toml"))
    assert done.returncode == 1
    assert "has no menu set through the API (errcode 46003)" in done.stderr
    assert not (tmp_path / "m.toml").exists()
