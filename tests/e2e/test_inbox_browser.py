"""The agent inbox in a real browser: live, keyboard-first, with the customer beside it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from browser_helpers import HubServer, log_in
from playwright.async_api import expect

from hub.db import transaction
from hub.inbox import close
from hub.models import Agent

pytestmark = pytest.mark.browser


async def _history_on_email(hub_server: HubServer) -> None:
    """Before today's chat, the same customer wrote by email and was answered and closed."""
    earlier = await hub_server.ingest("My bill is wrong", channel="email", sender="mei@example.cn",
                                      sender_name="Li Mei", subject="Bill for March")
    async with transaction(hub_server.core.sessions) as s:
        supervisor = Agent(number="9999", name="Archive", role="supervisor", password_hash="x")
        s.add(supervisor)
        await s.flush()
        await s.refresh(supervisor)
    await close(hub_server.core, supervisor, earlier.interaction_id, "complaint")


async def test_agent_handles_a_chat_with_the_keyboard_only(hub_server: HubServer, page: Any) -> None:
    await hub_server.add_agent("1001", "Alice")
    await _history_on_email(hub_server)
    await log_in(page, hub_server, "1001")

    # A customer writes while the agent is looking: the row appears without a reload.
    await hub_server.ingest("Hello, my internet is down since this morning", sender="visitor-7",
                            sender_name="Li Mei", identities=(("email", "mei@example.cn"),))
    row = page.locator("#list .row", has_text="Li Mei")
    await expect(row).to_be_visible()
    await expect(row.locator(".wait")).to_have_text(re.compile(r"^\d+:\d\d$"))
    await expect(row.locator(".chan")).to_have_text("WEB")

    # j selects, Enter opens, t takes, typing goes to the reply box, Ctrl+Enter sends.
    await page.locator("body").click(position={"x": 640, "y": 780})
    await page.keyboard.press("j")
    await page.keyboard.press("Enter")
    await expect(page.locator("#transcript .msg-in .msg-text")).to_have_text(
        "Hello, my internet is down since this morning")
    await expect(page.locator("#take-button")).to_be_visible()
    await page.keyboard.press("t")
    await expect(page.locator("#reply-text")).to_be_focused()
    await expect(page.locator("#conv-status")).to_have_text("In progress")
    await page.keyboard.type("Sorry to hear that, <b>checking</b> now.")
    await page.keyboard.press("Control+Enter")

    # The web channel is not loaded in this hub, so delivery fails and says why.
    sent = page.locator("#transcript .msg-out")
    await expect(sent.locator(".msg-text")).to_have_text("Sorry to hear that, <b>checking</b> now.")
    await expect(sent.locator(".delivery-status")).to_have_text("Failed")
    await expect(sent.locator(".delivery-error")).to_have_text("channel web is not loaded")
    await expect(sent.locator(".delivery-hint")).to_be_visible()
    assert await sent.locator(".msg-text b").count() == 0, "message text is never parsed as HTML"
    await expect(page.locator("#reply-text")).to_have_value("")

    # The customer panel shows the earlier email and its disposition.
    history = page.locator("#cust-history li")
    await expect(history).to_have_count(2)
    await expect(history.nth(1)).to_contain_text("Email")
    await expect(history.nth(1)).to_contain_text("Complaint")
    await expect(page.locator("#cust-identities")).to_contain_text("m***@example.cn")
    await expect(page.locator("#cust-tier")).to_have_text("Ordinary")

    # Esc leaves the reply box; ? lists every shortcut.
    await page.keyboard.press("Escape")
    await page.keyboard.press("?")
    help_dialog = page.locator("#help-dialog")
    await expect(help_dialog).to_be_visible()
    for key in ("j", "k", "Enter", "t", "r", "i", "Ctrl", "Esc", "c", "u", "g", "?"):
        await expect(help_dialog.locator("kbd", has_text=key).first).to_be_visible()
    await page.screenshot(path="/tmp/inbox-help.png")
    await page.keyboard.press("Escape")
    await expect(help_dialog).to_be_hidden()
    await page.screenshot(path="/tmp/inbox.png")

    # c opens the disposition dialog; a digit picks the category, Enter closes.
    await page.keyboard.press("c")
    dialog = page.locator("#close-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator(".disposition").nth(2)).to_contain_text("Business acceptance")
    await page.keyboard.press("2")
    await expect(dialog.locator("input[value=query]")).to_be_checked()
    await page.keyboard.press("Enter")
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#conv-status")).to_have_text("Closed")
    await expect(page.locator("#reply")).to_be_hidden()
    assert page.errors == []


async def test_tabs_and_live_updates_follow_the_websocket(hub_server: HubServer, page: Any) -> None:
    await hub_server.add_agent("1001", "Alice")
    await hub_server.ingest("first", sender="visitor-1", sender_name="Wang Wei")
    await log_in(page, hub_server, "1001")
    await expect(page.locator("#list .row")).to_have_count(1)
    await page.locator("#list").focus()
    await page.keyboard.press("Enter")
    await page.keyboard.press("t")
    await expect(page.locator("#reply-text")).to_be_focused()
    await page.keyboard.press("Escape")

    # u attaches a file; the reply carries it as a download link.
    await expect(page.locator("#list")).to_be_focused()
    await expect(page.locator("#tab-mine")).to_have_attribute("aria-selected", "true")
    # Headless Chromium does not always report the picker that u opens, so the file is handed
    # to the same input directly after the key press.
    await page.keyboard.press("u")
    await page.set_input_files(
        "#reply-file", files=[{"name": "invoice.txt", "mimeType": "text/plain", "buffer": b"total 42"}])
    await expect(page.locator("#reply-files .chip")).to_have_text("invoice.txt×")
    await page.keyboard.press("Escape")
    await page.keyboard.press("r")
    await page.keyboard.type("Here is the invoice")
    await page.keyboard.press("Control+Enter")
    link = page.locator("#transcript .msg-out .msg-files a")
    await expect(link).to_have_text("invoice.txt")
    assert re.fullmatch(r"/api/files/\d+", await link.get_attribute("href") or "")

    await page.keyboard.press("Escape")
    await page.keyboard.press("g")
    await page.keyboard.press("m")
    await expect(page.locator("#tab-mine")).to_have_attribute("aria-selected", "true")
    await expect(page.locator("#list .row", has_text="Wang Wei")).to_be_visible()

    # The customer writes again: the open conversation shows it once, live.
    await hub_server.ingest("are you there?", sender="visitor-1")
    await expect(page.locator("#transcript .msg-in")).to_have_count(2)

    # A dropped websocket reconnects and catches up on what came in meanwhile.
    await page.evaluate("window.contacthub.live.drop()")
    await hub_server.ingest("hello again", sender="visitor-1")
    await expect(page.locator("#conn")).to_have_class("conn conn-on", timeout=10_000)
    await expect(page.locator("#transcript .msg-in")).to_have_count(3)
    seqs = await page.locator("#transcript > li").evaluate_all("nodes => nodes.map(n => n.dataset.seq)")
    assert seqs == sorted(set(seqs), key=int)

    await page.keyboard.press("g")
    await page.keyboard.press("w")
    await expect(page.locator("#tab-waiting")).to_have_attribute("aria-selected", "true")
    await expect(page.locator("#list-empty")).to_be_visible()
    assert page.errors == []


async def test_chinese_agent_sees_a_chinese_inbox(hub_server: HubServer, page: Any) -> None:
    await hub_server.add_agent("1001", "张伟", locale="zh_CN")
    await hub_server.ingest("你好", sender="visitor-9", sender_name="李梅")
    await log_in(page, hub_server, "1001")
    await expect(page.locator("#tab-waiting")).to_contain_text("等待中")
    await page.locator("#list").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#take-button")).to_contain_text("接手")
    await expect(page.locator("#conv-status")).to_have_text("等待中")
    await expect(page.locator("#cust-tier")).to_have_text("普通")
    await page.screenshot(path="/tmp/inbox-zh.png")
    assert page.errors == []


async def test_bad_login_shows_the_reason(hub_server: HubServer, page: Any) -> None:
    await hub_server.add_agent("1001", "Alice")
    await page.goto(hub_server.url("/login"))
    await page.fill("#number", "1001")
    await page.fill("#password", "wrong password")
    await page.press("#password", "Enter")
    await expect(page.locator("#login-error")).to_have_text("The agent number or password is wrong.")
    await page.screenshot(path="/tmp/login.png")
