"""Live interactions: what a channel reports while a contact is under way (a call held,
muted, recorded) and when it is over, and how that reaches the agent's screen and state.

The channel knows the call; the core knows the agent. A channel reports the call's live
state (``publish_live``) and its turning points (``set_held``, ``contact_ended``); the core
shows the state on the screens following the interaction, moves the agent between active,
hold and wrap-up in the ACD, and keeps the contact's record on the interaction and a line
of it in the customer's history. Every report may arrive twice (each hub process follows
the same switch): each one is a conditional update that the second copy finds done.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, cast, func, select, update

from hub.db import transaction
from hub.errors import InvalidRequest, NotFound
from hub.events import InteractionEvent
from hub.models import HistoryEntry, Interaction, InteractionStatus, utcnow
from hub.routing.state_table import AgentState

if TYPE_CHECKING:
    from hub.core import HubCore

log = logging.getLogger("contacthub.live")


def live_topic(interaction_id: int) -> str:
    return f"interaction:{interaction_id}"


async def publish_live(core: HubCore, interaction_id: int, state: dict[str, Any], *,
                       channel: str | None = None) -> None:
    """Tell the screens following the interaction, and its agent's own screens (a call they
    just answered pops up there), what the channel says the contact is doing now. With
    ``channel``, only an interaction of that channel (``NotFound`` otherwise)."""
    async with core.sessions() as s:
        row = (await s.execute(select(Interaction.channel, Interaction.agent_id)
                               .where(Interaction.id == interaction_id))).first()
    if row is None or (channel is not None and row.channel != channel):
        raise NotFound("interaction")
    payload = {"event": "live", "interaction_id": interaction_id, "live": state}
    await core.bus.publish(live_topic(interaction_id), payload)
    agent_id = row.agent_id
    if agent_id is not None:
        from hub.routing.topics import agent_topic

        await core.bus.publish(agent_topic(agent_id), {"type": "live", **payload})


async def set_held(core: HubCore, interaction_id: int, held: bool) -> bool:
    """The customer was put on hold (or taken off it): the agent holding the interaction goes
    to hold (or back to active) in the ACD. False when they were not in the state to leave."""
    agent_id = await _holder(core, interaction_id)
    if agent_id is None:
        return False
    source, target = (AgentState.ACTIVE, AgentState.HOLD) if held else (AgentState.HOLD, AgentState.ACTIVE)
    try:
        await core.states.change(agent_id, target, interaction_id=interaction_id, expect=source)
    except InvalidRequest as err:
        log.info("agent %s not moved to %s for interaction %s: %s", agent_id, target, interaction_id,
                 err.message)
        return False
    return True


async def contact_ended(core: HubCore, channel: str, interaction_id: int, record: dict[str, Any],
                        summary: str) -> bool:
    """The contact with the customer is over (the call hung up) while an agent had it: keep
    the channel's ``record`` on the interaction and ``summary`` in the customer's history,
    and put the agent in wrap-up. The interaction stays the agent's until they close it with
    a disposition. False when it was already recorded (a second report) or nobody had it."""
    async with transaction(core.sessions) as s:
        row = (await s.execute(
            update(Interaction).where(
                Interaction.id == interaction_id, Interaction.channel == channel,
                Interaction.agent_id.is_not(None),  # type: ignore[union-attr]
                Interaction.status == InteractionStatus.ASSIGNED,
                cast(Interaction.record, String) == "{}")
            .values(record=record, updated_at=utcnow())
            .returning(Interaction.customer_id, Interaction.agent_id))).first()
        if row is None:
            return False
        s.add(HistoryEntry(customer_id=row.customer_id, interaction_id=interaction_id, channel=channel,
                           kind="contact_ended", summary=summary[:500]))
    try:
        await core.states.change(row.agent_id, AgentState.WRAP_UP, interaction_id=interaction_id)
    except InvalidRequest as err:
        # Already wrapping up another contact, or logged out meanwhile: nothing to move.
        log.info("agent %s not moved to wrap-up after interaction %s: %s", row.agent_id, interaction_id,
                 err.message)
    await publish_live(core, interaction_id, {"state": "ended", **record})
    return True


async def add_to_record(core: HubCore, channel: str, interaction_id: int, fields: dict[str, Any],
                        summary: str) -> bool:
    """Add ``fields`` to the record of a contact (the caller's survey score, given after the
    agent hung up) and ``summary`` to the customer's history. False for no such interaction."""
    async with transaction(core.sessions) as s:
        row = (await s.execute(
            select(Interaction).where(Interaction.id == interaction_id, Interaction.channel == channel)
            .with_for_update())).scalar_one_or_none()
        if row is None:
            return False
        row.record = {**row.record, **fields}  # a new dict: the JSON column sees the change
        row.updated_at = utcnow()
        s.add(HistoryEntry(customer_id=row.customer_id, interaction_id=interaction_id, channel=channel,
                           kind="record", summary=summary[:500]))
    return True


async def requeue(core: HubCore, channel: str, interaction_id: int, queue: str, agent_id: int) -> None:
    """The agent holding the interaction hands it to ``queue``: it waits there with its first
    arrival time and the agent is free of it (a call transferred to another department)."""
    from hub.models import Queue

    async with transaction(core.sessions) as s:
        if (await s.execute(select(Queue.id).where(Queue.name == queue))).first() is None:
            raise InvalidRequest("unknown_queue", f"there is no queue named {queue!r}")
        row = (await s.execute(
            update(Interaction).where(Interaction.id == interaction_id, Interaction.channel == channel,
                                      Interaction.agent_id == agent_id,
                                      Interaction.status == InteractionStatus.ASSIGNED)
            .values(queue=queue, agent_id=None, status=InteractionStatus.QUEUED, updated_at=utcnow())
            .returning(Interaction.customer_id))).first()
        if row is None:
            raise InvalidRequest("not_yours", "only the agent who has this contact may transfer it",
                                 status=409)
    await core.interaction_event(InteractionEvent("moved", interaction_id, channel, row.customer_id,
                                                  queue=queue, agent_id=None))


