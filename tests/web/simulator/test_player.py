"""The player sends as WeChat does, on WeChat's schedule, against a real gunicorn and job worker.

WeChat's clock is compressed here: it waits T = 2 s per attempt (not 5 s) and the server's budget
is 1.6 s (not 4.5 s), as in the 5-second contract's tests.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.servers import Server, gunicorn, job_worker
from tests.web.simulator.stack import ENV
from tests.web.simulator.support import development
from wxserver.protocol.callback import Kind, Mode
from wxserver.protocol.secret import Secret
from wxserver.protocol.wire import Format
from wxserver.services.config import Account
from wxserver.web.simulator.actions import Action, read_action
from wxserver.web.simulator.player import FAILURE_NOTICE, Player
from wxserver.web.simulator.server_log import ServerLog

T = 2.0
OPENID = "oSimulatedTester"


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    scratch = tempfile.mkdtemp(prefix="wxserver-player-")
    env = {
        **ENV,
        "WX_APPSECRET": "",
        "WX_CONTINUATION": "retry",
        "WX_PLACEHOLDER": "",
        "WX_WECHAT_TIMEOUT": str(T),
        "WX_REPLY_BUDGET": "1.6",
        "WX_STORE_URL": f"lmdb:///{scratch}/store.lmdb",
    }
    try:
        with job_worker(env), gunicorn(env, workers=1, capture=False) as running:
            yield running
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture
def account() -> Account:
    return development().account("default")


@pytest.fixture
def player(server: Server, account: Account) -> Iterator[Player]:
    assert server.log is not None
    playing = Player(
        account,
        f"{server.url}/wechat",
        wechat_timeout=T,
        server_log=ServerLog(server.log, "default"),
    )
    yield playing
    playing.close()


def text(content: str) -> Action:
    return read_action({"type": "text", "content": content}, OPENID, "gh_simulated")


@pytest.mark.parametrize("mode", list(Mode), ids=[m.value for m in Mode])
def test_player_gets_the_echo_in_each_mode(player: Player, mode: Mode) -> None:
    bubble, details = player.play(text(f"in {mode.value}"), mode)
    assert bubble == {"kind": "text", "text": f"in {mode.value}\nseen 1"}
    assert details["mode"] == mode.value
    assert details["retries"] == 0
    assert details["handler"] == "echo.echo_text"
    assert len(details["server_log"]) == 1
    encrypted = mode is not Mode.PLAIN
    assert details["request"]["encrypted"] is encrypted
    assert ("<Encrypt>" in details["request"]["body"]) is encrypted
    assert ("<Encrypt>" in details["reply"]["body"]) is encrypted
    assert (details["reply"]["plaintext"] is not None) is encrypted
    assert f"in {mode.value}" in details["request"]["plaintext"]


def test_player_names_the_handler_of_an_event(player: Player) -> None:
    click = read_action({"type": "event", "event": "CLICK", "key": "MENU_TODAY"}, OPENID, "gh_x")
    bubble, details = player.play(click, Mode.SECURE)
    assert bubble == {"kind": "text", "text": "Today: dumplings"}
    assert details["handler"] == "simulator_test.today"


def test_player_retries_while_the_server_holds_the_message(player: Player) -> None:
    # 3.1 s of work: the first attempt is held past T, the second gets the reply at 3.1 s.
    bubble, details = player.play(text("slow 3.1"), Mode.COMPAT)
    assert bubble == {"kind": "text", "text": "slow answer after 3.1 s"}
    assert details["retries"] == 1
    first, second = details["attempts"]
    assert (first["received"], first["status"]) == (False, None)
    assert (second["received"], second["status"]) == (True, 200)
    assert second["sent_at_ms"] >= T * 1000
    assert details["handler"] == "simulator_test.slow"
    assert [line.split(" outcome=")[1].split()[0] for line in details["server_log"]] == [
        "held",
        "reply",
    ]


def test_player_last_attempt_answered_without_the_reply(player: Player) -> None:
    # Longer than all three attempts: the third is answered in time with `success`.
    bubble, details = player.play(text("slow 6"), Mode.PLAIN)
    assert bubble == {"kind": "none"}
    assert details["retries"] == 2
    assert [a["received"] for a in details["attempts"]] == [False, False, True]


@dataclass(frozen=True)
class OtherAccount:
    token: Secret
    app_id: str
    encoding_aes_keys: tuple[str, ...]
    kind: Kind = Kind.MP
    format: Format = Format.XML


def test_player_shows_a_refusal_as_wechat_would(server: Server, account: Account) -> None:
    wrong = OtherAccount(Secret("notTheToken"), account.app_id, account.encoding_aes_keys)
    player = Player(wrong, f"{server.url}/wechat", wechat_timeout=T)
    try:
        bubble, details = player.play(text("forged"), Mode.PLAIN)
    finally:
        player.close()
    assert bubble["kind"] == "error"
    assert bubble["text"] == f"The server answered HTTP 403; WeChat shows: {FAILURE_NOTICE}"
    assert details["reply"]["status"] == 403
    assert details["handler"] is None


@contextmanager
def silent_server() -> Iterator[str]:
    """A port that takes connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/wechat"


def test_player_no_answer_to_any_attempt(account: Account) -> None:
    with silent_server() as url:
        player = Player(account, url, wechat_timeout=1.0)
        try:
            bubble, details = player.play(text("hello?"), Mode.PLAIN)
        finally:
            player.close()
    assert bubble["kind"] == "error"
    assert bubble["text"].endswith(f"WeChat shows: {FAILURE_NOTICE}")
    assert details["retries"] == 2
    assert [a["sent_at_ms"] // 1000 for a in details["attempts"]] == [0, 1, 2]


@contextmanager
def answering(body: bytes) -> Iterator[str]:
    """An HTTP server answering every POST with ``body``."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/wechat"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<xml><Encrypt>AAAA</Encrypt><MsgSignature>0</MsgSignature></xml>", "signature"),
        (b"{not xml", "XML"),
    ],
    ids=["bad-signature", "not-xml"],
)
def test_player_reply_wechat_cannot_read(account: Account, body: bytes, reason: str) -> None:
    with answering(body) as url:
        player = Player(account, url, wechat_timeout=T)
        try:
            bubble, details = player.play(text("x"), Mode.SECURE)
        finally:
            player.close()
    assert bubble["kind"] == "error"
    assert bubble["text"].startswith("WeChat cannot read the reply")
    assert reason.lower() in bubble["text"].lower()
    assert details["reply"]["body"] == body.decode()
