"""WeRoBot 1.13.1's own WSGI app (Bottle; cryptography for AES), echoing text.

Sessions are turned off (``SESSION_STORAGE=False``): WeRoBot's default writes every message's
session to SQLite, which no other target does. The same app serves both modes: WeRoBot decrypts a
body that carries ``<Encrypt>`` and encrypts the reply once encryption has been used.
"""

from __future__ import annotations

from typing import Any

from werobot import WeRoBot

from bench.targets.credentials import APP_ID, ENCODING_AES_KEY, TOKEN

robot = WeRoBot(
    token=TOKEN,
    app_id=APP_ID,
    encoding_aes_key=ENCODING_AES_KEY,
    SESSION_STORAGE=False,
)


@robot.text  # type: ignore[untyped-decorator]  # WeRoBot ships no type hints
def echo(message: Any) -> str:
    """Echo the text back."""
    content: str = message.content
    return content


app = robot.wsgi
