"""Deadlines chased by a beat job: warn the owner before a step's deadline; when it passes,
urge the handling unit (催办) and escalate to supervisors; when the whole ticket is overdue,
escalate again.

Exactly once per breach: the ``deadline_alert`` row (ticket, the step's version, kind) is
inserted in the same transaction as the urge, so a second beat run, a retried task or a
worker that died mid-task (its transaction rolled back) tells nobody twice. Publishing
follows the commit and is best effort, like every live update.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import insert_for, transaction
from hub.events import TicketEvent
from hub.models import DeadlineAlert, Ticket, utcnow
from hub.routing.schedule import Schedule
from hub.tickets import org
from hub.tickets.deadlines import warning_at
from hub.tickets.service import record_urge, template_of, ticket_dict, unit_topic

if TYPE_CHECKING:
    from hub.core import HubCore

WARN_AHEAD = timedelta(days=3)
"""Open tickets due within this are looked at for a warning; longer steps warn later runs."""
OVERALL = -1
"""``step_seq`` of the whole-ticket deadline alert (steps use the ticket's version)."""


@dataclass(frozen=True, slots=True)
class SweepResult:
    warned: list[int]
    breached: list[int]
    overdue: list[int]


async def sweep(core: HubCore, now: datetime | None = None) -> SweepResult:
    """One pass over open tickets near or past a deadline; safe to run anywhere, any time."""
    now = now or utcnow()
    async with core.sessions() as s:
        near = list(
            (
                await s.execute(
                    select(Ticket).where(
                        Ticket.status == "open",
                        Ticket.step_due_at.is_not(None),  # type: ignore[union-attr]
                        Ticket.step_due_at <= now + WARN_AHEAD,
                    )
                )
            ).scalars()
        )  # type: ignore[operator]
        late = list(
            (
                await s.execute(
                    select(Ticket).where(
                        Ticket.status == "open", Ticket.due_at.is_not(None), Ticket.due_at <= now
                    )
                )
            ).scalars()
        )  # type: ignore[union-attr, operator]
    result = SweepResult([], [], [])
    calendars = _Calendars(core)
    for ticket in near:
        due = ticket.step_due_at
        assert due is not None
        if due <= now:
            if await _breach(core, ticket, now):
                result.breached.append(int(ticket.id or 0))
        elif warning_at(
            ticket.step_started_at, due, calendar=await calendars.get(ticket.type)
        ) <= now and await _claim(core, ticket, ticket.version, "warning", now):
            await _tell(core, ticket, "deadline_warning", to_supervisors=False)
            result.warned.append(int(ticket.id or 0))
    for ticket in late:
        if await _claim(core, ticket, OVERALL, "overall", now):
            await _tell(core, ticket, "ticket_overdue", to_supervisors=True)
            result.overdue.append(int(ticket.id or 0))
    return result


class _Calendars:
    """Each ticket type's business calendar, read once per sweep: warnings come in working time."""

    def __init__(self, core: HubCore) -> None:
        self.core = core
        self.known: dict[str, Schedule] = {}

    async def get(self, ticket_type: str) -> Schedule:
        if ticket_type not in self.known:
            async with self.core.sessions() as s:
                _kind, template = await template_of(s, ticket_type)
                self.known[ticket_type] = await org.calendar(s, template.code)
        return self.known[ticket_type]


async def _claim(
    core: HubCore, ticket: Ticket, step_seq: int, kind: str, now: datetime, s: AsyncSession | None = None
) -> bool:
    """Record the alert; False when it was recorded before (by this or another worker)."""
    if s is None:
        async with transaction(core.sessions) as own:
            return await _claim(core, ticket, step_seq, kind, now, own)
    row = (
        await s.execute(
            insert_for(s, DeadlineAlert)
            .values(ticket_id=ticket.id, step_seq=step_seq, kind=kind, at=now)
            .on_conflict_do_nothing()
            .returning(DeadlineAlert.id)
        )
    ).first()
    return row is not None


async def _breach(core: HubCore, ticket: Ticket, now: datetime) -> bool:
    async with transaction(core.sessions) as s:
        current = await s.get(Ticket, ticket.id)
        # The ticket moved on since it was read: its new step has its own deadline.
        if current is None or current.status != "open" or current.version != ticket.version:
            return False
        if not await _claim(core, current, current.version, "breach", now, s):
            return False
        await record_urge(s, current, None, None, f"deadline of step {current.step} passed", now)
    await _tell(core, current, "step_overdue", to_supervisors=True)
    return True


async def _tell(core: HubCore, ticket: Ticket, kind: str, *, to_supervisors: bool) -> None:
    data = ticket_dict(ticket)
    await core.ticket_event(TicketEvent(kind, int(ticket.id or 0), data))
    alert = {"type": "alert", "kind": kind, "ticket": data}
    if ticket.owner_unit_id is not None:
        await core.bus.publish(unit_topic(ticket.owner_unit_id), alert)
    if ticket.handler_id is not None:
        await core.bus.publish(f"agent:{ticket.handler_id}", alert)
    if to_supervisors:
        await core.bus.publish("supervisors", alert)
