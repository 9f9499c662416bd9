"""The stack the nginx tests run: the echo handlers' account in secure mode, behind nginx."""

from __future__ import annotations

from tests.servers import Server
from tests.support import AES_KEY, APP_ID, TOKEN
from wxserver.services.config import load_settings

ENV = {
    "WX_ENV": "test",
    "WX_TOKEN": TOKEN,
    "WX_APPID": APP_ID,
    "WX_ENCODING_AES_KEY": AES_KEY,
    "WX_MODE": "secure",
    "WX_PLUGINS": "wxserver.builtin.echo:handlers",
    "WX_LOAD_ENTRY_POINTS": "false",
}
ACCOUNT = load_settings(ENV).account("default")
TIMEOUT = 10.0


def address(server: Server) -> str:
    return server.url.removeprefix("http://")
