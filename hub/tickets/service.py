"""The ticket service: create work orders, move them through their workflow, urge them.

Every change is one transaction that also writes the timeline line, and bumps the ticket's
``version``; a change decided on an old view (``version`` given and stale) is refused, so two
people acting at once cannot both move the ticket. Plugins hear every change after the
commit (``hub_on_ticket``), live screens on the ``tickets`` topic and the owner unit's
``unit:<id>`` topic.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import transaction
from hub.errors import InvalidRequest, NotFound
from hub.events import TicketEvent
from hub.models import (
    Agent,
    Customer,
    CustomerIdentity,
    Interaction,
    Ticket,
    TicketAction,
    TicketParticipant,
    TicketType,
    WorkflowTemplate,
    utcnow,
)
from hub.tickets import org
from hub.tickets.deadlines import add_business_minutes, warning_at
from hub.tickets.outages import matching_outage
from hub.tickets.templates import Template
from hub.tickets.views import ticket_dict
from hub.tickets.workflow import TicketView, Transition, decide

if TYPE_CHECKING:
    from hub.core import HubCore


@dataclass(frozen=True, slots=True)
class NewTicket:
    """What an agent fills in; from an interaction, the customer and channel come with it."""

    type: str
    title: str
    description: str = ""
    interaction_id: int | None = None
    customer_id: int | None = None
    category_id: int | None = None
    level: str = ""
    kind: str = ""
    source: str = ""
    linked_ticket_id: int | None = None
    phone: str = ""
    region: str = ""


def unit_topic(unit_id: int) -> str:
    """Live updates for one unit's ticket queue."""
    return f"unit:{unit_id}"


async def template_of(s: AsyncSession, ticket_type: str) -> tuple[TicketType, Template]:
    kind = await s.get(TicketType, ticket_type)
    if kind is None or not kind.active:
        raise InvalidRequest("unknown_type", f"there is no ticket type {ticket_type!r}")
    row = await s.get(WorkflowTemplate, kind.template)
    if row is None:
        raise InvalidRequest("unknown_template", f"type {ticket_type!r} names a missing workflow", status=500)
    return kind, Template.from_json(row.code, row.steps, row.overall_minutes, row.level_percent)


async def create(core: HubCore, agent: Agent, new: NewTicket) -> Ticket:
    """Open a ticket at its template's first step, owned by the creator's unit."""
    now = utcnow()
    async with transaction(core.sessions) as s:
        kind, template = await template_of(s, new.type)
        fields = await _origin(s, new)
        await _check_link(s, kind, new.linked_ticket_id)
        _check_choices(kind, new)
        actor = await org.actor_of(s, agent)
        calendar = await org.calendar(s, template.code)
        first = template.first
        ticket = Ticket(
            number=f"new-{uuid.uuid4().hex[:24]}",  # numbered from its id below
            type=new.type,
            category_id=new.category_id,
            level=new.level,
            kind=new.kind,
            source=new.source,
            title=new.title.strip()[:300],
            description=new.description[:10_000],
            linked_ticket_id=new.linked_ticket_id,
            step=first.code,
            owner_unit_id=actor.unit_id,
            handler_id=agent.id,
            created_by=agent.id,
            created_at=now,
            updated_at=now,
            step_started_at=now,
            **fields,
            step_due_at=(first_due := _due(now, template.step_minutes(first.code, new.level), calendar)),
            chase_at=_chase(now, first_due, calendar),
            due_at=_due(now, template.overall_minutes_for(new.level), calendar),
        )
        if new.type == "complaint":
            outage = await matching_outage(s, ticket.region, ticket.kind, now)
            ticket.outage_id = outage.id if outage is not None else None
        s.add(ticket)
        await s.flush()
        ticket.number = f"T{now:%Y%m%d}{ticket.id:07d}"
        s.add(
            TicketAction(
                ticket_id=ticket.id,
                action="create",
                actor_id=agent.id,
                actor_unit_id=actor.unit_id,
                to_step=first.code,
                to_unit_id=actor.unit_id,
                opinion=new.description[:4000],
                at=now,
            )
        )
    await _announce(core, "created", ticket)
    return ticket


async def _origin(s: AsyncSession, new: NewTicket) -> dict[str, Any]:
    """Customer, channel, phone and region: from the interaction when there is one."""
    customer_id, channel = new.customer_id, ""
    if new.interaction_id is not None:
        interaction = await s.get(Interaction, new.interaction_id)
        if interaction is None:
            raise NotFound("interaction")
        customer_id, channel = interaction.customer_id, interaction.channel
    region, phone = new.region, new.phone
    if customer_id is not None:
        customer = await s.get(Customer, customer_id)
        if customer is None:
            raise NotFound("customer")
        region = region or customer.region
        if not phone:
            phone = (
                await s.execute(
                    select(CustomerIdentity.address)
                    .where(CustomerIdentity.customer_id == customer_id, CustomerIdentity.kind == "phone")
                    .limit(1)
                )
            ).scalar_one_or_none() or ""
    return {
        "customer_id": customer_id,
        "interaction_id": new.interaction_id,
        "channel": channel,
        "region": region,
        "phone": phone,
    }


