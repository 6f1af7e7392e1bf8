"""The widget in real headless Chromium: launcher, frame, a visitor's message, an agent's reply."""

from __future__ import annotations

from typing import Any

import pytest
from webchat_support import Chat

from hub.conformance.helpers import wait_for
from hub.outbound import send_message

HOSTILE = ['<script>window.__pwned = 1</script>', '<img src=x onerror="window.__pwned = 1">']

pytestmark = pytest.mark.browser


async def test_a_visitor_chats_through_the_widget_and_script_stays_text(chat: Chat, browser: Any) -> None:
    page = await browser.new_page(locale="en-US")
    await page.goto(f"{chat.origin}/channels/web/demo")
    await page.click("#contacthub-launcher")
    frame = await (await page.wait_for_selector("iframe#contacthub-frame")).content_frame()
    await frame.wait_for_selector("#chat-status:has-text('Connected')")

    await frame.fill("#chat-input", HOSTILE[0])
    await frame.click("#chat-send")
    mine = await frame.wait_for_selector('#chat-log .msg.visitor[data-seq="1"]')
    assert await mine.eval_on_selector(".text", "e => e.textContent") == HOSTILE[0]

    conversation = await wait_for(lambda: _conversation(chat), message="the conversation")
    await send_message(chat.core, conversation, HOSTILE[1], author_name="Alice <b>")
    reply = await frame.wait_for_selector('#chat-log .msg.agent[data-seq="2"]')
    assert await reply.eval_on_selector(".text", "e => e.textContent") == HOSTILE[1]
    assert await reply.eval_on_selector(".author", "e => e.textContent") == "Alice <b>"

    assert await frame.evaluate("document.querySelectorAll('#chat-log img, #chat-log script').length") == 0
    assert await frame.evaluate("window.__pwned") is None
    assert await page.evaluate("window.__pwned") is None
    await page.close()


async def _conversation(chat: Chat) -> int | None:
    for conn in chat.channel.registry:
        if conn.interaction_id is not None:
            return int(conn.interaction_id)
    return None


async def test_the_widget_shows_the_offline_form_when_nobody_is_online(chat: Chat, browser: Any) -> None:
    chat.core.presence.clear()
    page = await browser.new_page(locale="zh-CN")
    await page.goto(f"{chat.origin}/channels/web/demo")
    await page.click("#contacthub-launcher")
    frame = await (await page.wait_for_selector("iframe#contacthub-frame")).content_frame()
    form = await frame.wait_for_selector("#offline:not([hidden])")
    assert "请留言" in await form.text_content()
    await frame.fill("#offline input[name=name]", "Wang Fang")
    await frame.fill("#offline input[name=email]", "fang@example.cn")
    await frame.fill("#offline textarea[name=message]", "Please call me back")
    await frame.click("#offline button[type=submit]")
    await frame.wait_for_selector("#offline .form-done:not([hidden])")
    assert await chat.count() == 1
    await page.close()


async def test_the_widget_reconnects_and_resumes_without_losing_or_doubling(chat: Chat, browser: Any) -> None:
    page = await browser.new_page()
    await page.goto(f"{chat.origin}/channels/web/demo")
    await page.click("#contacthub-launcher")
    frame = await (await page.wait_for_selector("iframe#contacthub-frame")).content_frame()
    await frame.wait_for_selector("#chat-status:has-text('Connected')")
    await frame.fill("#chat-input", "first")
    await frame.click("#chat-send")
    await frame.wait_for_selector('#chat-log .msg.visitor[data-seq="1"]')
    conversation = await wait_for(lambda: _conversation(chat), message="the conversation")

    await chat.channel.registry.close_all(1012)  # the hub restarts
    await send_message(chat.core, conversation, "sent while you were away")

    await frame.wait_for_selector('#chat-log .msg.agent[data-seq="2"]', timeout=15000)
    await frame.fill("#chat-input", "back again")
    await frame.click("#chat-send")
    await frame.wait_for_selector('#chat-log .msg.visitor[data-seq="3"]')
    seqs = await frame.evaluate(
        "[...document.querySelectorAll('#chat-log .msg[data-seq]')].map(e => e.dataset.seq)")
    assert seqs == ["1", "2", "3"]
    assert await chat.count() == 2
    await page.close()


async def test_prechat_then_a_file_typing_and_read_receipts(chat: Chat, browser: Any, tmp_path: Any) -> None:
    chat.channel.config.prechat = True
    chat.channel.config.prechat_required = ["name"]
    page = await browser.new_page()
    await page.goto(f"{chat.origin}/channels/web/demo")
    await page.click("#contacthub-launcher")
    frame = await (await page.wait_for_selector("iframe#contacthub-frame")).content_frame()
    await frame.wait_for_selector("#prechat:not([hidden])")
    await frame.fill("#prechat input[name=name]", "Li Lei")
    await frame.fill("#prechat input[name=phone]", "+8613800138000")
    await frame.fill("#prechat input[name=email]", "lilei@example.cn")
    await frame.click("#prechat button[type=submit]")
    await frame.wait_for_selector("#chat-status:has-text('Connected')")

    picture = tmp_path / "meter.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(100))
    await frame.set_input_files("#chat-file", str(picture))
    sent = await frame.wait_for_selector('#chat-log .msg.visitor[data-seq="1"] button.file')
    assert "meter.png" in await sent.text_content()

    conversation = await wait_for(lambda: _conversation(chat), message="the conversation")
    topic = f"interaction:{conversation}"
    await chat.core.bus.publish(topic, {"event": "typing", "by": "agent", "state": "on", "name": "Alice"})
    await frame.wait_for_selector("#chat-typing:not([hidden])")
    await chat.core.bus.publish(topic, {"event": "read", "by": "agent", "up_to_seq": 1})
    await frame.wait_for_selector('#chat-log .msg.visitor.read[data-seq="1"]')
    await page.close()
