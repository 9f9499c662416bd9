"""The custom menu as config: WeChat's rules, the handler check, TOML both ways."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.menu_handlers import handlers
from tests.servers import ROOT
from wxserver.builtin import echo
from wxserver.protocol.routing import Router
from wxserver.services.menu import (
    Menu,
    MenuError,
    MenuKey,
    check_handlers,
    load_menu,
    menu_from_api,
    menu_to_toml,
    missing_handlers,
    parse_menu,
)

EXAMPLE = ROOT / "config" / "menu.toml"


def click(name: str = "今日", key: object = "K", **extra: Any) -> dict[str, Any]:
    return {"type": "click", "name": name, "key": key, **extra}


def problems_of(data: dict[str, Any]) -> tuple[str, ...]:
    with pytest.raises(MenuError) as caught:
        parse_menu(data, "test.toml")
    return caught.value.problems


# --- WeChat's rules ------------------------------------------------------------------------------


def test_menu_example_is_valid_and_the_echo_set_takes_every_key() -> None:
    menu = load_menu(EXAMPLE)
    assert menu.counts() == (3, 5)
    assert [(k.event, k.key) for k in menu.event_keys()] == [
        ("CLICK", "MENU_TODAY"),
        ("scancode_waitmsg", "MENU_SCAN"),
        ("pic_photo_or_album", "MENU_PHOTO"),
        ("location_select", "MENU_LOCATION"),
        ("CLICK", "MENU_CONTACT"),
    ]
    assert missing_handlers(menu, Router([echo.handlers])) == []


def test_menu_to_api_is_the_create_body() -> None:
    data = {"button": [click(), {"name": "更多", "sub_button": [click("子", "S")]}]}
    body = parse_menu(data).to_api()
    assert body == data
    body["button"].clear()  # a copy: the menu itself is unchanged
    assert parse_menu(data).counts() == (2, 1)


LEAF_TYPES = [
    ({"type": "view", "url": "https://example.com/"}, []),
    ({"type": "miniprogram", "url": "https://e.com/", "appid": "wx1", "pagepath": "p/i"}, []),
    ({"type": "media_id", "media_id": "M"}, []),
    ({"type": "view_limited", "media_id": "M"}, []),
    ({"type": "article_id", "article_id": "A"}, []),
    ({"type": "article_view_limited", "article_id": "A"}, []),
    ({"type": "scancode_push", "key": "K"}, ["scancode_push"]),
    ({"type": "scancode_waitmsg", "key": "K"}, ["scancode_waitmsg"]),
    ({"type": "pic_sysphoto", "key": "K"}, ["pic_sysphoto"]),
    ({"type": "pic_photo_or_album", "key": "K"}, ["pic_photo_or_album"]),
    ({"type": "pic_weixin", "key": "K"}, ["pic_weixin"]),
    ({"type": "location_select", "key": "K"}, ["location_select"]),
    ({"type": "click", "key": "K"}, ["CLICK"]),
]


@pytest.mark.parametrize(("fields", "events"), LEAF_TYPES, ids=[t[0]["type"] for t in LEAF_TYPES])
def test_menu_every_button_type(fields: dict[str, str], events: list[str]) -> None:
    menu = parse_menu({"button": [{"name": "按钮", **fields}]})
    assert menu.to_api() == {"button": [{"name": "按钮", **fields}]}
    assert [k.event for k in menu.event_keys()] == events


def test_menu_limits_are_inclusive() -> None:
    # 16 bytes at the top, 60 below, 128 for a key, 1024 for a URL: all exactly at the limit.
    top, sub = "一二三四五" + "x", "一" * 20
    view = {"type": "view", "name": sub, "url": "https://e.com/" + "u" * 1010}
    parse_menu({"button": [click(top, "k" * 128), {"name": "更多", "sub_button": [view]}]})


RULES = [
    ({"button": []}, "there are 0 buttons; WeChat takes 1 to 3"),
    ({"button": [click()] * 4}, "there are 4 buttons; WeChat takes 1 to 3"),
    (
        {"button": [{"name": "更多", "sub_button": [click()] * 6}]},
        "button 1 '更多': 6 sub-buttons; WeChat takes 1 to 5",
    ),
    ({"button": [click("一二三四五六")]}, "the name is 18 bytes; the limit is 16"),
    (
        {"button": [{"name": "更多", "sub_button": [click("一" * 21)]}]},
        "the name is 63 bytes; the limit is 60",
    ),
    ({"button": [click(key="k" * 129)]}, "'key' is 129 bytes; the limit is 128"),
    (
        {"button": [{"type": "view", "name": "v", "url": "u" * 1025}]},
        "'url' is 1025 bytes; the limit is 1024",
    ),
    ({"button": [{"type": "click", "name": "c"}]}, "button 1 'c': a click button needs 'key'"),
    (
        {"button": [{"type": "miniprogram", "name": "m", "url": "https://e.com/"}]},
        "a miniprogram button needs 'appid'",
    ),
    ({"button": [{"type": "text", "name": "t"}]}, "'type' 'text' is not a menu button type"),
    ({"button": [{"name": "t"}]}, "button 1 't': 'type' is missing"),
    ({"button": [click(url="https://e.com/")]}, "a click button takes no 'url'"),
    ({"button": [{"type": "click", "key": "K"}]}, "button 1: 'name' is missing"),
    ({"button": [click(key=7)]}, "a click button needs 'key' (text)"),
    (
        {"button": [{"name": "p", "type": "click", "sub_button": [click()]}]},
        "a button with sub-buttons takes only a name, not ['type']",
    ),
    (
        {"button": [{"name": "p", "sub_button": [{**click(), "sub_button": [click()]}]}]},
        "menus have two levels",
    ),
    ({"button": [click()], "matchrule": {}}, "unknown top-level key 'matchrule'"),
    ({"buttons": [click()]}, "'button' must be an array of [[button]] tables"),
]


@pytest.mark.parametrize(("data", "says"), RULES, ids=[r[1][:40] for r in RULES])
def test_menu_rules(data: dict[str, Any], says: str) -> None:
    assert any(says in problem for problem in problems_of(data)), problems_of(data)


def test_menu_every_problem_is_listed_at_once() -> None:
    data = {
        "button": [
            click("一二三四五六"),
            {"name": "更多", "sub_button": [{"type": "view", "name": "v"}, click(key="")]},
        ]
    }
    problems = problems_of(data)
    assert problems == (
        "button 1 '一二三四五六': the name is 18 bytes; the limit is 16 (UTF-8)",
        "button 2 '更多' > sub_button 1 'v': a view button needs 'url' (text)",
        "button 2 '更多' > sub_button 2 '今日': a click button needs 'key' (text)",
    )


def test_menu_file_errors(tmp_path: Path) -> None:
    with pytest.raises(MenuError, match="no menu file"):
        load_menu(tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[[button]\n", "utf-8")
    with pytest.raises(MenuError, match="cannot be read"):
        load_menu(broken)


# --- the handler check ---------------------------------------------------------------------------


def test_menu_missing_handlers_lists_every_key_a_rule_does_not_take() -> None:
    menu = load_menu(EXAMPLE)
    router = Router([handlers])
    missing = missing_handlers(menu, router)
    assert [(m.event, m.key) for m in missing] == [
        ("scancode_waitmsg", "MENU_SCAN"),
        ("pic_photo_or_album", "MENU_PHOTO"),
        ("CLICK", "MENU_CONTACT"),
    ]
    assert missing[0] == MenuKey(
        "button 2 '工具' > sub_button 1 '扫一扫'", "scancode_waitmsg", "MENU_SCAN"
    )
    with pytest.raises(MenuError) as caught:
        check_handlers(menu, router, "config/menu.toml", ["menu_test"])
    error = caught.value
    assert error.summary == "3 keys reach no handler (handler sets: menu_test)"
    assert "CLICK key 'MENU_CONTACT'" in error.report()
    assert "MENU_TODAY" not in str(error)


def test_menu_view_and_media_buttons_need_no_handler() -> None:
    data = {"button": [{"type": "view", "name": "v", "url": "https://e.com/"}]}
    check_handlers(parse_menu(data), Router([]), "m", [])


# --- TOML both ways ------------------------------------------------------------------------------


def test_menu_toml_round_trip_keeps_awkward_text() -> None:
    awkward = 'a "quoted" \\ back\tslash\nnew line \x7f del 表情 \U0001f600'
    data = {
        "button": [
            click(awkward[:5], awkward),
            {
                "name": "更多",
                "sub_button": [{"type": "view", "name": "链接", "url": 'https://e.com/?a=1&b="2"'}],
            },
        ]
    }
    menu = parse_menu(data)
    text = menu_to_toml(menu, "first line\nsecond line")
    assert text.startswith("# first line\n# second line\n\n[[button]]\n")
    assert parse_menu(tomllib.loads(text)) == menu


def test_menu_from_api_drops_what_create_refuses() -> None:
    answer = {
        "menu": {
            "menuid": 208396938,
            "button": [
                {"type": "click", "name": "今日", "key": "K", "sub_button": []},
                {
                    "name": "更多",
                    "sub_button": [
                        {
                            "type": "view",
                            "name": "v",
                            "url": "https://e.com/",
                            "sub_button": [],
                            "value": "x",
                        }
                    ],
                },
            ],
        },
        "conditionalmenu": [],
    }
    assert menu_from_api(answer) == Menu(
        (
            click(key="K"),
            {
                "name": "更多",
                "sub_button": [{"type": "view", "name": "v", "url": "https://e.com/"}],
            },
        )
    )
    with pytest.raises(MenuError, match="answered without a menu"):
        menu_from_api({"errcode": 0})
