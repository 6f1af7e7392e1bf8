"""A customer on the web site and an agent in the inbox, each in their own browser, one hub."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from browser_helpers import HubServer, log_in
from hub_process import free_port, png_bytes
from playwright.async_api import expect
from sqlalchemy import select

import plugins.web
from hub.core import create_hub
from hub.db import create_all
from hub.models import Interaction
from hub.settings import load_settings
from hub.web.app import create_app

pytestmark = pytest.mark.browser

QUESTION = "Hello, my router shows a red light since this morning"
ANSWER = "Sorry about that! Could you send a photo of the router?"


@pytest.fixture
async def chat_hub(tmp_path: Path) -> AsyncIterator[HubServer]:
    """The whole web app with the web chat plugin, on the port its public_url names (the
    widget's websocket only accepts the hub's own origin)."""
    port = free_port()
    settings = load_settings(
        data_dir=tmp_path, public_url=f"http://127.0.0.1:{port}",
        plugins={"web": {"prechat": True, "prechat_required": ["name"]}},
    )
    core = create_hub(settings, plugins=[plugins.web], load_entry_points=False)
    await create_all(core.engine)
    server = TestServer(create_app(core), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        yield HubServer(core, server)
    finally:
        await server.close()


async def _person(browser: Any) -> Any:
    """A page in its own browser context (own cookies and storage) that records its errors."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = await context.new_page()
    page.errors = []
    page.on("pageerror", lambda err: page.errors.append(str(err)))
    page.on("console", lambda msg: page.errors.append(f"{msg.text} {msg.location['url']}")
            if msg.type == "error" else None)
    return page


