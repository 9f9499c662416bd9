"""A real headless Chromium (Debian's package) driven by Playwright, for the page tests.

Playwright launches the system's Chromium (never a browser of its own: nothing is downloaded) with
a fresh profile and the flags a closed, shared machine needs: no sandbox (root), no GPU, no
/dev/shm, and none of the background traffic a browser makes by itself.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import BrowserContext, sync_playwright

INSTALL_HINT = (
    "Chromium is not installed; the simulator's page is tested in a real headless Chromium. "
    "Install Debian's package: apt-get update && apt-get install -y chromium"
)
FALLBACK_PATHS = (Path("/usr/bin/chromium"), Path("/usr/lib/chromium/chromium"))
# Playwright adds --headless and --user-data-dir (the fresh profile) itself.
FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# Every wait of a page test ends by then.
TIMEOUT_MS = 15_000


def chromium_binary() -> str:
    """The Chromium executable, or a RuntimeError that says how to install it."""
    found = shutil.which("chromium") or next(
        (str(path) for path in FALLBACK_PATHS if path.is_file()), None
    )
    if found is None:
        raise RuntimeError(INSTALL_HINT)
    return found


@contextmanager
def chromium(width: int = 1280, height: int = 860) -> Iterator[BrowserContext]:
    """A headless Chromium with a fresh profile, closed afterwards."""
    binary = chromium_binary()
    with (
        tempfile.TemporaryDirectory(prefix="wxserver-chromium-") as profile,
        sync_playwright() as playwright,
    ):
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=binary,
            headless=True,
            args=list(FLAGS),
            viewport={"width": width, "height": height},
            timeout=TIMEOUT_MS * 2,
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()
