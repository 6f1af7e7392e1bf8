"""Work orders in a real browser: a complaint made from a web chat with two keystrokes, carried
through the centre, a supervisor's dispatch and a county department, answered in the widget and
rated; the customer's tickets beside their next conversation; the outage banner; the case
library and the supervisors' report."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from browser_helpers import HubServer, log_in
from hub_process import free_port
from playwright.async_api import expect
from sqlalchemy import select

import plugins.web
from hub.core import create_hub
from hub.db import create_all, transaction
from hub.models import AgentUnit, OrgUnit, Outage, Ticket, TicketAction, utcnow
from hub.settings import load_settings
from hub.tickets import service
from hub.web.app import create_app

pytestmark = pytest.mark.browser

QUESTION = "My broadband drops every night after ten"
ANSWER = "The line card in your street was replaced; the drops should stop tonight."


@pytest.fixture
async def chat_hub(tmp_path: Path) -> AsyncIterator[HubServer]:
    """The web app with the web chat plugin, on the port its public_url names."""
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


async def _organisation(hub: HubServer) -> dict[str, int]:
    """Shenzhen city, its Nanshan county with a network department, and Futian county."""
    async with transaction(hub.core.sessions) as s:
        centre = (await s.execute(select(OrgUnit).where(OrgUnit.code == "centre"))).scalars().one()
        units = {"centre": int(centre.id or 0)}
        for code, kind, parent, name in [
            ("shenzhen", "city", "centre", "Shenzhen branch"),
            ("nanshan", "county", "shenzhen", "Nanshan branch"),
            ("nanshan-network", "department", "nanshan", "Nanshan network department"),
            ("futian", "county", "shenzhen", "Futian branch"),
        ]:
            unit = OrgUnit(code=code, kind=kind, name=name, parent_id=units[parent],
                           region=f"guangdong/shenzhen/{code.split('-')[0]}")
            s.add(unit)
            await s.flush()
            units[code] = int(unit.id or 0)
    return units


async def _staff(hub: HubServer, number: str, name: str, unit_id: int | None = None,
                 role: str = "agent", locale: str = "") -> int:
    agent = await hub.add_agent(number, name, role=role, locale=locale)
    if unit_id is not None:
        async with transaction(hub.core.sessions) as s:
            s.add(AgentUnit(agent_id=agent.id, unit_id=unit_id))
    return int(agent.id or 0)


async def _person(browser: Any) -> Any:
    """A page in its own browser context that records its errors."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = await context.new_page()
    page.errors = []
    page.on("pageerror", lambda err: page.errors.append(str(err)))
    page.on("console", lambda msg: page.errors.append(f"{msg.text} {msg.location['url']}")
            if msg.type == "error" else None)
    return page


async def _tickets_page(page: Any, hub: HubServer, number: str) -> None:
    await log_in(page, hub, number)
    await page.goto(hub.url("/tickets"))
    await expect(page.locator("#conn")).to_have_class("conn conn-on")


async def _open_first(page: Any, view_key: str) -> None:
    """g + the view's key, then Enter on the first work order listed."""
    await page.keyboard.press("g")
    await page.keyboard.press(view_key)
    await expect(page.locator("#ticket-list .ticket-row").first).to_be_visible()
    await page.keyboard.press("Enter")
    await expect(page.locator("#detail .detail-head")).to_be_visible()


async def _widget(browser: Any, hub: HubServer) -> tuple[Any, Any]:
    """The visitor on the operator's site, chat open, introduced by name and phone."""
    customer = await _person(browser)
    await customer.goto(hub.url("/channels/web/demo"))
    await customer.click("#contacthub-launcher")
    frame = customer.frame_locator("iframe#contacthub-frame")
    await frame.locator("#prechat input[name=name]").fill("Li Mei")
    await frame.locator("#prechat input[name=phone]").fill("+8613800138000")
    await frame.locator("#prechat button[type=submit]").click()
    await expect(frame.locator("#chat-status")).to_have_text("Connected")
    return customer, frame


async def _say(frame: Any, text: str) -> None:
    await frame.locator("#chat-input").press_sequentially(text)
    await frame.locator("#chat-input").press("Enter")
    await expect(frame.locator("#chat-log .msg.pending")).to_have_count(0)