async def test_a_customer_and_an_agent_talk_from_first_message_to_close(chat_hub: HubServer,
                                                                     browser: Any) -> None:
    await chat_hub.add_agent("1001", "Alice")

    # The agent is at work: logged in through the form, nothing waiting yet.
    agent = await _person(browser)
    await log_in(agent, chat_hub, "1001")
    await expect(agent.locator("#list-empty")).to_be_visible()

    # The customer opens the operator's site and the chat widget, and says who they are.
    customer = await _person(browser)
    await customer.goto(chat_hub.url("/channels/web/demo"))
    await customer.click("#contacthub-launcher")
    frame = customer.frame_locator("iframe#contacthub-frame")
    await expect(frame.locator("#prechat")).to_be_visible()
    await frame.locator("#prechat input[name=name]").fill("Li Mei")
    await frame.locator("#prechat input[name=phone]").fill("+8613800138000")
    await frame.locator("#prechat button[type=submit]").click()
    await expect(frame.locator("#chat-status")).to_have_text("Connected")

    await frame.locator("#chat-input").press_sequentially(QUESTION)
    await frame.locator("#chat-input").press("Enter")
    mine = frame.locator('#chat-log .msg.visitor[data-seq="1"]')
    await expect(mine.locator(".text")).to_have_text(QUESTION)
    await expect(frame.locator("#chat-log .msg.pending")).to_have_count(0)
    await expect(frame.locator("#chat-input")).to_have_value("")

    # The conversation appears live in the agent's Waiting list, without a reload.
    row = agent.locator("#list .row", has_text="Li Mei")
    await expect(row).to_be_visible()
    await expect(agent.locator("#tab-waiting")).to_have_attribute("aria-selected", "true")
    await expect(row.locator(".chan")).to_have_text("WEB")
    await expect(agent.locator("#count-waiting")).to_have_text("1")

    # j, Enter opens it: the customer's words and the customer panel beside them.
    await agent.locator("body").click(position={"x": 640, "y": 780})
    await agent.keyboard.press("j")
    await agent.keyboard.press("Enter")
    await expect(agent.locator("#transcript .msg-in .msg-text")).to_have_text(QUESTION)
    await expect(agent.locator("#conv-status")).to_have_text("Waiting")
    await expect(agent.locator("#customer")).to_be_visible()
    await expect(agent.locator("#cust-name")).to_have_text("Li Mei")
    identities = agent.locator("#cust-identities li .id-address")
    await expect(identities).to_have_count(2)
    await expect(identities.nth(1)).to_have_text("+86*******8000")  # masked for the agent
    await expect(agent.locator("#cust-history li.current")).to_contain_text("This conversation")

    # t takes it, the reply box has the focus, Ctrl+Enter sends.
    await agent.keyboard.press("t")
    await expect(agent.locator("#conv-status")).to_have_text("In progress")
    await expect(agent.locator("#reply-text")).to_be_focused()
    await agent.keyboard.type(ANSWER)
    await agent.keyboard.press("Control+Enter")
    sent = agent.locator("#transcript .msg-out")
    await expect(sent.locator(".msg-text")).to_have_text(ANSWER)
    await expect(sent.locator(".delivery-status")).to_have_text(re.compile("^(Delivered|Seen)$"))
    await expect(agent.locator("#reply-text")).to_have_value("")

    # The customer sees the reply, with the agent's name, in order after their own message.
    reply = frame.locator('#chat-log .msg.agent[data-seq="2"]')
    await expect(reply.locator(".text")).to_have_text(ANSWER)
    await expect(reply.locator(".author")).to_have_text("Alice")
    # The widget reports the reply read; the agent's transcript says so.
    await expect(sent.locator(".delivery-status")).to_have_text("Seen")

    # The customer sends a photo; the agent sees it as a download link, with the right bytes.
    photo = png_bytes(24, 16)
    await frame.locator("#chat-file").set_input_files(
        files=[{"name": "router.png", "mimeType": "image/png", "buffer": photo}])
    upload = frame.locator('#chat-log .msg.visitor[data-seq="3"] button.file')
    await expect(upload).to_contain_text("router.png")
    link = agent.locator("#transcript .msg-in .msg-files a")
    await expect(link).to_have_text("router.png")
    href = await link.get_attribute("href") or ""
    assert re.fullmatch(r"/api/files/\d+", href), href
    download = await agent.context.request.get(chat_hub.url(href))
    assert download.ok and await download.body() == photo
    await expect(agent.locator("#transcript .msg-in")).to_have_count(2)

    # c, a digit, Enter: closed with a disposition.
    await agent.keyboard.press("Escape")
    await agent.keyboard.press("c")
    dialog = agent.locator("#close-dialog")
    await expect(dialog).to_be_visible()
    await agent.keyboard.press("1")
    chosen = dialog.locator("input[name=disposition]:checked")
    await expect(chosen).to_have_count(1)
    disposition = await chosen.get_attribute("value")
    await agent.keyboard.press("Enter")
    await expect(dialog).to_be_hidden()
    await expect(agent.locator("#conv-status")).to_have_text("Closed")
    await expect(agent.locator("#reply")).to_be_hidden()

    # The customer's widget says the conversation is closed.
    await expect(frame.locator("#chat-status")).to_have_text("Closed")
    await expect(frame.locator("#chat-log .msg.system").last).to_have_text(
        "This conversation is closed. Write to start a new one.")

    # Each side saw every message once, in order.
    seqs = await frame.locator("#chat-log .msg[data-seq]").evaluate_all(
        "nodes => nodes.map(n => +n.dataset.seq)")
    assert seqs == [1, 2, 3]
    seqs = await agent.locator("#transcript > li").evaluate_all("nodes => nodes.map(n => +n.dataset.seq)")
    assert seqs == [1, 2, 3]
    async with chat_hub.core.sessions() as s:
        closed = (await s.execute(select(Interaction))).scalars().one()
    assert (closed.channel, closed.status, closed.disposition) == ("web", "closed", disposition)

    await customer.screenshot(path="/tmp/e2e-customer.png")
    await agent.screenshot(path="/tmp/e2e-agent.png")
    assert customer.errors == []
    assert agent.errors == []
    await customer.context.close()
    await agent.context.close()
