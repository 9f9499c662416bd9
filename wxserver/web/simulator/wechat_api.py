"""The WeChat API of the simulated account, so that the server's late replies reach the page.

A server started with ``WX_API_BASE_URL=http://127.0.0.1:<port>`` (and any AppSecret) fetches its
access_token here and sends its customer-service and template messages here: the 5-second
contract's late replies and ``background=True`` handlers' answers appear in the conversation, as
they would arrive on the user's phone. Served with the platform's rules where a plugin can meet
them: the AppID must be the account's; calls need a valid, unexpired access_token (40001, 41001,
42001); ``stable_token`` returns the same token until 5 minutes before its expiry; messages keep
the customer-service window (see :mod:`~wxserver.web.simulator.window`); a news message carries
one article. Any other ``/cgi-bin`` API answers 48001, naming itself.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request

from wxserver.services.menu import MenuError, parse_menu
from wxserver.web.simulator.bubbles import custom_problem, from_custom, from_template
from wxserver.web.simulator.conversation import Conversation
from wxserver.web.simulator.window import NOT_FOLLOWING, ServiceWindow

LIFETIME = 7200
ROTATE_BEFORE = 300
TYPING_SECONDS = 15.0
LOCAL_IPS = ["127.0.0.1"]

Answer = dict[str, Any]


def _error(errcode: int, errmsg: str) -> Answer:
    return {"errcode": errcode, "errmsg": errmsg}


class SimulatedAPI:
    """The platform's side: tokens, messages into the conversation, the account's menu."""

    def __init__(
        self,
        app_id: str,
        conversation: Conversation,
        window: ServiceWindow,
        menu: dict[str, Any] | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app_id = app_id
        self.conversation = conversation
        self.window = window
        self.menu = menu
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}
        self._stable: str | None = None
        self._sent = 0

    # --- credentials -----------------------------------------------------------------------

    def _issue(self, now: float) -> str:
        token = secrets.token_urlsafe(48)
        self._tokens[token] = now + LIFETIME
        return token

    def token(self, data: dict[str, Any], *, stable: bool) -> Answer:
        """``/cgi-bin/stable_token`` (JSON body) or ``/cgi-bin/token`` (query)."""
        if data.get("grant_type") != "client_credential":
            return _error(40002, "invalid grant_type")
        if data.get("appid") != self.app_id:
            return _error(40013, f"invalid appid: the simulated account is {self.app_id}")
        if not data.get("secret"):
            return _error(41004, "appsecret missing")
        with self._lock:
            now = self._clock()
            current = self._stable
            if not stable:
                token = self._issue(now)
            elif current is None or data.get("force_refresh") is True:
                if current is not None:
                    self._tokens.pop(current, None)
                token = self._stable = self._issue(now)
            elif self._tokens[current] - now <= ROTATE_BEFORE:
                token = self._stable = self._issue(now)
            else:
                token = current
            return {"access_token": token, "expires_in": int(self._tokens[token] - now)}

    def token_problem(self, token: str) -> Answer | None:
        """Why ``token`` is refused (41001, 40001, 42001), or None."""
        if not token:
            return _error(41001, "access_token missing")
        with self._lock:
            expires = self._tokens.get(token)
            if expires is None:
                return _error(40001, "invalid credential, access_token is invalid or not latest")
            if self._clock() >= expires:
                return _error(42001, "access_token expired")
        return None

    # --- messages --------------------------------------------------------------------------

    def _entry_id(self) -> str:
        with self._lock:
            self._sent += 1
            return f"api-{self._sent}"

    def custom_send(self, body: dict[str, Any], raw: str) -> Answer:
        """A customer-service message: into the conversation, within the window."""
        problem = custom_problem(body)
        if problem:
            return _error(40008, f"invalid message: {problem}")
        openid = str(body["touser"])
        refused = self.window.spend(openid)
        details = {"api": "/cgi-bin/message/custom/send", "body": raw}
        if refused is not None:
            text = f"WeChat refused a customer-service message: {refused[0]} {refused[1]}"
            details["answer"] = json.dumps(_error(*refused))
            self.conversation.add(
                "account",
                {"kind": "error", "text": text},
                exchange=self._entry_id(),
                openid=openid,
                via="customer-service",
                details=details,
            )
            return _error(*refused)
        self.conversation.add(
            "account",
            from_custom(body),
            exchange=self._entry_id(),
            openid=openid,
            via="customer-service",
            details=details,
        )
        return _error(0, "ok")

    def template_send(self, body: dict[str, Any], raw: str) -> Answer:
        """A template message: into the conversation, to a follower."""
        if not body.get("touser"):
            return _error(40003, "invalid openid")
        if not body.get("template_id"):
            return _error(40037, "invalid template_id")
        openid = str(body["touser"])
        if not self.window.following(openid):
            return _error(*NOT_FOLLOWING)
        entry = self.conversation.add(
            "account",
            from_template(body),
            exchange=self._entry_id(),
            openid=openid,
            via="template",
            details={"api": "/cgi-bin/message/template/send", "body": raw},
        )
        return {**_error(0, "ok"), "msgid": 1_000_000 + int(entry["seq"])}

    def typing(self, body: dict[str, Any]) -> Answer:
        """Show or hide "typing…" on the page."""
        command = body.get("command")
        if command not in ("Typing", "CancelTyping") or not body.get("touser"):
            return _error(40001, "invalid command")
        self.conversation.typing(TYPING_SECONDS if command == "Typing" else 0.0)
        return _error(0, "ok")

    def create_menu(self, body: dict[str, Any]) -> Answer:
        """Replace the account's menu (``wxserver menu push`` against the simulator)."""
        try:
            menu = parse_menu(body, "menu/create").to_api()
        except MenuError as exc:
            return _error(40016, f"invalid menu: {exc}")
        self.menu = menu
        self.conversation.add(
            "account",
            {"kind": "menu", "text": "The account's menu was changed (menu/create)."},
            exchange=self._entry_id(),
            openid="",
            via="api",
        )
        return _error(0, "ok")

    # --- dispatch --------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, str], raw: bytes) -> Answer:
        """Answer one call of ``method`` ``/cgi-bin/<path>``."""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return _error(47001, "data format error: the body is not JSON")
        if not isinstance(body, dict):
            return _error(47001, "data format error: the body is not a JSON object")
        if (method, path) == ("POST", "stable_token"):
            return self.token(body, stable=True)
        if (method, path) == ("GET", "token"):
            return self.token(dict(query), stable=False)
        problem = self.token_problem(query.get("access_token", ""))
        if problem is not None:
            return problem
        text = raw.decode("utf-8", "replace")
        calls: dict[tuple[str, str], Callable[[], Answer]] = {
            ("POST", "message/custom/send"): lambda: self.custom_send(body, text),
            ("POST", "message/template/send"): lambda: self.template_send(body, text),
            ("POST", "message/custom/typing"): lambda: self.typing(body),
            ("GET", "ticket/getticket"): lambda: {
                **_error(0, "ok"),
                "ticket": secrets.token_urlsafe(48),
                "expires_in": LIFETIME,
            },
            ("GET", "getcallbackip"): lambda: {"ip_list": LOCAL_IPS},
            ("GET", "get_api_domain_ip"): lambda: {"ip_list": LOCAL_IPS},
            ("POST", "callback/check"): lambda: {
                "dns": [{"ip": LOCAL_IPS[0], "real_operator": "DEFAULT"}],
                "ping": [{"ip": LOCAL_IPS[0], "from_operator": "DEFAULT", "package_loss": "0%"}],
            },
            ("GET", "menu/get"): lambda: (
                {"menu": self.menu} if self.menu else _error(46003, "menu no exist")
            ),
            ("POST", "menu/create"): lambda: self.create_menu(body),
            ("GET", "get_current_selfmenu_info"): lambda: {
                "is_menu_open": int(self.menu is not None),
                "selfmenu_info": self.menu or {"button": []},
            },
        }
        call = calls.get((method, path))
        if call is None:
            return _error(48001, f"api unauthorized: the simulator does not serve {method} {path}")
        return call()


def blueprint(api: SimulatedAPI) -> Blueprint:
    """The ``/cgi-bin/...`` routes of ``api``."""
    routes = Blueprint("wechat_api", __name__, url_prefix="/cgi-bin")

    @routes.route("/<path:path>", methods=["GET", "POST"])
    def call(path: str) -> Response:
        answer = api.handle(request.method, path, request.args.to_dict(), request.get_data())
        return Response(json.dumps(answer, ensure_ascii=False), mimetype="application/json")

    return routes
