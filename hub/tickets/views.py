"""Tickets as screens, events and reports read them: a ticket as plain data, a customer's
open and recent tickets, and the per-unit overdue report."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, select

from hub.models import OrgUnit, Ticket
from hub.models.base import utcnow

if TYPE_CHECKING:
    from hub.core import HubCore


def ticket_dict(ticket: Ticket) -> dict[str, Any]:
    """A ticket as plain data for events and screens (the phone is not in it: screens mask)."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": ticket.id,
        "number": ticket.number,
        "type": ticket.type,
        "status": ticket.status,
        "step": ticket.step,
        "title": ticket.title,
        "level": ticket.level,
        "kind": ticket.kind,
        "region": ticket.region,
        "customer_id": ticket.customer_id,
        "interaction_id": ticket.interaction_id,
        "channel": ticket.channel,
        "owner_unit_id": ticket.owner_unit_id,
        "handler_id": ticket.handler_id,
        "linked_ticket_id": ticket.linked_ticket_id,
        "category_id": ticket.category_id,
        "source": ticket.source,
        "outage_id": ticket.outage_id,
        "created_at": iso(ticket.created_at),
        "step_due_at": iso(ticket.step_due_at),
        "due_at": iso(ticket.due_at),
        "closed_at": iso(ticket.closed_at),
        "urge_count": ticket.urge_count,
        "satisfaction": ticket.satisfaction,
        "is_case": ticket.is_case,
        "version": ticket.version,
    }


async def customer_tickets(core: HubCore, customer_id: int, recent: int = 10) -> list[dict[str, Any]]:
    """The customer's open tickets and their most recent closed ones, for the inbox beside a
    new interaction ("pop up recent work orders")."""
    async with core.sessions() as s:
        rows = (
            (
                await s.execute(
                    select(Ticket)
                    .where(Ticket.customer_id == customer_id)
                    .order_by(Ticket.created_at.desc())
                    .limit(50)
                )
            )
            .scalars()
            .all()
        )  # type: ignore[attr-defined]
    open_ones = [ticket_dict(t) for t in rows if t.status == "open"]
    closed = [ticket_dict(t) for t in rows if t.status != "open"][:recent]
    return open_ones + closed


async def overdue_report(core: HubCore, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per owner unit: open tickets, how many are past their step's deadline, and the urges
    they have had — the figures supervisors chase departments with."""
    now = now or utcnow()
    overdue = func.sum(case((Ticket.step_due_at < now, 1), else_=0))  # type: ignore[operator]
    query = (
        select(Ticket.owner_unit_id, func.count(), overdue, func.sum(Ticket.urge_count))
        .where(Ticket.status == "open")
        .group_by(Ticket.owner_unit_id)
    )
    async with core.sessions() as s:
        rows = (await s.execute(query)).all()
        names = dict((await s.execute(select(OrgUnit.id, OrgUnit.name))).all())  # type: ignore[arg-type]
    report = [
        {
            "unit_id": unit,
            "unit": names.get(unit, ""),
            "open": int(total),
            "overdue": int(late or 0),
            "urges": int(urges or 0),
        }
        for unit, total, late, urges in rows
    ]
    return sorted(report, key=lambda row: (-row["overdue"], -row["open"]))
