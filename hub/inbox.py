"""The agent's inbox: waiting and assigned interactions, taking one, closing it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update

from hub.db import transaction
from hub.errors import InvalidRequest, NotFound, PermissionDenied
from hub.events import InteractionEvent
from hub.history import mask_address
from hub.models import (
    Agent,
    AgentRole,
    Customer,
    Disposition,
    HistoryEntry,
    Interaction,
    InteractionStatus,
    Message,
    utcnow,
)
from hub.models.agents import ROLE_RANK

if TYPE_CHECKING:
    from hub.core import HubCore

WAITING = (InteractionStatus.QUEUED, InteractionStatus.FOLLOWUP)


def is_supervisor(agent: Agent) -> bool:
    return ROLE_RANK[AgentRole(agent.role)] >= ROLE_RANK[AgentRole.SUPERVISOR]


def summary(i: Interaction, customer: Customer, preview: str, *, unmasked: bool) -> dict[str, Any]:
    name = customer.name
    if not unmasked and name == i.thread_key:
        name = mask_address(i.channel, name)
    return {
        "id": i.id, "channel": i.channel, "status": i.status, "queue": i.queue,
        "agent_id": i.agent_id, "subject": i.subject, "last_seq": i.last_seq,
        "agent_read_seq": i.agent_read_seq, "customer_read_seq": i.customer_read_seq,
        "created_at": i.created_at.isoformat(), "updated_at": i.updated_at.isoformat(),
        "customer": {"id": customer.id, "name": name, "tier": customer.tier,
                     "region": customer.region},
        "preview": preview[:140],
    }


async def list_interactions(core: HubCore, agent: Agent, view: str, limit: int = 200) -> list[dict[str, Any]]:
    """``waiting`` (in any queue, oldest first) or ``mine`` (assigned to this agent)."""
    if view == "waiting":
        where = [Interaction.status.in_(WAITING)]  # type: ignore[attr-defined]
        order = Interaction.created_at.asc()  # type: ignore[attr-defined]
    elif view == "mine":
        where = [Interaction.agent_id == agent.id, Interaction.status == InteractionStatus.ASSIGNED]
        order = Interaction.updated_at.desc()  # type: ignore[attr-defined]
    elif view == "all" and is_supervisor(agent):
        where = [Interaction.status != InteractionStatus.CLOSED]
        order = Interaction.created_at.asc()  # type: ignore[attr-defined]
    else:
        raise InvalidRequest("bad_view", "view must be waiting or mine")
    last_text = (
        select(Message.text).where(Message.interaction_id == Interaction.id)
        .order_by(Message.seq.desc()).limit(1).scalar_subquery()  # type: ignore[attr-defined]
    )
    async with core.sessions() as s:
        rows = (await s.execute(
            select(Interaction, Customer, last_text)
            .join(Customer, Customer.id == Interaction.customer_id)
            .where(*where).order_by(order).limit(limit)
        )).all()
    unmasked = is_supervisor(agent)
    return [summary(i, c, preview or "", unmasked=unmasked) for i, c, preview in rows]


async def get_interaction(core: HubCore, agent: Agent, interaction_id: int) -> Interaction:
    """The interaction if this agent may see it: waiting, theirs, or any for supervisors."""
    async with core.sessions() as s:
        interaction = await s.get(Interaction, interaction_id)
    if interaction is None:
        raise NotFound("interaction")
    if not may_read(agent, interaction):
        raise PermissionDenied("this conversation belongs to another agent")
    return interaction


def may_read(agent: Agent, i: Interaction) -> bool:
    if is_supervisor(agent):
        return True
    return i.agent_id == agent.id or (i.agent_id is None and i.status in WAITING)


def may_write(agent: Agent, i: Interaction) -> bool:
    return i.status == InteractionStatus.ASSIGNED and i.agent_id == agent.id


async def take(core: HubCore, agent: Agent, interaction_id: int) -> None:
    """Assign a waiting interaction to ``agent``; exactly one of two racing agents wins."""
    async with transaction(core.sessions) as s:
        row = (await s.execute(
            update(Interaction)
            .where(Interaction.id == interaction_id, Interaction.agent_id.is_(None),  # type: ignore[union-attr]
                   Interaction.status.in_(WAITING))  # type: ignore[attr-defined]
            .values(agent_id=agent.id, status=InteractionStatus.ASSIGNED,
                    assigned_at=utcnow(), updated_at=utcnow())
            .returning(Interaction.channel, Interaction.customer_id, Interaction.queue)
        )).one_or_none()
    if row is None:
        raise InvalidRequest("already_taken", "another agent took this conversation", status=409)
    await core.interaction_event(InteractionEvent(
        "assigned", interaction_id, row.channel, row.customer_id, queue=row.queue,
        agent_id=agent.id,
    ))


async def close(core: HubCore, agent: Agent, interaction_id: int, disposition: str, note: str = "") -> None:
    """Close with a disposition category; only the assigned agent or a supervisor may."""
    async with transaction(core.sessions) as s:
        interaction = await s.get(Interaction, interaction_id)
        if interaction is None:
            raise NotFound("interaction")
        if interaction.status == InteractionStatus.CLOSED:
            raise InvalidRequest("already_closed", "this conversation is already closed", status=409)
        if not (interaction.agent_id == agent.id or is_supervisor(agent)):
            raise PermissionDenied("only the agent handling this conversation may close it")
        if await s.get(Disposition, disposition) is None:
            raise InvalidRequest("bad_disposition", "choose one of the disposition categories")
        await close_row(s, interaction, disposition, note)
    await core.interaction_event(InteractionEvent(
        "closed", interaction_id, interaction.channel, interaction.customer_id,
        queue=interaction.queue, agent_id=interaction.agent_id, disposition=disposition,
    ))


async def close_row(s: Any, interaction: Interaction, disposition: str, note: str) -> None:
    now = utcnow()
    interaction.status = InteractionStatus.CLOSED
    interaction.disposition = disposition
    interaction.close_note = note[:2000]
    interaction.closed_at = now
    interaction.updated_at = now
    s.add(interaction)
    s.add(HistoryEntry(customer_id=interaction.customer_id, interaction_id=interaction.id,
                       channel=interaction.channel, kind="closed", summary=disposition))


async def mark_read_by_agent(core: HubCore, agent: Agent, interaction_id: int, up_to_seq: int) -> None:
    interaction = await get_interaction(core, agent, interaction_id)
    if not may_write(agent, interaction):
        return
    async with transaction(core.sessions) as s:
        await s.execute(update(Interaction).where(
            Interaction.id == interaction_id, Interaction.agent_read_seq < up_to_seq,
            Interaction.last_seq >= up_to_seq,
        ).values(agent_read_seq=up_to_seq))
    await core.bus.publish(f"interaction:{interaction_id}", {
        "event": "read", "by": "agent", "up_to_seq": up_to_seq, "interaction_id": interaction_id,
    })


async def dispositions(core: HubCore) -> list[Disposition]:
    async with core.sessions() as s:
        return list((await s.execute(
            select(Disposition).where(Disposition.active.is_(True))  # type: ignore[attr-defined]
            .order_by(Disposition.sort)  # type: ignore[arg-type]
        )).scalars())


async def counts(core: HubCore, agent: Agent) -> dict[str, int]:
    async with core.sessions() as s:
        waiting = (await s.execute(select(func.count()).select_from(Interaction).where(
            Interaction.status.in_(WAITING)))).scalar_one()  # type: ignore[attr-defined]
        mine = (await s.execute(select(func.count()).select_from(Interaction).where(
            Interaction.agent_id == agent.id,
            Interaction.status == InteractionStatus.ASSIGNED))).scalar_one()
    return {"waiting": int(waiting), "mine": int(mine)}


def idle_since(i: Interaction) -> datetime:
    return i.updated_at
