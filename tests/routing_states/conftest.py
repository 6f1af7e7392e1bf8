"""Agent-state fixtures: a hub on each database, its agents, and the state service."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from hub.core import HubCore
from hub.db import transaction
from hub.models import Agent, AgentRole
from hub.routing.state_reasons import ensure_reasons
from hub.routing.states import AgentStates, StatePolicy

MORNING = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

NewAgent = Callable[..., Awaitable[int]]


async def add_agent(core: HubCore, role: AgentRole = AgentRole.AGENT) -> int:
    """A stored agent's id."""
    async with transaction(core.sessions) as s:
        agent = Agent(number=uuid.uuid4().hex[:12], name=f"{role} {uuid.uuid4().hex[:4]}",
                      password_hash="", role=role)
        s.add(agent)
        await s.flush()
        return int(agent.id)  # type: ignore[arg-type]


@pytest.fixture
async def new_agent(hub_core: HubCore) -> NewAgent:
    """``await new_agent(role)``: a stored agent's id on the test's hub."""

    async def make(role: AgentRole = AgentRole.AGENT) -> int:
        return await add_agent(hub_core, role)

    return make


@pytest.fixture
async def states(hub_core: HubCore) -> AgentStates:
    """The state service with the default reasons, manual wrap-up allowed, and a 5-minute
    adjust warning."""
    await ensure_reasons(hub_core)
    return AgentStates(hub_core, StatePolicy(wrap_up_seconds=30, adjust_warning_seconds=300,
                                             manual_wrap_up=True))


class Clock:
    """Hands out times a minute apart, so every span has a known start and end."""

    def __init__(self, start: datetime = MORNING) -> None:
        self.now = start

    def tick(self, seconds: float = 60) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()
