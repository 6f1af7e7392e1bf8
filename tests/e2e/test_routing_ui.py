"""Routing in a real browser: the agent's status bar and offers, the supervisors' wallboard."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from browser_helpers import HubServer, log_in
from playwright.async_api import expect

from hub.db import transaction
from hub.models import AgentSkill, Interaction, QueueRules
from hub.routing.config import CONFIG_TOPIC
from hub.routing.states import AgentState
from hub.routing.topics import agent_topic

pytestmark = pytest.mark.browser


async def _leading(hub_server: HubServer) -> None:
    """Wait until this hub's router holds the lead."""
    for _ in range(200):
        if hub_server.core.routing.router is not None:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the router did not take the lead")


async def _staff(hub_server: HubServer, number: str, name: str, *, offer_timeout: int | None = None) -> int:
    """An agent skilled for the default queue, and the router told of the new configuration."""
    await _leading(hub_server)
    agent = await hub_server.add_agent(number, name)
    async with transaction(hub_server.core.sessions) as s:
        s.add(AgentSkill(agent_id=agent.id, queue="default", level=1, proficiency=3))
        if offer_timeout is not None:
            rules = await s.get(QueueRules, "default") or QueueRules(queue="default")
            rules.offer_timeout_seconds = offer_timeout
            s.add(rules)
    await hub_server.core.bus.publish(CONFIG_TOPIC, {"event": "routing-config", "what": "test"})
    await hub_server.core.routing.settled()
    return int(agent.id or 0)


async def test_an_agent_goes_idle_and_accepts_an_offer_with_the_keyboard(hub_server: HubServer,
                                                                        page: Any) -> None:
    await _staff(hub_server, "1001", "Alice")
    await log_in(page, hub_server, "1001")
    bar = page.locator("#statusbar")
    await expect(bar).to_be_visible()
    await expect(page.locator("#state-name")).to_have_text("Logged out")
    await expect(page.locator("#fig-waiting")).to_have_text("0")

    # s opens the state menu, 1 picks idle.
    await page.locator("body").click(position={"x": 640, "y": 780})
    await page.keyboard.press("s")
    menu = page.locator("#state-dialog")
    await expect(menu).to_be_visible()
    await expect(menu.locator(".choice").first).to_contain_text("Idle")
    await page.keyboard.press("1")
    await expect(menu).to_be_hidden()
    await expect(page.locator("#state-button")).to_have_class(re.compile(r"\bstate-idle\b"))
    await expect(page.locator("#state-clock")).to_have_text(re.compile(r"^0:0\d$"))

    # A customer writes: the offer rings here with a countdown; Enter answers it.
    await hub_server.ingest("Hello, my parcel never came", sender="visitor-3", sender_name="Zhao Lei")
    card = page.locator("#offers .offer")
    await expect(card).to_be_visible()
    await expect(card).to_contain_text("New contact offered")
    await expect(card.locator(".offer-left")).to_have_text(re.compile(r"^\d+ s left$"))
    await expect(page.locator("#state-name")).to_have_text("Ringing")
    await page.screenshot(path="/tmp/routing-offer.png")
    await page.keyboard.press("Enter")

    await expect(page.locator("#offers")).to_be_hidden()
    await expect(page.locator("#transcript .msg-in .msg-text")).to_have_text("Hello, my parcel never came")
    await expect(page.locator("#conv-status")).to_have_text("In progress")
    await expect(page.locator("#reply-text")).to_be_focused()
    await expect(page.locator("#tab-mine")).to_have_attribute("aria-selected", "true")
    await expect(page.locator("#state-name")).to_have_text("On a contact")
    await expect(page.locator("#fig-talk-now")).not_to_have_text("0:00", timeout=5_000)

    # The new keys are in the ? overlay.
    await page.keyboard.press("Escape")
    await page.keyboard.press("?")
    help_dialog = page.locator("#help-dialog")
    for key in ("s", "n", "a", "d"):
        await expect(help_dialog.locator("kbd", has_text=re.compile(f"^{key}$")).first).to_be_visible()
    await page.keyboard.press("Escape")
    assert page.errors == []


async def test_an_offer_left_ringing_makes_the_agent_busy(hub_server: HubServer, page: Any) -> None:
    agent_id = await _staff(hub_server, "1001", "Alice", offer_timeout=2)
    await log_in(page, hub_server, "1001")
    await expect(page.locator("#state-name")).to_have_text("Logged out")

    # Idle from elsewhere (another screen): the agent_state frame refreshes the bar.
    await hub_server.core.states.change(agent_id, AgentState.IDLE, by=agent_id)
    await expect(page.locator("#state-name")).to_have_text("Idle")

    await hub_server.ingest("anyone there?", sender="visitor-4", sender_name="Sun Li")
    await expect(page.locator("#offers .offer")).to_be_visible()
    toast = page.locator("#toast")
    await expect(toast).to_have_text("Offer timed out: you are now busy (missed offer).", timeout=10_000)
    await expect(page.locator("#offers")).to_be_hidden()
    await expect(page.locator("#state-name")).to_have_text("Busy")
    await expect(page.locator("#state-reason")).to_have_text("Missed offer")
    await expect(page.locator("#fig-missed")).to_have_text("1")
    await expect(page.locator("#fig-waiting")).to_have_text("1")
    await page.screenshot(path="/tmp/routing-missed.png")

    # An overdue reminder pops up in the agent's words.
    await hub_server.core.bus.publish(agent_topic(agent_id), {
        "type": "alert", "kind": "overdue", "agent_id": agent_id, "state": "leave", "reason": "meal",
        "since": "2026-01-01T12:00:00+00:00", "limit_seconds": 1800, "over_seconds": 300.0})
    await expect(toast).to_have_text("Your leave (Meal) is 5 min over its 30 min limit.")
    assert page.errors == []


