"""The simulator's web app: the chat page, its JSON API, and the account's simulated WeChat API.

``create_simulator`` refuses production settings (:mod:`~wxserver.web.simulator.guard`), then
serves, on 127.0.0.1 only:

- ``/`` and ``/static/``: the page (plain HTML, CSS and JavaScript shipped in the package);
- ``/api/state``: the account, the modes, the default OpenID and the custom menu;
- ``/api/send``: the user's message or event, played against the server (see ``player``);
- ``/api/entries?after=N``: the conversation after entry N, waiting up to 20 s for news;
- ``/cgi-bin/...``: the WeChat API the server sends its late replies through (``wechat_api``).

The page's API answers only requests addressed to this host and port, with a JSON body for a
POST: another site open in the same browser can neither read it nor make it send.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, jsonify, request, send_from_directory

from wxserver.protocol.callback import Mode
from wxserver.protocol.errors import WxServerError
from wxserver.services.config import Account, Settings
from wxserver.services.menu import MenuError, load_menu
from wxserver.web.simulator import wechat_api
from wxserver.web.simulator.actions import ActionError, read_action
from wxserver.web.simulator.conversation import Conversation
from wxserver.web.simulator.guard import HOST, check_development
from wxserver.web.simulator.player import Player
from wxserver.web.simulator.server_log import ServerLog
from wxserver.web.simulator.window import ServiceWindow

EXTENSION = "wxserver_simulator"
# The account's original ID (原始ID, gh_...) is not part of the settings; the server ignores it.
TO_USER = "gh_wxserver_sim"
DEFAULT_OPENID = "oWxServerSimulatedUser00000"
LONGEST_WAIT = 20.0
_OPENID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_STATIC = Path(__file__).parent / "static"
_PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data: http: https:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)

log = logging.getLogger("wxserver.simulator")


class Simulator:
    """What one simulator holds: the account, the player, the conversation, the API."""

    def __init__(
        self,
        settings: Settings,
        account: Account,
        url: str,
        server_log: Path | None,
        *,
        openid: str = DEFAULT_OPENID,
        mode: Mode | None = None,
    ) -> None:
        self.account = account
        self.url = url
        self.openid = openid
        self.mode = mode or account.mode
        self.epoch = secrets.token_hex(4)
        self.conversation = Conversation()
        self.window = ServiceWindow()
        self.menu_error = ""
        menu: dict[str, Any] | None = None
        try:
            menu = load_menu(account.menu_file).to_api()
        except MenuError as exc:
            self.menu_error = exc.report()
        self.api = wechat_api.SimulatedAPI(account.app_id, self.conversation, self.window, menu)
        self.player = Player(
            account,
            url,
            wechat_timeout=settings.wechat_timeout,
            server_log=None if server_log is None else ServerLog(server_log, account.name),
        )
        self._count = 0
        self._lock = threading.Lock()

    def state(self) -> dict[str, Any]:
        """What the page needs to draw itself."""
        return {
            "account": {"name": self.account.name, "app_id": self.account.app_id},
            "url": self.url,
            "mode": self.mode.value,
            "modes": [mode.value for mode in Mode],
            "openid": self.openid,
            "menu": self.api.menu,
            "menu_error": self.menu_error,
            "menu_file": self.account.menu_file,
            "server_log": self.player.server_log is not None,
            "wechat_timeout": self.player.timeout,
        }

    def send(self, data: Any) -> str:
        """Play the user's action ``data`` against the server; the exchange's id."""
        if not isinstance(data, dict):
            raise ActionError("send a JSON object")
        try:
            mode = Mode(data.get("mode") or self.mode)
        except ValueError:
            raise ActionError(f"unknown mode {data.get('mode')!r}") from None
        openid = str(data.get("openid") or self.openid).strip()
        if not _OPENID.fullmatch(openid):
            raise ActionError("an OpenID is 1 to 64 letters, digits, '-' or '_'")
        action = read_action(data, openid, TO_USER)
        with self._lock:
            self._count += 1
            exchange = f"m-{self._count}"
        self.conversation.add("user", action.bubble, exchange=exchange, openid=openid)
        # Before the message goes out: a fast background handler may answer through the API
        # before the passive reply is back.
        self.window.acted(openid, action.msg_type, action.event)
        bubble, details = self.player.play(action, mode)
        self.conversation.add(
            "account", bubble, exchange=exchange, openid=openid, via="passive", details=details
        )
        log.info(
            "%s %s (%s mode) -> %s in %.0f ms, %d retries, handler: %s",
            action.msg_type,
            action.bubble.get("text") or action.bubble.get("media_id", ""),
            mode.value,
            bubble["kind"],
            details["took_ms"],
            details["retries"],
            details.get("handler") or "not known",
        )
        return exchange


def create_simulator(
    settings: Settings,
    account: Account,
    url: str,
    *,
    port: int,
    server_log: Path | None = None,
    openid: str | None = None,
    mode: str | None = None,
) -> Flask:
    """The simulator's app for ``account``, playing WeChat against ``url``.

    ``openid`` and ``mode`` are the page's first OpenID and mode (default: a simulated user, the
    account's mode). Raises ProductionSettingsError for production settings (see ``guard``).
    """
    check_development(settings, account)
    if openid is not None and not _OPENID.fullmatch(openid):
        raise ActionError("an OpenID is 1 to 64 letters, digits, '-' or '_'")
    simulator = Simulator(
        settings,
        account,
        url,
        server_log,
        openid=openid or DEFAULT_OPENID,
        mode=None if mode is None else Mode(mode),
    )
    app = Flask("wxserver.web.simulator", static_folder=str(_STATIC), static_url_path="/static")
    app.extensions[EXTENSION] = simulator
    hosts = {f"{HOST}:{port}", f"localhost:{port}"}
    app.register_blueprint(wechat_api.blueprint(simulator.api))

    @app.before_request
    def only_this_host() -> None:
        # A page of another site, reaching this port through a name it controls, is refused.
        if request.host not in hosts:
            abort(403)
        if request.method == "POST" and request.path.startswith("/api/"):
            origin = request.headers.get("Origin")
            if not request.is_json or (origin and origin.split("://")[-1] not in hosts):
                abort(403)

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = _PAGE_POLICY
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/")
    def page() -> Response:
        return send_from_directory(_STATIC, "index.html")

    @app.get("/api/state")
    def state() -> Response:
        return jsonify(simulator.state())

    @app.post("/api/send")
    def send() -> tuple[Response, int]:
        try:
            exchange = simulator.send(request.get_json(silent=True))
        except WxServerError as exc:
            return jsonify({"error": str(exc)}), 400
        return jsonify({"exchange": exchange}), 200

    @app.get("/api/entries")
    def entries() -> Response:
        after = request.args.get("after", "0")
        wait = request.args.get("wait", str(LONGEST_WAIT))
        try:
            start, seconds = int(after), min(max(float(wait), 0.0), LONGEST_WAIT)
        except ValueError:
            abort(400)
        found, typing = simulator.conversation.since(start, seconds)
        return jsonify({"epoch": simulator.epoch, "entries": found, "typing": typing})

    return app
