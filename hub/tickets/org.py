"""The organisation as tickets see it: who an agent acts as, which units are the centre,
and the business calendar deadlines count in."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import InvalidRequest
from hub.models import Agent, AgentUnit, BusinessCalendar, OrgUnit
from hub.routing.schedule import ALWAYS_OPEN, Schedule
from hub.tickets.workflow import Actor

CENTRE = "centre"
"""Code of the root unit, the province centre, seeded at start."""


async def actor_of(s: AsyncSession, agent: Agent) -> Actor:
    """The agent with their unit; agents of no unit act as the centre's (the default set-up
    has one unit)."""
    row = (
        (
            await s.execute(
                select(OrgUnit)
                .join(AgentUnit, AgentUnit.unit_id == OrgUnit.id)
                .where(AgentUnit.agent_id == agent.id)
            )
        )
        .scalars()
        .first()
    )
    if row is None:
        row = await centre(s)
    in_centre = row.kind == "province" or await _under_province(s, row)
    return Actor(int(agent.id or 0), str(agent.role), row.id, row.code, in_centre)


async def _under_province(s: AsyncSession, unit: OrgUnit) -> bool:
    if unit.kind != "department" or unit.parent_id is None:
        return False
    parent = await s.get(OrgUnit, unit.parent_id)
    return parent is not None and parent.kind == "province"


async def centre(s: AsyncSession) -> OrgUnit:
    row = (await s.execute(select(OrgUnit).where(OrgUnit.code == CENTRE))).scalars().first()
    if row is None:
        raise InvalidRequest("no_centre", "the organisation has no province centre unit 'centre'", status=500)
    return row


async def unit(s: AsyncSession, unit_id: int) -> OrgUnit:
    row = await s.get(OrgUnit, unit_id)
    if row is None or not row.active:
        raise InvalidRequest("unknown_unit", "there is no such unit, or it is disabled")
    return row


async def calendar(s: AsyncSession, template: str = "") -> Schedule:
    """The business calendar a workflow's deadlines count in: the one named like the
    template if there is one (``fault``: every minute, since repairs run day and night),
    else ``default``; an empty schedule counts every minute."""
    row = (await s.get(BusinessCalendar, template) if template else None) or await s.get(
        BusinessCalendar, "default"
    )
    if row is None or not row.schedule:
        return ALWAYS_OPEN
    return Schedule.from_json(row.schedule)