async def test_a_complaint_from_a_chat_goes_round_the_province_and_back_to_the_customer(
        chat_hub: HubServer, browser: Any) -> None:
    units = await _organisation(chat_hub)
    li = await _staff(chat_hub, "1001", "Li")
    zhang = await _staff(chat_hub, "2001", "Zhang", role="supervisor")
    chen = await _staff(chat_hub, "3001", "Chen", units["nanshan-network"])
    await _staff(chat_hub, "4001", "Wu", units["futian"])

    agent = await _person(browser)
    await log_in(agent, chat_hub, "1001")
    customer, frame = await _widget(browser, chat_hub)
    await _say(frame, QUESTION)

    # The agent takes the chat; w, Ctrl+Enter: a complaint, titled from the first message.
    await expect(agent.locator("#list .row", has_text="Li Mei")).to_be_visible()
    await agent.locator("body").click(position={"x": 640, "y": 780})
    await agent.keyboard.press("j")
    await agent.keyboard.press("Enter")
    await expect(agent.locator("#cust-tickets li.empty")).to_have_text("No work orders.")
    await agent.keyboard.press("t")
    await expect(agent.locator("#reply-text")).to_be_focused()
    await agent.keyboard.press("Escape")
    await agent.keyboard.press("w")
    dialog = agent.locator("#ticket-dialog")
    await expect(dialog).to_be_visible()
    await expect(agent.locator("#ticket-title")).to_be_focused()
    await expect(agent.locator("#ticket-title")).to_have_value(QUESTION)
    await expect(agent.locator("#ticket-type")).to_have_value("complaint")
    await expect(agent.locator("#ticket-description")).to_have_value("")
    await agent.keyboard.press("Control+Enter")
    await expect(dialog).to_be_hidden()
    await expect(agent.locator("#toast")).to_have_text(re.compile(r"^Work order T\d+ created\.$"))
    panel_ticket = agent.locator("#cust-tickets li.cust-ticket")
    await expect(panel_ticket).to_have_count(1)
    await expect(panel_ticket.locator(".ticket-step")).to_have_text("Acceptance")
    async with chat_hub.core.sessions() as s:
        ticket = (await s.execute(select(Ticket))).scalars().one()
    ticket_id, number = int(ticket.id or 0), ticket.number
    assert (ticket.type, ticket.channel, ticket.title) == ("complaint", "web", QUESTION)
    assert QUESTION in ticket.description  # the transcript, filled in by the hub

    # g t: the tickets page; the centre agent accepts it with a: it goes to review.
    await agent.keyboard.press("g")
    await agent.keyboard.press("t")
    await agent.wait_for_url("**/tickets")
    await expect(agent.locator("#conn")).to_have_class("conn conn-on")
    await _open_first(agent, "m")
    await expect(agent.locator("#ticket-step")).to_have_text("Step: Acceptance")
    await agent.keyboard.press("a")
    await expect(agent.locator("#ticket-step")).to_have_text("Step: Review")
    await expect(agent.locator("#not-yours")).to_be_visible()  # review is for supervisors

    # The supervisor reviews it, then dispatches it to the Nanshan network department.
    boss = await _person(browser)
    await _tickets_page(boss, chat_hub, "2001")
    await _open_first(boss, "u")
    await boss.keyboard.press("a")
    await expect(boss.locator("#ticket-step")).to_have_text("Step: Dispatch")
    await boss.locator("#ticket-unit").select_option(str(units["nanshan-network"]))
    await boss.locator("#ticket-unit").press("Enter")
    await expect(boss.locator("#ticket-step")).to_have_text("Step: Process")
    await expect(boss.locator(".ticket-actions [data-action^=advance]")).to_have_count(0)

    # Futian's staff may look but not act: the step is Nanshan's.
    other = await _person(browser)
    await _tickets_page(other, chat_hub, "4001")
    await other.goto(chat_hub.url(f"/tickets#{ticket_id}"))
    await expect(other.locator("#ticket-step")).to_have_text("Step: Process")
    await expect(other.locator("#not-yours")).to_contain_text("Nanshan network department")
    await expect(other.locator(".ticket-actions [data-action^=advance]")).to_have_count(0)
    await expect(other.locator(".ticket-actions [data-action=comment]")).to_have_count(0)
    await expect(other.locator("#ticket-reply")).to_have_count(0)

    # The department processes it with an opinion, in its unit's queue.
    staff = await _person(browser)
    await _tickets_page(staff, chat_hub, "3001")
    await _open_first(staff, "u")
    await staff.locator("#ticket-opinion").fill("Line card replaced at the street cabinet")
    await staff.keyboard.press("Escape")
    await staff.keyboard.press("a")
    await expect(staff.locator("#ticket-step")).to_have_text("Step: Reply to customer")

    # The centre agent finds it by number (/), answers with r and Ctrl+Enter: the visitor sees it.
    await agent.keyboard.press("/")
    await expect(agent.locator("#search-number")).to_be_focused()
    await agent.keyboard.type(number)
    await agent.keyboard.press("Enter")
    await expect(agent.locator("#ticket-list .ticket-row")).to_have_count(1)
    await agent.keyboard.press("Escape")
    await agent.keyboard.press("Enter")
    await expect(agent.locator("#ticket-step")).to_have_text("Step: Reply to customer")
    await agent.keyboard.press("r")
    await expect(agent.locator("#ticket-reply-text")).to_be_focused()
    await agent.keyboard.type(ANSWER)
    await agent.keyboard.press("Control+Enter")
    await expect(agent.locator("#ticket-step")).to_have_text("Step: Customer feedback")
    await expect(frame.locator("#chat-log .msg.agent .text").last).to_have_text(ANSWER)

    # Satisfaction 5, recorded at the feedback step.
    await agent.locator("[data-satisfaction='5']").click()
    await expect(agent.locator(".ticket-facts")).to_contain_text("5 · Very satisfied")
    await expect(agent.locator("#timeline tbody tr")).to_have_count(7)
    await agent.screenshot(path="/tmp/tickets-detail.png")

    async with chat_hub.core.sessions() as s:
        done = await s.get(Ticket, ticket_id)
        lines = (await s.execute(select(TicketAction).where(TicketAction.ticket_id == ticket_id)
                                 .order_by(TicketAction.at, TicketAction.id))).scalars().all()
    assert done is not None and done.satisfaction == 5 and done.step == "feedback"
    assert [(a.action, a.actor_id, a.to_step) for a in lines] == [
        ("create", li, "accept"), ("advance", li, "review"), ("advance", zhang, "dispatch"),
        ("dispatch", zhang, "process"), ("advance", chen, "reply"), ("advance", li, "feedback"),
        ("comment", li, "feedback"),
    ]
    assert lines[3].to_unit_id == units["nanshan-network"]
    assert lines[4].opinion == "Line card replaced at the street cabinet"
    assert ANSWER in lines[5].opinion

    # The agent closes the chat (g i, g m, j, Enter, c, 1, Enter); the visitor writes again:
    # the new conversation shows their ticket beside it.
    await agent.keyboard.press("g")
    await agent.keyboard.press("i")
    await agent.wait_for_url("**/inbox")
    await expect(agent.locator("#conn")).to_have_class("conn conn-on")
    await agent.locator("body").click(position={"x": 640, "y": 780})
    await agent.keyboard.press("g")
    await agent.keyboard.press("m")
    await expect(agent.locator("#tab-mine")).to_have_attribute("aria-selected", "true")
    await expect(agent.locator("#list .row", has_text="Li Mei")).to_be_visible()
    await agent.keyboard.press("j")
    await agent.keyboard.press("Enter")
    await expect(agent.locator("#conv-status")).to_have_text("In progress")
    await agent.keyboard.press("c")
    await agent.keyboard.press("1")
    await agent.keyboard.press("Enter")
    await expect(agent.locator("#conv-status")).to_have_text("Closed")
    await expect(frame.locator("#chat-status")).to_have_text("Closed")
    await _say(frame, "Still dropping tonight")
    await agent.locator("body").click(position={"x": 640, "y": 780})
    await agent.keyboard.press("g")
    await agent.keyboard.press("w")
    await expect(agent.locator("#list .row", has_text="Still dropping tonight")).to_be_visible()
    await agent.keyboard.press("j")
    await agent.keyboard.press("Enter")
    await expect(agent.locator("#transcript .msg-in .msg-text")).to_have_text("Still dropping tonight")
    shown = agent.locator("#cust-tickets li.cust-ticket")
    await expect(shown).to_have_count(1)
    await expect(shown.locator(".ticket-number")).to_have_text(number)
    await expect(shown.locator(".ticket-step")).to_have_text("Customer feedback")
    await agent.screenshot(path="/tmp/tickets-inbox.png")

    for person in (agent, boss, other, staff, customer):
        assert person.errors == []
        await person.context.close()


