"""The fake's endpoints that only read and write its state: messages, menus, network checks.

The token, ticket and OAuth endpoints are methods of ``FakeWeChat``, which keeps those rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.fakewechat.state import API_IPS, CALLBACK_IPS

if TYPE_CHECKING:
    from tests.fakewechat.fake import FakeWeChat


def _ok(**extra: Any) -> dict[str, Any]:
    return {"errcode": 0, "errmsg": "ok", **extra}


def _custom_send(
    fake: FakeWeChat, now: float, q: dict[str, str], b: dict[str, Any]
) -> dict[str, Any]:
    msgtype = b.get("msgtype")
    if not b.get("touser") or not isinstance(msgtype, str) or not isinstance(b.get(msgtype), dict):
        return {"errcode": 40008, "errmsg": "invalid message type"}
    return _ok()


def _typing(fake: FakeWeChat, now: float, q: dict[str, str], b: dict[str, Any]) -> dict[str, Any]:
    if b.get("command") not in ("Typing", "CancelTyping") or not b.get("touser"):
        return {"errcode": 40001, "errmsg": "invalid command"}
    return _ok()


def _template(fake: FakeWeChat, now: float, q: dict[str, str], b: dict[str, Any]) -> dict[str, Any]:
    if not b.get("template_id"):
        return {"errcode": 40037, "errmsg": "invalid template_id"}
    return _ok(msgid=1_000_000 + len(fake._state.sent))


def _callback_check(
    fake: FakeWeChat, now: float, q: dict[str, str], b: dict[str, Any]
) -> dict[str, Any]:
    if b.get("action") not in ("dns", "ping", "all"):
        return {"errcode": 40202, "errmsg": "invalid action"}
    if b.get("check_operator") not in ("CHINANET", "UNICOM", "CAP", "DEFAULT"):
        return {"errcode": 40203, "errmsg": "invalid check operator"}
    answer: dict[str, Any] = {}
    if b["action"] in ("dns", "all"):
        answer["dns"] = [{"ip": "111.161.64.40", "real_operator": "UNICOM"}]
    if b["action"] in ("ping", "all"):
        answer["ping"] = [
            {"ip": "111.161.64.40", "from_operator": "UNICOM", "package_loss": "0%", "time": "23ms"}
        ]
    return answer


def _menu_create(
    fake: FakeWeChat, now: float, q: dict[str, str], b: dict[str, Any]
) -> dict[str, Any]:
    if not isinstance(b.get("button"), list):
        return {"errcode": 40016, "errmsg": "invalid button size"}
    fake._state.menu = b
    return _ok()


def _menu_get(fake: FakeWeChat, now: float, q: dict[str, str], b: dict[str, Any]) -> dict[str, Any]:
    if fake._state.menu is None:
        return {"errcode": 46003, "errmsg": "menu no exist"}
    return {"menu": fake._state.menu}


def _current_menu(
    fake: FakeWeChat, now: float, q: dict[str, str], b: dict[str, Any]
) -> dict[str, Any]:
    menu = fake._state.menu
    return {"is_menu_open": int(menu is not None), "selfmenu_info": menu or {"button": []}}


@dataclass(frozen=True)
class Route:
    handler: Callable[[FakeWeChat, float, dict[str, str], dict[str, Any]], dict[str, Any]]
    needs_token: bool = True


# Every (method, path) answered by a function of this module.
ENDPOINTS: dict[tuple[str, str], Route] = {
    ("POST", "/cgi-bin/message/custom/send"): Route(_custom_send),
    ("POST", "/cgi-bin/message/custom/typing"): Route(_typing),
    ("POST", "/cgi-bin/message/template/send"): Route(_template),
    ("GET", "/cgi-bin/getcallbackip"): Route(lambda f, n, q, b: {"ip_list": CALLBACK_IPS}),
    ("GET", "/cgi-bin/get_api_domain_ip"): Route(lambda f, n, q, b: {"ip_list": API_IPS}),
    ("POST", "/cgi-bin/callback/check"): Route(_callback_check),
    ("POST", "/cgi-bin/menu/create"): Route(_menu_create),
    ("GET", "/cgi-bin/menu/get"): Route(_menu_get),
    ("GET", "/cgi-bin/get_current_selfmenu_info"): Route(_current_menu),
}
