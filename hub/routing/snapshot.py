"""Plain-data views of the router's state, for persistence, wallboards and restarts."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.routing.engine import Router
    from hub.routing.model import Offer
    from hub.routing.strategies import AgentRuntime


def snapshot(router: Router, now: float) -> dict[str, Any]:
    """Waiting interactions (original arrival times), offers, active work, agents, service levels."""
    return {
        "at": now,
        "waiting": sorted((asdict(item[0]) for item in router.waiting.items.values()),
                          key=lambda row: (row["arrived_at"], row["id"])),
        "offers": [_offer(offer) for offer in router.offers.values()],
        "active": [{"interaction": asdict(ix), "agent_id": agent, "accepted_at": at}
                   for agent, ix, at in router.active.values()],
        "agents": {agent_id: _agent(agent) for agent_id, agent in router.agents.items()},
        "service_levels": _service_levels(router, now),
    }


def _offer(offer: Offer) -> dict[str, Any]:
    return {"interaction": asdict(offer.interaction), "agent_id": offer.agent_id, "queue": offer.queue,
            "level": offer.level, "offered_at": offer.offered_at}


def _agent(agent: AgentRuntime) -> dict[str, Any]:
    return {"available": agent.available, "reason": agent.reason, "load": dict(agent.load),
            "idle_since": agent.idle_since, "talk_time": agent.talk_time,
            "contacts_today": agent.contacts_today, "missed_offers": agent.missed_offers}


def _service_levels(router: Router, now: float) -> dict[str, dict[str, Any]]:
    rows = {}
    for (queue, tier), service in router.service_levels().items():
        ok, total = service.counts(now)
        target = router.queues[queue].target(tier)
        rows[f"{queue}/{tier}"] = {"in_target": ok, "total": total, "level": ok / total if total else 1.0,
                                   "target": target.fraction, "seconds": target.seconds}
    return rows