async def test_the_outage_banner_is_live_and_supervisors_declare_and_end_outages(
        hub_server: HubServer, browser: Any) -> None:
    await hub_server.add_agent("2001", "Zhang", role="supervisor")
    await hub_server.add_agent("1001", "王芳", locale="zh_CN")
    agent = await _person(browser)
    await log_in(agent, hub_server, "1001")
    await expect(agent.locator("#outage-banner")).to_be_hidden()
    await expect(agent.locator("#outage-declare")).to_have_count(0)

    boss = await _person(browser)
    await _tickets_page(boss, hub_server, "2001")
    await boss.locator("#outage-declare").click()
    await boss.locator("#outage-region").fill("guangdong/shenzhen")
    await boss.locator("#outage-service").fill("broadband")
    await boss.locator("#outage-wording").fill("Broadband is down in Shenzhen; repairs are under way.")
    await boss.locator("#outage-confirm").click()
    await expect(boss.locator("#outage-dialog")).to_be_hidden()
    banner = boss.locator("#outage-banner")
    await expect(banner).to_contain_text("Outage in guangdong/shenzhen (broadband)")

    # The agent's inbox hears of it live, in Chinese.
    await expect(agent.locator("#outage-banner")).to_contain_text("guangdong/shenzhen 发生故障（broadband）")
    await expect(agent.locator("#outage-banner")).to_contain_text("Broadband is down in Shenzhen")
    await agent.screenshot(path="/tmp/tickets-outage-zh.png")
    # A page loaded now shows it from GET /api/outages.
    await agent.goto(hub_server.url("/tickets"))
    await expect(agent.locator("#outage-banner")).to_contain_text("发生故障")
    await expect(agent.locator("#tab-unit")).to_have_text("本单位")

    await banner.locator(".outage-end").click()
    await boss.locator("#outage-end-confirm").click()
    await expect(boss.locator("#toast")).to_have_text("Outage ended; 0 work orders answered and closed.")
    await expect(banner).to_be_hidden()
    await expect(agent.locator("#outage-banner")).to_be_hidden()
    async with hub_server.core.sessions() as s:
        outage = (await s.execute(select(Outage))).scalars().one()
    assert outage.ended_at is not None and outage.service == "broadband"
    assert agent.errors == [] and boss.errors == []


