"""The supervisors' wallboard: per queue and tier, who waits and how long, the service level
now against its target, today's answered and abandoned contacts and average speed of
answer, and the queue's agents by state. Built by the leading router from memory."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.models import Customer, Interaction

if TYPE_CHECKING:
    from hub.routing.config import RoutingConfig
    from hub.routing.engine import Router
    from hub.routing.model import Interaction as Routed
    from hub.routing.states import AgentState


Outcome = tuple[str, str, datetime, datetime | None, datetime | None]


@dataclass(slots=True)
class Tally:
    answered: int = 0
    abandoned: int = 0
    wait: float = 0.0
    """Seconds waited by the answered ones, for the average speed of answer."""

    def asa(self) -> float | None:
        return self.wait / self.answered if self.answered else None


class QueueStats:
    """Today's answered and abandoned contacts per (queue, tier)."""

    def __init__(self) -> None:
        self.tallies: dict[tuple[str, str], Tally] = defaultdict(Tally)

    def answered(self, interaction: Routed, now: float) -> None:
        tally = self.tallies[(interaction.queue, interaction.tier)]
        tally.answered += 1
        tally.wait += max(0.0, now - interaction.arrived_at)

    def abandoned(self, interaction: Routed) -> None:
        self.tallies[(interaction.queue, interaction.tier)].abandoned += 1

    def new_day(self) -> None:
        self.tallies.clear()

    async def restore(self, sessions: async_sessionmaker[AsyncSession], since: datetime,
                      today: datetime) -> list[Outcome]:
        """Today's figures from the interactions themselves, for a router that just started;
        returns every outcome since ``since`` (queue, tier, queued, answered, closed)."""
        self.tallies.clear()
        outcomes: list[Outcome] = []
        query = (select(Interaction.queue, Customer.tier, Interaction.queued_at, Interaction.assigned_at,
                        Interaction.closed_at)
                 .join(Customer, Customer.id == Interaction.customer_id)
                 .where(Interaction.queued_at >= since))  # type: ignore[operator]
        async with sessions() as s:
            for queue, tier, queued, assigned, closed in (await s.execute(query)).all():
                outcomes.append((queue, tier, queued, assigned, closed))
                if queued < today:
                    continue
                tally = self.tallies[(queue, tier)]
                if assigned is not None:
                    tally.answered += 1
                    tally.wait += max(0.0, (assigned - queued).total_seconds())
                elif closed is not None:
                    tally.abandoned += 1
        return outcomes


def replay_service_levels(router: Router, outcomes: list[Outcome], now: float) -> None:
    """Feed the router's sliding windows with the outcomes still inside them, in time order,
    so the tier furthest below target is still served first right after a restart."""
    events: list[tuple[float, str, str, bool]] = []
    for queue, tier, queued, assigned, closed in outcomes:
        if queue not in router.queues:
            continue
        if assigned is not None:
            target = router.queues[queue].target(tier)
            in_target = (assigned - queued).total_seconds() <= target.seconds
            events.append((assigned.timestamp(), queue, tier, in_target))
        elif closed is not None:
            events.append((closed.timestamp(), queue, tier, False))
    levels = router.service_levels()
    for at, queue, tier, in_target in sorted(events):
        if at > now - router.window:
            router.service_level(queue, tier, at)  # creates the window
            levels[(queue, tier)].record(at, in_target)


def wallboard(router: Router, config: RoutingConfig, stats: QueueStats, states: dict[int, AgentState],
              held: dict[str, int], now: float) -> dict[str, Any]:
    """The board as plain data; the same document goes over REST and the websocket."""
    waits: dict[tuple[str, str], list[float]] = defaultdict(list)
    for interaction, _epoch in router.waiting.items.values():
        waits[(interaction.queue, interaction.tier)].append(now - interaction.arrived_at)
    ringing = Counter(offer.interaction.queue for offer in router.offers.values())
    members: dict[str, list[int]] = defaultdict(list)
    for agent in config.agents.values():
        for member in agent.memberships:
            members[member.queue].append(agent.id)
    queues = []
    for queue in config.queues:
        tiers = [_tier(router, stats, waits, queue.name, tier, now) for tier in config.tiers]
        waiting = sum(t["waiting"] for t in tiers)
        answered = sum(t["answered"] for t in tiers)
        wait = sum(stats.tallies[key].wait for key in stats.tallies if key[0] == queue.name)
        in_target = total = 0
        for (name, _tier_name), service in router.service_levels().items():
            if name == queue.name:
                ok, count = service.counts(now)
                in_target, total = in_target + ok, total + count
        queues.append({
            "queue": queue.name, "waiting": waiting, "held": held.get(queue.name, 0),
            "service_level": in_target / total if total else 1.0,
            "target": {"fraction": queue.default_target.fraction, "seconds": queue.default_target.seconds},
            "ringing": ringing.get(queue.name, 0),
            "longest_wait": max((t["longest_wait"] for t in tiers), default=0.0),
            "answered": answered, "abandoned": sum(t["abandoned"] for t in tiers),
            "asa": wait / answered if answered else None,
            "tiers": [t for t in tiers if t["waiting"] or t["answered"] or t["abandoned"]],
            "agents": dict(Counter(str(states.get(agent_id, "logged_out"))
                                   for agent_id in members[queue.name])),
        })
    return {"type": "wallboard", "at": datetime.fromtimestamp(now, UTC).isoformat(), "queues": queues,
            "agents": dict(Counter(str(state) for state in states.values()))}


def _tier(router: Router, stats: QueueStats, waits: dict[tuple[str, str], list[float]], queue: str, tier: str,
          now: float) -> dict[str, Any]:
    waited = waits.get((queue, tier), [])
    tally = stats.tallies.get((queue, tier), Tally())
    target = router.queues[queue].target(tier)
    return {
        "tier": tier, "waiting": len(waited), "longest_wait": max(waited, default=0.0),
        "service_level": router.service_level(queue, tier, now),
        "target": {"fraction": target.fraction, "seconds": target.seconds},
        "answered": tally.answered, "abandoned": tally.abandoned, "asa": tally.asa(),
    }
