"""A phone call in the agent's inbox, in a real browser: it pops up when the agent answers
their phone, Alt+H holds and resumes, Alt+D sends digits, Alt+R records, and when the caller
hangs up the bar says how the call went and plays the recording."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from freeswitch_double import FreeSwitchDouble
from playwright.async_api import expect
from sqlalchemy import update
from test_voice_ringing import staffed
from voice_support import VoiceHub, answer_menu, arrive, hub_with_flow

from hub.db import transaction
from hub.models import Agent
from hub.web.app import create_app
from hub.web.auth import hash_password

pytestmark = pytest.mark.browser
PASSWORD = "correct horse 1"


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = await context.new_page()
    page.errors = []
    page.on("pageerror", lambda err: page.errors.append(str(err)))
    try:
        yield page
    finally:
        await context.close()


def write_recording(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")


async def test_an_answered_call_pops_up_and_is_held_and_ended_from_the_keyboard(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble, page: Any) -> None:
    recordings = tmp_path / "recordings"
    channel = await hub_with_flow(voice_hub, tmp_path, switch, routing=True, recordings_dir=str(recordings))
    core = channel.hub._core
    number = str(1000 + uuid.uuid4().int % 1000)
    switch.endpoint(f"user/{number}", answer_after=0.3)
    agent_id = await staffed(core, number)
    async with transaction(core.sessions) as s:
        await s.execute(update(Agent).where(Agent.id == agent_id)
                        .values(password_hash=hash_password(PASSWORD), locale="en"))
    server = TestServer(create_app(core, manage_core=False), host="127.0.0.1")
    await server.start_server()
    try:
        await page.goto(str(server.make_url("/login")))
        await page.fill("#number", number)
        await page.fill("#password", PASSWORD)
        await page.press("#password", "Enter")
        await page.wait_for_url("**/inbox")
        await page.wait_for_selector("#conn.conn-on")

        # The caller chooses billing; the agent's phone rings and they pick it up: the call pops up.
        caller = await arrive(switch, channel)
        await answer_menu(caller, "1")
        bar = page.locator("#callbar")
        await expect(bar.locator("#call-state")).to_have_text("On the call")
        await expect(page.locator("#conv-channel")).to_have_text("TEL")
        await expect(page.locator("#transcript")).to_contain_text("Main menu")
        await expect(bar.locator("#call-clock")).to_have_text(re.compile(r"^\d+:\d\d$"))

        # Alt+H holds (the caller hears music), Alt+H again resumes.
        await page.keyboard.press("Alt+h")
        await expect(bar.locator("#call-state")).to_have_text("Caller on hold")
        await expect(bar.locator("button[data-action=resume]")).to_be_visible()
        await page.keyboard.press("Alt+h")
        await expect(bar.locator("#call-state")).to_have_text("On the call")

        # Alt+D asks for the digits and sends them into the call.
        await page.keyboard.press("Alt+d")
        await expect(page.locator("#control-dialog")).to_be_visible()
        await page.keyboard.type("123#")
        await page.keyboard.press("Enter")
        await expect(page.locator("#control-dialog")).to_be_hidden()
        sent = [line for _, line in switch.commands]
        assert len([line for line in sent if line.startswith("api uuid_hold ")]) == 2

        # Alt+K asks which queue to consult, picked from the centre's queues; Escape thinks again.
        await page.keyboard.press("Alt+k")
        await expect(page.locator("#control-dialog select option")).to_contain_text(["Billing (billing)"])
        await page.keyboard.press("Escape")
        await expect(page.locator("#control-dialog")).to_be_hidden()

        # Alt+R records; the switch writes the file where the hub can read it.
        await page.keyboard.press("Alt+r")
        await expect(bar.locator("#call-state")).to_contain_text("recording")
        await expect(bar.locator("button[data-action=record]")).to_have_attribute("aria-pressed", "true")
        [path] = channel.live_calls.by_interaction[next(iter(channel.live_calls.by_interaction))].recordings
        write_recording(Path(path))

        # The caller hangs up: the bar says how the call went and plays the recording.
        caller.hangup()
        await expect(bar.locator("#call-state")).to_have_text(
            re.compile(r"^Call ended · talk \d+:\d\d · hold \d+:\d\d · the customer hung up$"))
        assert f"api uuid_send_dtmf {caller.uuid} 123#" in [line for _, line in switch.commands]
        player = bar.locator("audio.call-recording")
        await expect(player).to_have_count(1)
        src = await player.get_attribute("src")
        assert await page.evaluate("async (src) => (await fetch(src)).status", src) == 200
        await expect(page.locator("#close-button")).to_be_visible()
        assert page.errors == []
    finally:
        await server.close()
