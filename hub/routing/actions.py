"""What agents and supervisors do with routing, from any process: accept or decline an
offer, ask for the next contact, move an interaction, read the status bar. Each writes the
database first and publishes what happened; the leading router follows the events."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from hub.db import transaction
from hub.errors import InvalidRequest, NotFound, PermissionDenied
from hub.events import InteractionEvent, OfferEvent
from hub.inbox import is_supervisor
from hub.models import (
    Agent,
    AgentSkill,
    AgentStateSpan,
    Customer,
    Interaction,
    InteractionStatus,
    Queue,
    RoutingOffer,
    utcnow,
)
from hub.routing import offers as stored
from hub.routing.offering import announce
from hub.routing.states import AgentState
from hub.routing.topics import MISSED, REQUESTS

if TYPE_CHECKING:
    from hub.core import HubCore

S = AgentState


async def pending_offers(core: HubCore, agent: Agent) -> list[dict[str, Any]]:
    """Offers ringing at this agent now, for a screen that (re)connects."""
    query = (select(RoutingOffer, Interaction.channel, Interaction.queued_at, Customer.tier)
             .join(Interaction, Interaction.id == RoutingOffer.interaction_id)
             .join(Customer, Customer.id == Interaction.customer_id)
             .where(RoutingOffer.agent_id == agent.id))
    async with core.sessions() as s:
        rows = (await s.execute(query)).all()
    return [{"interaction_id": offer.interaction_id, "queue": offer.queue, "channel": channel, "tier": tier,
             "queued_at": queued_at.isoformat() if queued_at else None,
             "offered_at": offer.offered_at.isoformat(),
             "expires_at": offer.expires_at.isoformat() if offer.expires_at else None}
            for offer, channel, queued_at, tier in rows]


async def accept_offer(core: HubCore, agent: Agent, interaction_id: int) -> None:
    """The agent answers: the interaction is theirs, they are active on it."""
    async with transaction(core.sessions) as s:
        claimed = await stored.claim(s, interaction_id, agent.id)
        if claimed is None:
            raise InvalidRequest("offer_gone", "this offer is no longer yours: it timed out, was withdrawn, "
                                 "or the customer left", status=409)
        row = await stored.assign_offered(s, interaction_id, int(agent.id or 0))
        if row is None:
            raise InvalidRequest("offer_gone", "the customer left before the offer was answered", status=409)
    current = await core.states.current(int(agent.id or 0))
    if current.state in (S.OFFERED, S.IDLE, S.BUSY):
        # The agent's state may have moved meanwhile (another offer answered): the work is theirs.
        with contextlib.suppress(InvalidRequest):
            await core.states.change(int(agent.id or 0), S.ACTIVE, by=agent.id, interaction_id=interaction_id,
                                     expect_span=current.span_id)
    await core.interaction_event(InteractionEvent(
        "assigned", interaction_id, row.channel, row.customer_id, queue=row.queue, agent_id=agent.id))
    await _announce(core, "accepted", interaction_id, int(agent.id or 0), claimed)


async def decline_offer(core: HubCore, agent: Agent, interaction_id: int) -> None:
    """The agent refuses: it goes to the next agent, and this one is set busy like a miss.
    The router hears the ``declined`` event and passes the contact on."""
    claimed = await stored.claim_offer(core.sessions, interaction_id, agent.id)
    if claimed is None:
        raise InvalidRequest("offer_gone", "this offer is no longer yours", status=409)
    with contextlib.suppress(InvalidRequest):  # logged out meanwhile: nothing to set
        await core.states.change(int(agent.id or 0), S.BUSY, reason=MISSED)
    await _announce(core, "declined", interaction_id, int(agent.id or 0), claimed)


async def _announce(core: HubCore, kind: str, interaction_id: int, agent_id: int,
                    claimed: stored.Claimed) -> None:
    channel, tier, arrived = await stored.offer_facts(core.sessions, interaction_id)
    now = utcnow()
    await announce(core, OfferEvent(kind, interaction_id, agent_id, claimed.queue, claimed.level, channel,
                                    tier, now, waited=now.timestamp() - arrived))


async def request_next(core: HubCore, agent: Agent) -> None:
    """Manual answer: offer me the contact I would get if I were available now."""
    await core.bus.publish(REQUESTS, {"kind": "next", "agent_id": agent.id})


async def move_interaction(core: HubCore, supervisor: Agent, interaction_id: int, *,
                           queue: str | None = None, agent_id: int | None = None) -> None:
    """A supervisor sends an open interaction to another queue (it waits there with its
    original arrival) or straight to an agent."""
    if not is_supervisor(supervisor):
        raise PermissionDenied("only a supervisor may move an interaction")
    if (queue is None) == (agent_id is None):
        raise InvalidRequest("bad_move", "give either a queue or an agent to move the interaction to")
    now = utcnow()
    async with transaction(core.sessions) as s:
        interaction = await s.get(Interaction, interaction_id)
        if interaction is None or interaction.closed_at is not None:
            raise NotFound("interaction")
        known = queue is None or (await s.execute(select(Queue.id).where(Queue.name == queue))).first()
        if not known:
            raise InvalidRequest("unknown_queue", f"there is no queue named {queue!r}")
        if agent_id is not None:
            target = await s.get(Agent, agent_id)
            if target is None or not target.active:
                raise InvalidRequest("unknown_agent", "that agent does not exist or is disabled")
        await stored.claim(s, interaction_id)
        values: dict[str, Any] = {"updated_at": now}
        if queue is not None:
            values |= {"queue": queue, "agent_id": None, "status": InteractionStatus.QUEUED,
                       "queued_at": interaction.queued_at or interaction.created_at}
        else:
            values |= {"agent_id": agent_id, "status": InteractionStatus.ASSIGNED, "assigned_at": now}
        await s.execute(update(Interaction).where(Interaction.id == interaction_id).values(**values))
        channel, customer_id = interaction.channel, interaction.customer_id
        queue_now = queue or interaction.queue
    kind = "moved" if queue is not None else "assigned"
    await core.interaction_event(InteractionEvent(kind, interaction_id, channel, customer_id,
                                                  queue=queue_now, agent_id=agent_id))


async def status_bar(core: HubCore, agent: Agent) -> dict[str, Any]:
    """The agent's own status bar: state and since when, idle colleagues and waiting
    customers in my queues, today's contacts, talk and wrap-up time."""
    agent_id = int(agent.id or 0)
    current = await core.states.current(agent_id)
    day = await core.states.today(agent_id, datetime.now(ZoneInfo(core.settings.timezone)))
    mine = select(AgentSkill.queue).where(AgentSkill.agent_id == agent_id)
    colleagues = select(AgentSkill.agent_id).where(AgentSkill.queue.in_(mine))  # type: ignore[attr-defined]
    async with core.sessions() as s:
        queues = list((await s.execute(mine)).scalars())
        waiting = (await s.execute(select(func.count()).select_from(Interaction).where(
            Interaction.queue.in_(queues), Interaction.agent_id.is_(None),  # type: ignore[attr-defined, union-attr]
            Interaction.closed_at.is_(None), Interaction.queued_at.is_not(None),  # type: ignore[union-attr]
            stored.not_offered()))).scalar_one()
        idle = (await s.execute(select(func.count()).select_from(AgentStateSpan).where(
            AgentStateSpan.ended_at.is_(None), AgentStateSpan.state == S.IDLE,  # type: ignore[union-attr]
            AgentStateSpan.agent_id.in_(colleagues)))).scalar_one()  # type: ignore[attr-defined]
    now = utcnow()
    return {
        "state": str(current.state), "reason": current.reason,
        "since": current.since.isoformat() if current.since else None,
        "for_seconds": (now - current.since).total_seconds() if current.since else 0.0,
        "queues": queues, "waiting": int(waiting), "idle_agents": int(idle),
        "contacts_today": day.contacts, "missed_offers_today": day.missed_offers,
        "talk_now_seconds": day.current_talk_seconds, "talk_total_seconds": day.talk_seconds,
        "talk_average_seconds": day.average_talk_seconds, "wrap_up_total_seconds": day.wrap_up_seconds,
    }


async def internal_call_allowed(core: HubCore, caller: int, callee: int) -> bool:
    """An internal call between agents is refused while their queues have customers waiting."""
    queues = select(AgentSkill.queue).where(AgentSkill.agent_id.in_((caller, callee)))  # type: ignore[attr-defined]
    async with core.sessions() as s:
        waiting = (await s.execute(select(Interaction.id).where(
            Interaction.queue.in_(queues), Interaction.agent_id.is_(None),  # type: ignore[attr-defined, union-attr]
            Interaction.closed_at.is_(None), Interaction.queued_at.is_not(None)).limit(1))).first()  # type: ignore[union-attr]
    return waiting is None
