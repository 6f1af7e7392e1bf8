"""Small helpers for channel tests: wait for a condition, read what the hub stored, and
staff the hub with agents for a live contact."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import func, select

from hub.db import transaction
from hub.hookspecs import hookimpl
from hub.models import (
    Agent,
    AgentRole,
    AgentSkill,
    AgentStateSpan,
    Customer,
    CustomerIdentity,
    HistoryEntry,
    Interaction,
    InteractionStatus,
    Message,
    Queue,
)

if TYPE_CHECKING:
    from hub.core import HubCore

T = TypeVar("T")
_AGENT_NUMBERS = itertools.count(70001)
"""Agent numbers the kit hands out: unique in the process, so in every hub it starts."""


async def wait_for(
    predicate: Callable[[], T | Awaitable[T]],
    timeout: float = 5.0,  # noqa: ASYNC109  (a polling helper: the deadline is its point)
    *, interval: float = 0.02, message: str = "",
) -> T:
    """Call ``predicate`` (sync or async) until it returns something truthy, and return that.

    Fails the test with ``message`` (or the predicate's name) after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            what = message or getattr(predicate, "__name__", "condition")
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(interval)


async def messages_with_text(core: HubCore, channel: str, text: str, direction: str = "in") -> list[Message]:
    """Messages of ``channel`` whose text, stripped, is ``text``."""
    async with core.sessions() as s:
        rows = (await s.execute(
            select(Message).where(Message.channel == channel, Message.direction == direction)
            .order_by(Message.id)  # type: ignore[arg-type]
        )).scalars().all()
    return [m for m in rows if m.text.strip() == text.strip()]


async def count_messages(core: HubCore, channel: str, direction: str = "in") -> int:
    async with core.sessions() as s:
        return int((await s.execute(
            select(func.count()).select_from(Message)
            .where(Message.channel == channel, Message.direction == direction)
        )).scalar_one())


async def get_message(core: HubCore, message_id: int) -> Message:
    async with core.sessions() as s:
        message = await s.get(Message, message_id)
    assert message is not None, f"message {message_id} is not stored"
    return message


async def get_interaction(core: HubCore, interaction_id: int) -> Interaction:
    async with core.sessions() as s:
        interaction = await s.get(Interaction, interaction_id)
    assert interaction is not None, f"interaction {interaction_id} is not stored"
    return interaction


async def identity_owner(core: HubCore, kind: str, address: str) -> int | None:
    """The customer known by (kind, address), or None."""
    async with core.sessions() as s:
        return (await s.execute(
            select(CustomerIdentity.customer_id)
            .where(CustomerIdentity.kind == kind, CustomerIdentity.address == address)
        )).scalar_one_or_none()


async def interactions_of(core: HubCore, channel: str, customer_id: int) -> list[Interaction]:
    """The customer's interactions on ``channel``, oldest first."""
    async with core.sessions() as s:
        return list((await s.execute(
            select(Interaction).where(Interaction.channel == channel, Interaction.customer_id == customer_id)
            .order_by(Interaction.id)  # type: ignore[arg-type]
        )).scalars().all())


async def history_of(core: HubCore, interaction_id: int, kind: str) -> list[str]:
    """The summaries of the interaction's contact-history lines of ``kind`` (``contact_ended``)."""
    async with core.sessions() as s:
        return list((await s.execute(
            select(HistoryEntry.summary).where(HistoryEntry.interaction_id == interaction_id,
                                               HistoryEntry.kind == kind)
            .order_by(HistoryEntry.id)  # type: ignore[arg-type]
        )).scalars().all())


async def went_through(core: HubCore, agent_id: int, state: str, interaction_id: int) -> bool:
    """Whether the agent has been in ``state`` (``wrap_up``) for the interaction, or is now."""
    async with core.sessions() as s:
        return (await s.execute(select(AgentStateSpan.id).where(
            AgentStateSpan.agent_id == agent_id, AgentStateSpan.state == state,
            AgentStateSpan.interaction_id == interaction_id))).first() is not None


@dataclass(frozen=True, slots=True)
class StaffMember:
    """An agent the kit added: their id and their agent number (the phone extension)."""

    id: int
    number: str


async def add_agent(core: HubCore, *, role: str = AgentRole.AGENT, queue: str = "") -> StaffMember:
    """A new agent (or supervisor) with a fresh agent number, who cannot log in; with ``queue``,
    skilled in it (at level 1), the queue created if it is missing."""
    number = str(next(_AGENT_NUMBERS))
    async with transaction(core.sessions) as s:
        if queue and (await s.execute(select(Queue.id).where(Queue.name == queue))).first() is None:
            s.add(Queue(name=queue, title=queue))
        agent = Agent(number=number, name=f"Conformance {role} {number}", password_hash="", role=role)
        s.add(agent)
        await s.flush()
        if queue:
            s.add(AgentSkill(agent_id=agent.id, queue=queue, level=1, proficiency=3))
        return StaffMember(int(agent.id or 0), number)


async def make_available(core: HubCore, agent_id: int, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Make the agent idle, so that routing offers them contacts of the queues they serve,
    once this process's router runs and has read the agent's skills."""
    from hub.routing.config import CONFIG_TOPIC
    from hub.routing.states import AgentState

    await wait_for(lambda: core.routing.router is not None, timeout, message="the router to start")
    await core.bus.publish(CONFIG_TOPIC, {"event": "routing-config", "what": "conformance"})
    await core.routing.settled()
    await core.states.change(agent_id, AgentState.IDLE, by=agent_id)
    await core.routing.settled()


async def foreign_interaction(core: HubCore, agent_id: int) -> int:
    """An interaction of another channel, assigned to ``agent_id`` as a live contact would be:
    what a channel must not take for one of its own."""
    async with transaction(core.sessions) as s:
        customer = Customer(name="Someone elsewhere")
        s.add(customer)
        await s.flush()
        interaction = Interaction(customer_id=int(customer.id or 0), channel="elsewhere",
                                  thread_key=f"elsewhere:{uuid.uuid4().hex}", agent_id=agent_id,
                                  status=InteractionStatus.ASSIGNED)
        s.add(interaction)
        await s.flush()
        return int(interaction.id or 0)


class EventRecorder:
    """A plugin the kit adds to the hub to see every interaction and message event."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    @hookimpl
    def hub_on_interaction(self, event: Any) -> None:
        self.events.append(event)

    @hookimpl
    def hub_on_message(self, event: Any) -> None:
        self.events.append(event)

    def of_kind(self, kind: str, message_id: int | None = None) -> list[Any]:
        return [e for e in self.events
                if e.kind == kind and (message_id is None or getattr(e, "message_id", None) == message_id)]