async def _check_link(s: AsyncSession, kind: TicketType, linked: int | None) -> None:
    """An appeal names the complaint it appeals; other types may link nothing of that kind."""
    if not kind.links:
        return
    target = await s.get(Ticket, linked) if linked is not None else None
    if target is None or target.type != kind.links:
        raise InvalidRequest("link_required", f"a {kind.code} must name the {kind.links} it is about")


def _check_choices(kind: TicketType, new: NewTicket) -> None:
    for name in ("level", "kind", "source"):
        value, allowed = getattr(new, name), kind.fields.get(name)
        if value and allowed is not None and value not in allowed:
            raise InvalidRequest("bad_choice", f"{name} must be one of: {', '.join(allowed)}")


def _chase(start: datetime, due: datetime | None, calendar: Any) -> datetime | None:
    """When the deadline sweep first looks at a step: its warning time."""
    return None if due is None else warning_at(start, due, calendar=calendar)


def _due(start: datetime, minutes: int | None, calendar: Any) -> datetime | None:
    return None if minutes is None else add_business_minutes(start, minutes, calendar)


async def load(s: AsyncSession, ticket_id: int) -> tuple[Ticket, TicketView]:
    ticket = await s.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound("ticket")
    participants = frozenset(
        (
            await s.execute(select(TicketParticipant.unit_id).where(TicketParticipant.ticket_id == ticket_id))
        ).scalars()
    )
    view = TicketView(ticket.step, ticket.status, ticket.owner_unit_id, ticket.handler_id, participants)
    return ticket, view


async def act(
    core: HubCore,
    agent: Agent,
    ticket_id: int,
    action: str,
    *,
    to_step: str | None = None,
    to_unit: int | None = None,
    opinion: str = "",
    version: int | None = None,
    attachments: list[dict[str, Any]] | None = None,
) -> Ticket:
    """Apply one workflow action (advance, dispatch via advance with a unit, return,
    transfer, cc, close, reopen, comment, take) as ``agent``."""
    now = utcnow()
    async with transaction(core.sessions) as s:
        ticket, view = await load(s, ticket_id)
        if version is not None and version != ticket.version:
            raise InvalidRequest(
                "ticket_changed", "someone changed this ticket meanwhile: reload it", status=409
            )
        _kind, template = await template_of(s, ticket.type)
        actor = await org.actor_of(s, agent)
        if to_unit is not None:
            await org.unit(s, to_unit)
        elif action == "return":
            back = template.step(ticket.step).return_to
            target = to_step or (back[0] if len(back) == 1 else None)
            to_unit = await _returned_to(s, template, target) if target in back else None
        move = decide(template, view, actor, action, to_step=to_step, to_unit=to_unit, opinion=opinion)
        calendar = await org.calendar(s, template.code)
        await _apply(s, ticket, template, move, now, calendar)
        if move.action == "cc" and to_unit is not None:
            s.add(TicketParticipant(ticket_id=ticket_id, unit_id=to_unit))
        elif move.owner_unit_id != view.owner_unit_id and move.owner_unit_id in view.participants:
            # A co-processing unit that becomes the owner is no longer a participant beside itself.
            await s.execute(
                delete(TicketParticipant).where(
                    TicketParticipant.ticket_id == ticket_id, TicketParticipant.unit_id == move.owner_unit_id
                )
            )
        s.add(
            TicketAction(
                ticket_id=ticket_id,
                action=move.action,
                actor_id=agent.id,
                actor_unit_id=actor.unit_id,
                from_step=view.step,
                to_step=move.to_step,
                to_unit_id=to_unit if to_unit is not None else move.owner_unit_id,
                opinion=opinion[:4000],
                attachments=attachments or [],
                at=now,
            )
        )
    await _announce(core, move.action, ticket, previous_unit=view.owner_unit_id)
    return ticket


async def _returned_to(s: AsyncSession, template: Template, to_step: str | None) -> int | None:
    """A ticket returned (退单) to a step the centre works goes back to the centre."""
    step = template.step(str(to_step))
    if "owner" not in step.units and "centre" in step.units:
        return (await org.centre(s)).id
    return None


