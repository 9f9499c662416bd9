"""The README's picture of the simulator, taken by the same headless Chromium as the page tests.

    .venv/bin/python -m tests.web.simulator.screenshot [tests/web/simulator/simulator.png]

Starts the tests' stack (job worker, gunicorn, simulator), plays a short conversation, opens the
details of the menu click's reply, and saves the page as a PNG.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.chromium import chromium
from tests.web.simulator.stack import simulator_stack

DEFAULT = Path(__file__).with_name("simulator.png")


def _say(page: Page, text: str, replies: int) -> None:
    log = page.get_by_role("log").locator("> li")
    start = log.count()
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send").click()
    expect(log).to_have_count(start + 1 + replies)


def take(path: Path) -> None:
    """Play a conversation on the page and save its picture at ``path``."""
    with simulator_stack() as stack, chromium(width=1280, height=900) as browser:
        page = browser.new_page()
        page.goto(stack.url)
        expect(page.get_by_label("Mode")).to_have_value("compat")
        log = page.get_by_role("log").locator("> li")
        page.get_by_role("button", name="Subscribe").click()
        expect(log).to_have_count(2)
        _say(page, "hello", 1)
        page.get_by_label("Mode").select_option("secure")
        page.get_by_role("button", name="今日推荐").click()
        expect(log).to_have_count(6)
        _say(page, "slow 1.5", 2)
        log.nth(5).click()
        page.get_by_label("Message").fill("weather Beijing")
        page.screenshot(path=str(path))
    print(f"wrote {path}")


if __name__ == "__main__":
    take(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT)
