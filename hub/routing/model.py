"""Routing data: queues, agents, capacity, interactions and the decisions the engine returns."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

MAX_PROFICIENCY = 5
DEFAULT_TIERS = ("ordinary", "silver", "gold", "diamond", "platinum")
MISSED_OFFER = "missed offer"


class Strategy(enum.StrEnum):
    """How a queue picks among several free agents of the same level."""

    LONGEST_IDLE = "longest_idle"
    LEAST_TALK_TIME = "least_talk_time"
    FEWEST_CONTACTS = "fewest_contacts"
    ROUND_ROBIN = "round_robin"
    TOP_DOWN = "top_down"
    RANDOM = "random"


@dataclass(frozen=True, slots=True)
class ServiceTarget:
    """A service-level goal: ``fraction`` of interactions answered within ``seconds``."""

    fraction: float = 0.8
    seconds: float = 20.0


@dataclass(frozen=True, slots=True)
class RelaxStep:
    """After ``after`` seconds of waiting, agents with ``min_proficiency`` or more qualify."""

    after: float
    min_proficiency: int


@dataclass(frozen=True, slots=True)
class Overflow:
    """After ``after`` seconds of waiting, the interaction is also offered to ``queue``'s agents."""

    after: float
    queue: str


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """A skill group: its strategy, relaxation steps, overflow, waiting cap and service targets."""

    name: str
    strategy: str = Strategy.LONGEST_IDLE
    min_proficiency: int = 1
    steps: tuple[RelaxStep, ...] = ()
    overflow: tuple[Overflow, ...] = ()
    max_waiting: int | None = None
    targets: Mapping[str, ServiceTarget] = field(default_factory=dict)
    default_target: ServiceTarget = ServiceTarget()

    def required(self, waited: float) -> int:
        """The lowest proficiency that qualifies for an interaction that has waited ``waited`` s."""
        need = self.min_proficiency
        for step in self.steps:
            if waited >= step.after:
                need = min(need, step.min_proficiency)
        return need

    def target(self, tier: str) -> ServiceTarget:
        """The service-level target of ``tier`` in this queue."""
        return self.targets.get(tier, self.default_target)


@dataclass(frozen=True, slots=True)
class Membership:
    """An agent's skill in a queue: ``level`` 1 is tried first; ``proficiency`` 1..5."""

    queue: str
    level: int = 1
    proficiency: int = 3


def _default_limits() -> dict[str, int]:
    return {"voice": 1, "chat": 3, "email": 5}


@dataclass(frozen=True, slots=True)
class Capacity:
    """How much work of each channel an agent holds at once, and which channels are exclusive."""

    limits: Mapping[str, int] = field(default_factory=_default_limits)
    exclusive: frozenset[str] = frozenset({"voice"})
    interruptible: frozenset[str] = frozenset()

    def limit(self, channel: str) -> int:
        """How many of ``channel`` at once; ``"*"`` in ``limits`` covers channels not named."""
        return self.limits.get(channel, self.limits.get("*", 0))

    def allows(self, load: Mapping[str, int], channel: str) -> bool:
        """Whether one more interaction of ``channel`` fits beside the work in ``load``."""
        if load.get(channel, 0) >= self.limit(channel):
            return False
        busy = [name for name, count in load.items() if count > 0]
        if any(name in self.exclusive for name in busy):
            return False
        if channel in self.exclusive:
            return all(name in self.interruptible for name in busy)
        return True


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """An agent as routing sees it: skills, capacity and position for top-down order."""

    id: int
    memberships: tuple[Membership, ...]
    capacity: Capacity = Capacity()
    order: int = 0


@dataclass(frozen=True, slots=True)
class Interaction:
    """A contact to route: its home queue, customer tier, channel and original arrival time."""

    id: int
    queue: str
    arrived_at: float
    tier: str = "ordinary"
    channel: str = "voice"
    vip: bool = False
    blacklisted: bool = False
    region: str | None = None


@dataclass(frozen=True, slots=True)
class Offer:
    """The engine offered ``interaction`` to ``agent_id`` through ``queue`` at ``level``."""

    interaction: Interaction
    agent_id: int
    queue: str
    level: int
    offered_at: float


@dataclass(frozen=True, slots=True)
class Queued:
    """No eligible agent was free: the interaction waits."""

    interaction: Interaction


@dataclass(frozen=True, slots=True)
class Refused:
    """The interaction is not routed to a human (``blacklisted``, ``queue full``)."""

    interaction: Interaction
    reason: str


Decision = Offer | Queued | Refused
