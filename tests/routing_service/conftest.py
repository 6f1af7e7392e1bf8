"""A started hub whose router leads, with helpers to staff queues and bring in contacts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from hub.core import HubCore
from hub.db import transaction
from hub.ingest import ingest
from hub.messages import InboundMessage
from hub.models import (
    Agent,
    AgentSkill,
    Customer,
    CustomerIdentity,
    Interaction,
    Queue,
    QueueRules,
    RoutingOffer,
)
from hub.routing.config import CONFIG_TOPIC
from hub.routing.states import AgentState


@dataclass
class Centre:
    """The hub under test and what a test does to it."""

    core: HubCore

    async def settled(self) -> None:
        """Let the router handle everything published so far."""
        for _ in range(3):
            await asyncio.sleep(0)
            await self.core.routing.settled()

    async def queue(self, name: str, **rules: Any) -> None:
        async with transaction(self.core.sessions) as s:
            if (await s.execute(select(Queue).where(Queue.name == name))).first() is None:
                s.add(Queue(name=name, title=name))
                await s.flush()
            row = await s.get(QueueRules, name) or QueueRules(queue=name)
            for key, value in rules.items():
                setattr(row, key, value)
            s.add(row)

    async def agent(self, *skills: tuple[str, int, int] | str, role: str = "agent") -> int:
        """A stored agent with skills ``(queue, level, proficiency)`` or just queue names."""
        async with transaction(self.core.sessions) as s:
            agent = Agent(number=uuid.uuid4().hex[:10], name=f"Agent {uuid.uuid4().hex[:4]}",
                          password_hash="", role=role)
            s.add(agent)
            await s.flush()
            for skill in skills:
                queue, level, proficiency = (skill, 1, 3) if isinstance(skill, str) else skill
                s.add(AgentSkill(agent_id=agent.id, queue=queue, level=level, proficiency=proficiency))
            return int(agent.id or 0)

    async def idle_agent(self, *skills: tuple[str, int, int] | str) -> int:
        """An agent with these skills, known to the router, idle."""
        agent_id = await self.agent(*skills)
        await self.reload()
        await self.ready(agent_id)
        return agent_id

    async def reload(self) -> None:
        """Tell the router the configuration changed, as the admin API does."""
        await self.core.bus.publish(CONFIG_TOPIC, {"event": "routing-config", "what": "test"})
        await self.settled()

    async def ready(self, agent_id: int) -> None:
        await self.core.states.change(agent_id, AgentState.IDLE, by=agent_id)
        await self.settled()

    async def contact(self, sender: str | None = None, *, channel: str = "chat", tier: str = "ordinary",
                      queue: str | None = None, entry: str = "", region: str = "",
                      phone: str | None = None) -> int:
        """A new contact from ``sender``; returns its interaction id once routing had its say."""
        sender = sender or uuid.uuid4().hex[:8]
        async with transaction(self.core.sessions) as s:
            # Known before the contact, as a customer record would be.
            customer = Customer(name=sender, tier=tier, region=region)
            s.add(customer)
            await s.flush()
            s.add(CustomerIdentity(customer_id=customer.id, kind=channel, address=sender))
        result = await ingest(self.core, InboundMessage(
            channel=channel, external_id=uuid.uuid4().hex, sender=sender, thread_key=sender,
            text="hello", entry=entry, identities=(("phone", phone),) if phone else ()))
        if queue is not None:
            await self.move_row(result.interaction_id, queue)
        return result.interaction_id

    async def add(self, *rows: Any) -> None:
        """Store configuration rows and tell the router."""
        async with transaction(self.core.sessions) as s:
            for row in rows:
                s.add(row)
        await self.reload()

    async def move_row(self, interaction_id: int, queue: str) -> None:
        async with transaction(self.core.sessions) as s:
            row = await s.get(Interaction, interaction_id)
            assert row is not None
            row.queue = queue
            s.add(row)

    async def offer_of(self, interaction_id: int) -> int | None:
        """The agent the interaction is ringing at, per the database."""
        async with self.core.sessions() as s:
            row = await s.get(RoutingOffer, interaction_id)
        return None if row is None else row.agent_id

    async def state(self, agent_id: int) -> AgentState:
        return (await self.core.states.current(agent_id)).state

    async def interaction(self, interaction_id: int) -> Interaction:
        async with self.core.sessions() as s:
            row = await s.get(Interaction, interaction_id)
        assert row is not None
        return row


MakeCentre = Callable[..., Awaitable[Centre]]


@pytest.fixture
async def make_centre(database_url: str, make_hub: Any) -> MakeCentre:
    """``await make_centre(**settings)``: a started hub on each database, its router leading."""

    async def make(**settings: Any) -> Centre:
        settings.setdefault("wrap_up_seconds", 0.2)
        settings.setdefault("leader_retry_seconds", 0.1)
        core = await make_hub(database_url=database_url, **settings)
        centre = Centre(core)
        for _ in range(100):
            if core.routing.router is not None:
                break
            await asyncio.sleep(0.02)
        assert core.routing.router is not None, "the router did not take the lead"
        await centre.settled()
        return centre

    return make


@pytest.fixture
async def centre(make_centre: MakeCentre) -> Centre:
    return await make_centre()
