"""Seeding the work-order defaults: idempotent, and an administrator's edits survive it."""

from __future__ import annotations

from sqlalchemy import select, update

from hub.core import HubCore
from hub.db import transaction
from hub.models import BusinessCalendar, OrgUnit, TicketCategory, TicketType, WorkflowTemplate
from hub.routing.schedule import Schedule
from hub.tickets.defaults import DEFAULT_CATEGORIES, ensure_ticket_defaults
from hub.tickets.templates import Template


async def rows(core: HubCore, table: type) -> list:
    async with core.sessions() as s:
        return list((await s.execute(select(table))).scalars())


async def test_every_stored_template_is_a_valid_workflow(hub_core: HubCore) -> None:
    await ensure_ticket_defaults(hub_core)
    templates = {row.code: row for row in await rows(hub_core, WorkflowTemplate)}
    assert set(templates) >= {"standard", "fault", "simple"}
    for row in templates.values():
        Template.from_json(row.code, row.steps, row.overall_minutes)
    types = {row.code: row for row in await rows(hub_core, TicketType)}
    assert types["complaint"].fields["level"] == ["major_urgent", "general", "complex"]
    assert (types["appeal"].template, types["appeal"].links) == ("standard", "complaint")
    assert types["fault"].template == "fault"


async def test_the_centre_unit_and_the_calendars_exist(hub_core: HubCore) -> None:
    await ensure_ticket_defaults(hub_core)
    [centre] = [unit for unit in await rows(hub_core, OrgUnit) if unit.code == "centre"]
    assert (centre.kind, centre.parent_id) == ("province", None)
    calendars = {row.code: row.schedule for row in await rows(hub_core, BusinessCalendar)}
    assert calendars["fault"] == {}, "fault repairs count every minute, day and night"
    schedule = Schedule.from_json(calendars["default"])
    assert schedule.timezone == "Asia/Shanghai"
    assert all(spans == ((8 * 60, 20 * 60),) for spans in schedule.week or ())


async def test_the_category_tree_has_two_levels(hub_core: HubCore) -> None:
    await ensure_ticket_defaults(hub_core)
    categories = {row.code: row for row in await rows(hub_core, TicketCategory)}
    for code, _en, zh, children in DEFAULT_CATEGORIES:
        assert categories[code].parent_id is None and categories[code].name_zh_cn == zh
        for child, _child_en, _child_zh in children:
            assert categories[child].parent_id == categories[code].id
    assert categories["signal"].name_zh_cn == "信号"


async def test_seeding_twice_keeps_one_copy_and_the_admins_edits(hub_core: HubCore) -> None:
    await ensure_ticket_defaults(hub_core)
    async with transaction(hub_core.sessions) as s:
        await s.execute(update(WorkflowTemplate).where(WorkflowTemplate.code == "simple")
                        .values(overall_minutes=999, name_en="Quick"))
        await s.execute(update(TicketType).where(TicketType.code == "callback").values(active=False))
        await s.execute(update(TicketCategory).where(TicketCategory.code == "charges")
                        .values(name_zh_cn="费用争议"))
        outage = (await s.execute(select(TicketCategory).where(TicketCategory.code == "outage"))).scalar_one()
        await s.delete(outage)
    counts = [len(await rows(hub_core, table)) for table in (WorkflowTemplate, TicketType, OrgUnit)]

    await ensure_ticket_defaults(hub_core)

    assert [len(await rows(hub_core, table)) for table in (WorkflowTemplate, TicketType, OrgUnit)] == counts
    simple = next(row for row in await rows(hub_core, WorkflowTemplate) if row.code == "simple")
    assert (simple.overall_minutes, simple.name_en) == (999, "Quick")
    callback = next(row for row in await rows(hub_core, TicketType) if row.code == "callback")
    assert not callback.active
    categories = {row.code: row for row in await rows(hub_core, TicketCategory)}
    assert categories["charges"].name_zh_cn == "费用争议"
    assert "outage" not in categories  # a pruned tree stays pruned