async def test_the_wallboard_is_live_and_a_supervisor_forces_an_agent_busy(hub_server: HubServer,
                                                                         page: Any) -> None:
    agent_id = await _staff(hub_server, "1001", "Alice")
    await hub_server.core.states.change(agent_id, AgentState.IDLE, by=agent_id)
    await hub_server.add_agent("2001", "Sam", role="supervisor")
    await log_in(page, hub_server, "2001")
    await expect(page.locator("a[href='/wallboard']")).to_be_visible()
    await page.goto(hub_server.url("/wallboard"))
    await expect(page.locator("#conn")).to_have_class("conn conn-on")

    queue = page.locator("#queue-rows tr.queue-row[data-queue=default]")
    await expect(queue.locator(".waiting")).to_have_text("0")
    alice = page.locator("#agent-rows tr", has_text="Alice")
    await expect(alice.locator(".state-pill")).to_have_text("Idle")

    # Forced busy for a meeting: the agents table says so, live.
    await alice.locator(".force-reason").select_option("meeting")
    await alice.locator(".force-busy").click()
    await expect(alice.locator(".state-pill")).to_contain_text("Busy")
    await expect(alice.locator(".state-pill")).to_contain_text("Meeting")
    assert (await hub_server.core.states.current(agent_id)).state == AgentState.BUSY

    # With nobody idle, a new contact waits: the queue row and the chart follow.
    await hub_server.ingest("hello?", sender="visitor-5", sender_name="Qian Yu")
    await expect(queue.locator(".waiting")).to_have_text("1")
    await expect(queue.locator(".longest")).to_have_text(re.compile(r"^0:0\d$"))
    bar = page.locator("#chart-waiting g.chart-row[data-label=default] .value")
    await expect(bar).to_have_text("1")
    await expect(page.locator("#agent-totals [data-state=busy]")).to_contain_text("1")
    await page.screenshot(path="/tmp/routing-wallboard.png", full_page=True)

    # Forced idle again: the waiting contact rings at Alice.
    await alice.locator(".force-idle").click()
    await expect(queue.locator(".ringing")).to_have_text("1")
    await expect(queue.locator(".waiting")).to_have_text("0")

    # Overdue leaves and adjusts reach the supervisors' alerts, named.
    await hub_server.core.bus.publish("supervisors", {
        "type": "alert", "kind": "overdue", "agent_id": agent_id, "state": "adjust", "reason": "",
        "since": "2026-01-01T12:00:00+00:00", "limit_seconds": 600, "over_seconds": 130.0,
        "agent_name": "Alice"})
    await expect(page.locator("#alerts li")).to_contain_text("Alice: Adjust is 2 min over its 10 min limit.")
    # So does an agent who keeps letting offers ring out.
    await hub_server.core.bus.publish("supervisors", {
        "type": "alert", "kind": "missed_offers", "agent_id": agent_id, "count": 3})
    await expect(page.locator("#alerts li").first).to_contain_text("has missed 3 offers today.")
    assert page.errors == []


async def test_a_supervisor_moves_a_conversation_to_an_agent_with_the_keyboard(hub_server: HubServer,
                                                                            page: Any) -> None:
    alice = await _staff(hub_server, "1001", "Alice")
    await hub_server.add_agent("2001", "Sam", role="supervisor")
    result = await hub_server.ingest("please call me back", sender="visitor-6", sender_name="Zhou Min")
    await log_in(page, hub_server, "2001")
    await page.locator("#list").focus()
    await page.keyboard.press("j")
    await page.keyboard.press("Enter")
    await expect(page.locator("#move-button")).to_be_visible()
    await page.keyboard.press("m")
    dialog = page.locator("#move-dialog")
    await expect(dialog).to_be_visible()
    await expect(page.locator("#move-target")).to_be_focused()
    await page.locator("#move-target").select_option(f"agent:{alice}")
    await page.keyboard.press("Enter")
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#toast")).to_have_text("Conversation moved.")
    async with hub_server.core.sessions() as s:
        moved = await s.get(Interaction, result.interaction_id)
    assert moved is not None and moved.agent_id == alice
    assert page.errors == []


async def test_agents_are_refused_the_wallboard(hub_server: HubServer, page: Any) -> None:
    await hub_server.add_agent("1001", "Alice")
    await log_in(page, hub_server, "1001")
    await expect(page.locator("a[href='/wallboard']")).to_have_count(0)
    response = await page.goto(hub_server.url("/wallboard"))
    assert response is not None and response.status == 403
    await expect(page.locator("body")).to_contain_text("The wallboard is for supervisors.")


async def test_a_chinese_agent_sees_the_status_bar_in_chinese(hub_server: HubServer, page: Any) -> None:
    await hub_server.add_agent("1001", "张伟", locale="zh_CN")
    await log_in(page, hub_server, "1001")
    await expect(page.locator("#state-name")).to_have_text("已签出")
    await expect(page.locator("#next-button")).to_contain_text("下一个联系")
    await page.locator("body").click(position={"x": 640, "y": 780})
    await page.keyboard.press("s")
    await page.keyboard.press("2")
    await expect(page.locator("#state-title")).to_have_text("示忙：选择原因")
    await expect(page.locator("#state-choices .choice").first).to_contain_text("小休")
    await page.keyboard.press("1")
    await expect(page.locator("#state-name")).to_have_text("示忙")
    await expect(page.locator("#state-reason")).to_have_text("小休")
    await page.screenshot(path="/tmp/routing-zh.png")
    assert page.errors == []
