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
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import insert_for, transaction
from hub.events import TicketEvent
from hub.models import DeadlineAlert, Ticket, utcnow
from hub.tickets.service import record_urge, unit_topic
from hub.tickets.views import ticket_dict

if TYPE_CHECKING:
    from hub.core import HubCore

BATCH = 5000
"""Tickets one sweep handles at most; the rest are next minute's (oldest chase first)."""
OVERALL = -1
"""``step_seq`` of the whole-ticket deadline alert (steps use the ticket's version)."""


@dataclass(frozen=True, slots=True)
class SweepResult:
    warned: list[int]
    breached: list[int]
    overdue: list[int]


async def sweep(core: HubCore, now: datetime | None = None) -> SweepResult:
    """One pass over open tickets whose chase time has come (a warning or a breach) or whose
    whole deadline passed untold; safe to run anywhere, any time. Reads only those, by index."""
    now = now or utcnow()
    overall_told = exists().where(
        DeadlineAlert.ticket_id == Ticket.id,
        DeadlineAlert.step_seq == OVERALL,
        DeadlineAlert.kind == "overall",
    )
    async with core.sessions() as s:
        chased = list(
            (
                await s.execute(
                    select(Ticket)
                    .where(Ticket.status == "open", Ticket.chase_at <= now)  # type: ignore[operator]
                    .order_by(Ticket.chase_at)
                    .limit(BATCH)
                )
            ).scalars()
        )
        late = list(
            (
                await s.execute(
                    select(Ticket)
                    .where(Ticket.status == "open", Ticket.due_at <= now, ~overall_told)  # type: ignore[operator]
                    .limit(BATCH)
                )
            ).scalars()
        )
    result = SweepResult([], [], [])
    for ticket in chased:
        due = ticket.step_due_at
        if due is not None and due <= now:
            if await _breach(core, ticket, now):
                result.breached.append(int(ticket.id or 0))
        elif due is not None and await _warn(core, ticket, due, now):
            await _tell(core, ticket, "deadline_warning", to_supervisors=False)
            result.warned.append(int(ticket.id or 0))
    for ticket in late:
        if await _claim(core, ticket, OVERALL, "overall", now):
            await _tell(core, ticket, "ticket_overdue", to_supervisors=True)
            result.overdue.append(int(ticket.id or 0))
    return result


async def _warn(core: HubCore, ticket: Ticket, due: datetime, now: datetime) -> bool:
    """Record the warning and look again at the deadline, in one transaction."""
    async with transaction(core.sessions) as s:
        if not await _claim(core, ticket, ticket.version, "warning", now, s):
            return False
        await s.execute(
            update(Ticket)
            .where(Ticket.id == ticket.id, Ticket.version == ticket.version)
            .values(chase_at=due)
        )
    return True


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
        await s.execute(update(Ticket).where(Ticket.id == current.id).values(chase_at=None))
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