async def _apply(
    s: AsyncSession, ticket: Ticket, template: Template, move: Transition, now: datetime, calendar: Any
) -> None:
    values: dict[str, Any] = {
        "step": move.to_step,
        "status": move.status,
        "owner_unit_id": move.owner_unit_id,
        "handler_id": move.handler_id,
        "updated_at": now,
        "version": ticket.version + 1,
    }
    if move.restart_deadline:
        step_due = _due(now, template.step_minutes(move.to_step, ticket.level), calendar)
        values |= {"step_started_at": now, "step_due_at": step_due,
                   "chase_at": _chase(now, step_due, calendar)}
    if move.status == "closed":
        values["closed_at"] = now
    elif ticket.status == "closed":
        # Reopened: no longer solved, so no longer a case to suggest.
        values |= {
            "closed_at": None,
            "is_case": False,
            "due_at": _due(now, template.overall_minutes_for(ticket.level), calendar),
        }
    changed = await s.execute(
        update(Ticket).where(Ticket.id == ticket.id, Ticket.version == ticket.version).values(**values)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidRequest("ticket_changed", "someone changed this ticket meanwhile: reload it", status=409)
    for key, value in values.items():
        setattr(ticket, key, value)


async def urge(core: HubCore, agent: Agent | None, ticket_id: int, opinion: str = "") -> Ticket:
    """Chase the unit handling the ticket (催办): by hand (the customer called again) or by
    the deadline job (``agent`` None)."""
    now = utcnow()
    async with transaction(core.sessions) as s:
        ticket, _view = await load(s, ticket_id)
        if ticket.status != "open":
            raise InvalidRequest(
                "ticket_closed", "a closed ticket cannot be urged; reopen it first", status=409
            )
        actor_unit = (await org.actor_of(s, agent)).unit_id if agent is not None else None
        await record_urge(s, ticket, agent.id if agent is not None else None, actor_unit, opinion, now)
    await _announce(core, "urged", ticket)
    return ticket


async def record_urge(
    s: AsyncSession, ticket: Ticket, actor_id: int | None, actor_unit: int | None, opinion: str, now: datetime
) -> None:
    # An increment in SQL, so two urges at once both count; the ORM brings ``ticket`` up to date.
    await s.execute(
        update(Ticket).where(Ticket.id == ticket.id).values(urge_count=Ticket.urge_count + 1, updated_at=now)
    )
    s.add(
        TicketAction(
            ticket_id=ticket.id,
            action="urge",
            actor_id=actor_id,
            actor_unit_id=actor_unit,
            from_step=ticket.step,
            to_step=ticket.step,
            to_unit_id=ticket.owner_unit_id,
            opinion=opinion[:4000],
            at=now,
        )
    )


async def feedback(
    core: HubCore, agent: Agent, ticket_id: int, satisfaction: int, opinion: str = ""
) -> Ticket:
    """The customer's satisfaction, five levels: 5 very satisfied ... 1 very dissatisfied."""
    if not 1 <= satisfaction <= 5:
        raise InvalidRequest(
            "bad_satisfaction", "satisfaction is 1 (very dissatisfied) to 5 (very satisfied)"
        )
    async with transaction(core.sessions) as s:
        ticket = await s.get(Ticket, ticket_id)
        if ticket is None:
            raise NotFound("ticket")
        ticket.satisfaction = satisfaction
        s.add(ticket)
    return await act(
        core, agent, ticket_id, "comment", opinion=f"satisfaction {satisfaction}: {opinion}".strip()
    )


async def mark_case(core: HubCore, agent: Agent, ticket_id: int, is_case: bool) -> None:
    """Keep a resolved ticket in the case library (or take it out)."""
    async with transaction(core.sessions) as s:
        ticket = await s.get(Ticket, ticket_id)
        if ticket is None:
            raise NotFound("ticket")
        if is_case and ticket.status != "closed":
            raise InvalidRequest("not_resolved", "only a closed ticket can become a case", status=409)
        ticket.is_case = is_case
        s.add(ticket)
    await _announce(core, "case" if is_case else "uncase", ticket)


async def _announce(core: HubCore, kind: str, ticket: Ticket, previous_unit: int | None = None) -> None:
    data = ticket_dict(ticket)
    await core.ticket_event(TicketEvent(kind, int(ticket.id or 0), data))
    frame = {**data, "type": "ticket", "kind": kind, "ticket_type": data["type"]}
    for unit_id in {ticket.owner_unit_id, previous_unit} - {None}:
        await core.bus.publish(unit_topic(int(unit_id or 0)), frame)
    if ticket.handler_id is not None:
        await core.bus.publish(f"agent:{ticket.handler_id}", frame)
