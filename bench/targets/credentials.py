"""The one set of test credentials every target is configured with (public values, never real)."""

from __future__ import annotations

TOKEN = "wxserverbench"  # noqa: S105  # a public test value
APP_ID = "wx00000000000bench"
# A public test key (also the development default); it opens nothing real.
ENCODING_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
PATH = "/wechat"
TO_USER = "gh_wxserver_bench"
FROM_USER = "oWxServerBenchUser000000000"