async def queue_position(core: HubCore, channel: str, interaction_id: int) -> int | None:
    """Where a waiting contact stands among the channel's contacts waiting in its queue, by
    arrival (1: next); None once it is not waiting."""
    async with core.sessions() as s:
        me = (await s.execute(
            select(Interaction.queue, Interaction.queued_at, Interaction.status, Interaction.agent_id)
            .where(Interaction.id == interaction_id, Interaction.channel == channel))).first()
        waiting = me is not None and me.status == InteractionStatus.QUEUED and me.agent_id is None
        if me is None or not waiting or me.queued_at is None:
            return None
        ahead = (await s.execute(select(func.count()).select_from(Interaction).where(
            Interaction.channel == channel, Interaction.queue == me.queue,
            Interaction.status == InteractionStatus.QUEUED,
            (Interaction.queued_at < me.queued_at)  # type: ignore[operator]
            | ((Interaction.queued_at == me.queued_at) & (Interaction.id < interaction_id))))).scalar_one()
    return int(ahead) + 1


async def open_outbound(core: HubCore, channel: str, customer_id: int, thread_key: str, agent_id: int,
                        subject: str) -> int:
    """An interaction the agent starts (a call they place): theirs from the start, active."""
    now = utcnow()
    async with transaction(core.sessions) as s:
        row = Interaction(customer_id=customer_id, channel=channel, thread_key=thread_key,
                          status=InteractionStatus.ASSIGNED, agent_id=agent_id, subject=subject[:300],
                          created_at=now, updated_at=now, assigned_at=now)
        s.add(row)
        await s.flush()
        interaction_id = int(row.id or 0)
        s.add(HistoryEntry(customer_id=customer_id, interaction_id=interaction_id, channel=channel,
                           kind="opened", summary=subject[:500]))
    await core.interaction_event(InteractionEvent("assigned", interaction_id, channel, customer_id,
                                                  queue=row.queue, agent_id=agent_id))
    try:
        await core.states.change(agent_id, AgentState.ACTIVE, interaction_id=interaction_id, by=agent_id)
    except InvalidRequest as err:
        log.info("agent %s not made active on interaction %s: %s", agent_id, interaction_id, err.message)
    return interaction_id


async def hand_over(core: HubCore, channel: str, interaction_id: int, from_agent: int, to_agent: int) -> None:
    """The agent holding the interaction hands it to another agent who is already on it (a
    call the colleague answered): it becomes theirs and they are active on it."""
    from hub.models import Agent

    now = utcnow()
    async with transaction(core.sessions) as s:
        target = await s.get(Agent, to_agent)
        if target is None or not target.active:
            raise InvalidRequest("unknown_agent", "that agent does not exist or is disabled")
        row = (await s.execute(
            update(Interaction).where(Interaction.id == interaction_id, Interaction.channel == channel,
                                      Interaction.agent_id == from_agent,
                                      Interaction.status == InteractionStatus.ASSIGNED)
            .values(agent_id=to_agent, assigned_at=now, updated_at=now)
            .returning(Interaction.customer_id, Interaction.queue))).first()
        if row is None:
            raise InvalidRequest("not_yours", "only the agent who has this contact may hand it over",
                                 status=409)
    await core.interaction_event(InteractionEvent("assigned", interaction_id, channel, row.customer_id,
                                                  queue=row.queue, agent_id=to_agent))
    try:
        await core.states.change(to_agent, AgentState.ACTIVE, interaction_id=interaction_id)
    except InvalidRequest as err:
        log.info("agent %s not made active on interaction %s: %s", to_agent, interaction_id, err.message)


async def agent_by_number(core: HubCore, number: str) -> dict[str, Any] | None:
    from hub.models import Agent

    async with core.sessions() as s:
        row = (await s.execute(select(Agent).where(Agent.number == number))).scalar_one_or_none()
    if row is None or not row.active:
        return None
    return {"id": row.id, "number": row.number, "name": row.name}


async def take_over(core: HubCore, channel: str, interaction_id: int, supervisor_id: int) -> None:
    """A supervisor takes one of the channel's interactions over from its agent: it becomes
    theirs (the agent is freed of it), as if they had moved it to themselves."""
    from hub.models import Agent
    from hub.routing.actions import move_interaction

    async with core.sessions() as s:
        supervisor = await s.get(Agent, supervisor_id)
        owner = (await s.execute(select(Interaction.channel)
                                 .where(Interaction.id == interaction_id))).scalar_one_or_none()
    if supervisor is None or owner != channel:
        raise NotFound("interaction" if supervisor is not None else "agent")
    await move_interaction(core, supervisor, interaction_id, agent_id=supervisor_id)
    # On the call now: their hold and wrap-up are counted like any agent's.
    try:
        await core.states.change(supervisor_id, AgentState.ACTIVE, interaction_id=interaction_id,
                                 by=supervisor_id)
    except InvalidRequest as err:
        log.info("supervisor %s not made active on interaction %s: %s", supervisor_id, interaction_id,
                 err.message)


async def _holder(core: HubCore, interaction_id: int) -> int | None:
    async with core.sessions() as s:
        return (await s.execute(
            select(Interaction.agent_id).where(Interaction.id == interaction_id))).scalar_one_or_none()
