"""The simulator's page in a real headless Chromium, against a real gunicorn and job worker.

Controls are found as a person (or a screen reader) finds them: the text box labelled "Message",
the button "Send", the conversation as the element with role "log" (one child per message), menu
items and event buttons by their text, the control labelled "Mode".
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.web.simulator.stack import PLACEHOLDER, Stack


def conversation(page: Page) -> Locator:
    return page.get_by_role("log").locator("> li")


def send_text(page: Page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send").click()


def tab_to(page: Page, test: str, key: str = "Tab", limit: int = 80) -> None:
    """Press ``key`` until ``test`` (JavaScript, on ``document.activeElement``) holds."""
    for _ in range(limit):
        page.keyboard.press(key)
        if page.evaluate(f"(e => {test})(document.activeElement)"):
            return
    raise AssertionError(f"{key} never reached an element where {test}")


def test_page_shows_the_echo_of_hello(page: Page) -> None:
    log = conversation(page)
    start = log.count()
    send_text(page, "hello")
    expect(log).to_have_count(start + 2)
    expect(log.nth(start)).to_have_text("hello")
    expect(log.nth(start + 1)).to_have_text("hello\nseen 1")
    expect(page.get_by_label("Message")).to_have_value("")


def test_page_menu_click_gets_its_handlers_reply(page: Page) -> None:
    log = conversation(page)
    start = log.count()
    page.get_by_role("button", name="今日推荐").click()
    expect(log).to_have_count(start + 2)
    expect(log.nth(start)).to_contain_text("CLICK MENU_TODAY")
    expect(log.nth(start + 1)).to_have_text("Today: dumplings")
    log.nth(start + 1).click()
    details = page.locator("#details")
    expect(details).to_contain_text("simulator_test.today")
    expect(details).to_contain_text("Retries WeChat sent0")


def test_page_background_reply_arrives_as_a_second_bubble(page: Page) -> None:
    log = conversation(page)
    start = log.count()
    send_text(page, "slow 1.5")
    # The callback answers within its 1 s budget with the placeholder ...
    expect(log).to_have_count(start + 2)
    expect(log.nth(start + 1)).to_have_text(PLACEHOLDER)
    expect(log.nth(start + 1)).to_have_class(re.compile(r"\bvia-passive\b"))
    # ... and the job's reply follows through the customer-service API, as its own bubble.
    expect(log).to_have_count(start + 3)
    expect(log.nth(start + 2)).to_have_text("slow answer after 1.5 s")
    expect(log.nth(start + 2)).to_have_class(re.compile(r"\bvia-customer-service\b"))
    log.nth(start + 2).click()
    expect(page.locator("#details")).to_contain_text("/cgi-bin/message/custom/send")


def test_page_secure_mode_shows_the_decrypted_reply(page: Page) -> None:
    page.get_by_label("Mode").select_option("secure")
    log = conversation(page)
    start = log.count()
    send_text(page, "in secure mode")
    expect(log).to_have_count(start + 2)
    expect(log.nth(start + 1)).to_have_text("in secure mode\nseen 1")
    log.nth(start + 1).click()
    details = page.locator("#details")
    expect(details).to_contain_text("Modesecure")
    expect(details.locator("pre").filter(has_text="<Encrypt>")).to_have_count(2)
    decrypted = details.get_by_role("heading", name="Reply, decrypted")
    expect(decrypted).to_be_visible()
    expect(details).to_contain_text("<Content><![CDATA[in secure mode\nseen 1]]></Content>")


def test_page_follow_events_and_uploads(page: Page) -> None:
    log = conversation(page)
    start = log.count()
    page.get_by_role("button", name="Subscribe").click()
    expect(log).to_have_count(start + 2)
    expect(log.nth(start + 1)).to_have_text("event subscribe\nseen 1")
    page.get_by_role("button", name="Follow by QR code").click()
    expect(log).to_have_count(start + 4)
    # The echo counts events by user, second and event name: this follow may be "seen 2".
    expect(log.nth(start + 3)).to_contain_text("event subscribe qrscene_promo\nseen")
    page.get_by_role("button", name="Image", exact=True).click()
    expect(log).to_have_count(start + 6)
    expect(log.nth(start + 4)).to_contain_text("simulated_media_id")
    expect(log.nth(start + 5)).to_have_text("image\nseen 1")


@pytest.mark.parametrize(
    ("button", "reply"),
    [
        ("Scan", "event SCAN promo"),
        ("Location", "event LOCATION"),
        ("Voice", "voice"),
        ("Unfollow", "event unsubscribe"),
        ("发送位置", "event location_select MENU_LOCATION"),
    ],
)
def test_page_event_buttons(page: Page, button: str, reply: str) -> None:
    log = conversation(page)
    start = log.count()
    page.get_by_role("button", name=button, exact=True).click()
    expect(log).to_have_count(start + 2)
    expect(log.nth(start + 1)).to_contain_text(f"{reply}\nseen")


def test_page_draws_replies_as_wechat_does(page: Page) -> None:
    log = conversation(page)
    start = log.count()
    send_text(page, "link")
    expect(log).to_have_count(start + 2)
    links = log.nth(start + 1).get_by_role("link")
    expect(links).to_have_count(2)
    expect(links.nth(0)).to_have_text("the guide")
    expect(links.nth(0)).to_have_attribute("href", "https://example.com/guide")
    expect(links.nth(1)).to_have_attribute("href", "https://example.com/plain")
    expect(log.nth(start + 1)).not_to_contain_text("<a")
    send_text(page, "news")
    expect(log).to_have_count(start + 4)
    card = log.nth(start + 3)
    expect(card.get_by_role("link", name="Menu of the day")).to_have_attribute(
        "href", "https://example.com/menu"
    )
    expect(card).to_contain_text("Dumplings")
    send_text(page, "quiet")
    expect(log).to_have_count(start + 6)
    expect(log.nth(start + 5)).to_have_text("no reply")


def test_page_view_button_shows_its_link(page: Page) -> None:
    log = conversation(page)
    start = log.count()
    page.get_by_role("button", name="项目主页").click()
    expect(log).to_have_count(start + 2)
    link = log.nth(start).get_by_role("link")
    expect(link).to_have_attribute("href", "https://example.com/wxserver")
    expect(log.nth(start + 1)).to_contain_text("event VIEW https://example.com/wxserver")


def test_page_works_by_keyboard_alone(page: Page) -> None:
    log = conversation(page)
    start = log.count()
    tab_to(page, "e.id === 'message'")
    page.keyboard.type("typed")
    page.keyboard.press("Enter")
    expect(log).to_have_count(start + 2)
    expect(log.nth(start + 1)).to_have_text("typed\nseen 1")
    tab_to(page, "e.textContent === 'Subscribe'")
    page.keyboard.press("Enter")
    expect(log).to_have_count(start + 4)
    # Back to the echo of "typed" (Shift+Tab walks the conversation), and open its details.
    tab_to(page, "e.textContent === 'typed\\nseen 1'", key="Shift+Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#details")).to_contain_text("echo.echo_text")


def test_page_labels_every_control(page: Page) -> None:
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, button')]
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                         && !e.textContent.trim())
            .map(e => e.outerHTML)"""
    )
    assert unlabelled == []
    expect(page.get_by_label("Message")).to_be_editable()
    expect(page.get_by_label("OpenID")).to_have_value("oWxServerSimulatedUser00000")


def test_page_loads_nothing_from_elsewhere(stack: Stack, page: Page) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.reload()
    send_text(page, "offline")
    expect(conversation(page).last).to_have_text("offline\nseen 1")
    assert requested
    assert [url for url in requested if not url.startswith(stack.url)] == []
