"""Major outages (大故障): declared by a supervisor, matched by new complaints, shown on the
inbox banner and told to callers, and ended with one reply to every linked ticket."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import transaction
from hub.errors import InvalidRequest, NotFound
from hub.models import Agent, Outage, Ticket, TicketAction, utcnow
from hub.plugins import call_all
from hub.routing.regions import within

if TYPE_CHECKING:
    from hub.core import HubCore

TOPIC = "outages"
"""Bus topic: ``{"type": "outage", "kind": "declared"|"ended", ...}`` for banners."""
ANY_SERVICE = "*"


@dataclass(frozen=True, slots=True)
class OutageEvent:
    """An outage was ``declared`` or ``ended``; what customers are told is ``wording``."""

    kind: str
    outage_id: int
    region: str
    service: str
    wording: str
    started_at: datetime
    expected_end: datetime | None = None
    ended_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("started_at", "expected_end", "ended_at"):
            data[key] = data[key].isoformat() if data[key] is not None else None
        return {"type": "outage", **data}


async def matching_outage(s: AsyncSession, region: str, service: str, now: datetime) -> Outage | None:
    """The ongoing outage a complaint from ``region`` about ``service`` belongs to, if any."""
    if not region:
        return None
    rows = (
        await s.execute(
            select(Outage).where(
                Outage.ended_at.is_(None),  # type: ignore[union-attr]
                Outage.started_at <= now,
            )
        )
    ).scalars()
    for outage in rows:
        if within(region, outage.region) and outage.service in (ANY_SERVICE, service):
            return outage
    return None


async def ongoing(core: HubCore) -> list[Outage]:
    async with core.sessions() as s:
        return list(
            (
                await s.execute(
                    select(Outage)
                    .where(Outage.ended_at.is_(None))  # type: ignore[union-attr]
                    .order_by(Outage.started_at)
                )
            ).scalars()
        )


async def declare(
    core: HubCore,
    supervisor: Agent,
    *,
    region: str,
    service: str,
    wording: str,
    expected_end: datetime | None = None,
    started_at: datetime | None = None,
) -> Outage:
    if not region or not wording.strip():
        raise InvalidRequest("outage_incomplete", "an outage needs a region and the wording customers hear")
    outage = Outage(
        region=region,
        service=service or ANY_SERVICE,
        wording=wording.strip()[:1000],
        started_at=started_at or utcnow(),
        expected_end=expected_end,
        declared_by=supervisor.id,
    )
    async with transaction(core.sessions) as s:
        s.add(outage)
    await _tell(core, "declared", outage)
    return outage


async def end(core: HubCore, supervisor: Agent, outage_id: int, message: str = "") -> int:
    """End the outage; every open ticket linked to it gets ``message`` (or the outage's
    wording) on the customer's channel and is closed. Returns how many were closed."""
    from hub.tickets.reply import reply_to_customer
    from hub.tickets.service import _announce

    now = utcnow()
    async with transaction(core.sessions) as s:
        outage = await s.get(Outage, outage_id)
        if outage is None:
            raise NotFound("outage")
        if outage.ended_at is not None:
            raise InvalidRequest("outage_ended", "this outage has already ended", status=409)
        outage.ended_at = now
        s.add(outage)
        tickets = list(
            (
                await s.execute(select(Ticket).where(Ticket.outage_id == outage_id, Ticket.status == "open"))
            ).scalars()
        )
    text = message.strip() or outage.wording
    for ticket in tickets:
        await reply_to_customer(core, ticket, supervisor, text, client_id=f"outage-{outage_id}-{ticket.id}")
        async with transaction(core.sessions) as s:
            row = await s.get(Ticket, ticket.id)
            if row is None or row.status != "open":
                continue
            row.status, row.closed_at, row.updated_at, row.version = "closed", now, now, row.version + 1
            s.add(row)
            s.add(
                TicketAction(
                    ticket_id=row.id,
                    action="close",
                    actor_id=supervisor.id,
                    from_step=row.step,
                    to_step=row.step,
                    opinion=f"outage ended: {text}"[:4000],
                    at=now,
                )
            )
        await _announce(core, "close", row)
    await _tell(core, "ended", outage)
    return len(tickets)


async def _tell(core: HubCore, kind: str, outage: Outage) -> None:
    event = OutageEvent(
        kind,
        int(outage.id or 0),
        outage.region,
        outage.service,
        outage.wording,
        outage.started_at,
        outage.expected_end,
        outage.ended_at,
    )
    await call_all(core.pm, "hub_on_outage", event=event)
    await core.bus.publish(TOPIC, event.as_dict())