async def test_a_supervisor_keeps_a_case_that_a_similar_ticket_then_suggests_and_reads_the_report(
        hub_server: HubServer, browser: Any) -> None:
    li = await hub_server.add_agent("1001", "Li")
    await hub_server.add_agent("2001", "Zhang", role="supervisor")
    core = hub_server.core
    solved = await service.create(core, li, service.NewTicket(type="complaint", title=QUESTION))
    fix = "Line card replaced at the street cabinet"
    async with transaction(core.sessions) as s:
        ticket = await s.get(Ticket, solved.id)
        assert ticket is not None
        ticket.status, ticket.step, ticket.closed_at = "closed", "close", utcnow()
        s.add(TicketAction(ticket_id=ticket.id, action="advance", actor_id=li.id, from_step="process",
                           to_step="reply", opinion=fix))

    # The supervisor keeps the closed ticket as a case.
    boss = await _person(browser)
    await _tickets_page(boss, hub_server, "2001")
    await boss.goto(hub_server.url(f"/tickets#{solved.id}"))
    await expect(boss.locator("#ticket-status")).to_have_text("Closed")
    await expect(boss.locator("#similar-cases")).to_be_hidden()
    await boss.locator("[data-action=case]").click()
    await expect(boss.locator("#toast")).to_have_text("Kept in the case library.")
    await expect(boss.locator("#ticket-case")).to_be_visible()
    await expect(boss.locator("[data-action=case]")).to_have_text("Remove from cases")

    # A new ticket like it, overdue and urged once, suggests the case with how it was solved.
    like = service.NewTicket(type="complaint", title="Broadband drops at night")
    fresh = await service.create(core, li, like)
    await service.urge(core, li, int(fresh.id or 0), "The customer called again")
    async with transaction(core.sessions) as s:
        ticket = await s.get(Ticket, fresh.id)
        assert ticket is not None
        ticket.step_due_at = utcnow() - timedelta(hours=1)
        unit = await s.get(OrgUnit, ticket.owner_unit_id)
        assert unit is not None
        unit_name = unit.name
    await boss.goto(hub_server.url(f"/tickets#{fresh.id}"))
    case = boss.locator("#similar-cases .similar-case")
    await expect(case).to_have_count(1)
    await expect(case.locator("a")).to_have_text(solved.number)
    await expect(case.locator("a")).to_have_attribute("href", f"/tickets#{solved.id}")
    await expect(case.locator(".similar-title")).to_have_text(QUESTION)
    await expect(case.locator(".similar-resolution")).to_have_text(fix)
    await case.locator("a").click()
    await expect(boss.locator("#ticket-title")).to_have_text(QUESTION)
    await expect(boss.locator("#detail")).not_to_contain_text("null")  # no description: nothing shown

    # g r: the report, the unit's one open ticket overdue (in red) and urged once.
    await boss.locator("#ticket-list").focus()
    await boss.keyboard.press("g")
    await boss.keyboard.press("r")
    row = boss.locator("#report-body tr", has_text=unit_name)
    await expect(row.locator("td")).to_have_text(["1", "1", "1"])
    await expect(row.locator("td.overdue")).to_have_count(1)
    await expect(boss.locator("#ticket-list")).to_be_hidden()
    await boss.screenshot(path="/tmp/tickets-report.png")
    assert boss.errors == []
