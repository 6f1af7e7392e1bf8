"""Distribution strategies: each maps a free agent to a sort key, smallest served first."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from hub.routing.model import AgentConfig, Strategy


@dataclass(slots=True)
class AgentRuntime:
    """What routing tracks about an agent between decisions."""

    config: AgentConfig
    available: bool = False
    reason: str = "logged out"
    load: dict[str, int] = field(default_factory=dict)
    idle_since: float = 0.0
    talk_time: float = 0.0
    contacts_today: int = 0
    missed_offers: int = 0
    version: int = 0
    last_offer: dict[str, int] = field(default_factory=dict)


KeyFunction = Callable[[AgentRuntime, str, random.Random], float]

STRATEGIES: dict[str, KeyFunction] = {
    Strategy.LONGEST_IDLE: lambda agent, queue, rng: agent.idle_since,
    Strategy.LEAST_TALK_TIME: lambda agent, queue, rng: agent.talk_time,
    Strategy.FEWEST_CONTACTS: lambda agent, queue, rng: agent.contacts_today,
    # Least recently offered from this queue: a rotation that continues after the last agent.
    Strategy.ROUND_ROBIN: lambda agent, queue, rng: agent.last_offer.get(queue, 0),
    Strategy.TOP_DOWN: lambda agent, queue, rng: 0,
    Strategy.RANDOM: lambda agent, queue, rng: rng.random(),
}


def strategy_key(
    function: KeyFunction, agent: AgentRuntime, queue: str, rng: random.Random
) -> tuple[float, int, int]:
    """The agent's sort key in ``queue``: the strategy's value, then position, then id."""
    return function(agent, queue, rng), agent.config.order, agent.config.id
