"""Fixtures of the simulator's tests: the running stack, and Chromium pages on its page."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.chromium import TIMEOUT_MS, chromium
from tests.web.simulator.stack import Stack, simulator_stack


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """Job worker, gunicorn and the simulator for one test module."""
    with simulator_stack() as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    """One headless Chromium for the module's pages."""
    with chromium() as context:
        yield context


@pytest.fixture
def page(stack: Stack, browser: BrowserContext) -> Iterator[Page]:
    """The simulator's page, loaded with the conversation so far."""
    expect.set_options(timeout=TIMEOUT_MS)
    opened = browser.new_page()
    so_far = httpx.get(f"{stack.url}api/entries?after=0&wait=0", timeout=10).json()["entries"]
    opened.goto(stack.url)
    expect(opened.get_by_role("log").locator("> li")).to_have_count(len(so_far))
    expect(opened.get_by_label("Mode")).to_have_value("compat")
    yield opened
    opened.close()
