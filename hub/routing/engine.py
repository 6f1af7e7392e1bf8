"""The ACD decision core: offers interactions to agents, pure and in memory, with an injected clock."""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hub.routing.agents import FreeAgents
from hub.routing.model import (
    DEFAULT_TIERS,
    MISSED_OFFER,
    AgentConfig,
    Decision,
    Interaction,
    Offer,
    QueueConfig,
    Queued,
    Refused,
)
from hub.routing.service_level import ServiceLevel
from hub.routing.snapshot import snapshot
from hub.routing.strategies import STRATEGIES, AgentRuntime, KeyFunction
from hub.routing.waiting import Waiting

PickKey = tuple[bool, float, int, float, int]


@dataclass(frozen=True, slots=True)
class _Due:
    """A time-driven rule for one waiting interaction: a relaxation step or an overflow."""

    at: float
    seq: int
    interaction_id: int
    epoch: int
    overflow_to: str | None


class Router:
    """Routes interactions to agents by skill level, proficiency, capacity, tier service level."""

    def __init__(self, queues: Iterable[QueueConfig], tiers: Iterable[str] = DEFAULT_TIERS,
                 window: float = 1800.0, rng: random.Random | None = None,
                 strategies: Mapping[str, KeyFunction] | None = None, channels: Iterable[str] = ()) -> None:
        self.queues = {queue.name: queue for queue in queues}
        known = {**STRATEGIES, **(strategies or {})}
        unknown = sorted({q.strategy for q in self.queues.values()} - set(known))
        if unknown:
            raise ValueError(f"unknown routing strategy: {', '.join(unknown)}")
        self.tier_rank = {tier: rank for rank, tier in enumerate(tiers)}
        self.window = window
        # Free agents are indexed per channel: the channels routed (or each agent's limits).
        self.free = FreeAgents(self.queues, rng or random.Random(0), known, channels)
        self.waiting = Waiting()
        self.offers: dict[int, Offer] = {}
        self.active: dict[int, tuple[int, Interaction, float]] = {}
        self._levels: dict[str, list[int]] = {name: [] for name in self.queues}
        self._sl: dict[tuple[str, str], ServiceLevel] = {}
        self._due: list[tuple[float, int, _Due]] = []
        self._due_seq = itertools.count()
        self._rr = itertools.count(1)

    @property
    def agents(self) -> dict[int, AgentRuntime]:
        """Routing's view of every agent, by id."""
        return self.free.agents

    def add_agent(self, config: AgentConfig) -> None:
        """Register an agent (unavailable until ``set_available``)."""
        self.free.agents[config.id] = AgentRuntime(config=config)
        for member in config.memberships:
            levels = self._levels.get(member.queue)
            if levels is not None and member.level not in levels:
                levels.append(member.level)
                levels.sort()

    # -- agents -------------------------------------------------------------------------------

    def set_available(self, agent_id: int, available: bool, now: float, reason: str = "") -> list[Offer]:
        """The agent state machine's switch: only available agents get offers."""
        agent = self.agents[agent_id]
        if available and not agent.available:
            agent.idle_since = now
        agent.available, agent.reason = available, "" if available else reason
        self.free.refresh(agent)
        return self.on_agent_free(agent_id, now) if available else []

    def on_agent_free(self, agent_id: int, now: float) -> list[Offer]:
        """Fill the agent's free capacity, serving the tier furthest below its target first."""
        offers = []
        agent = self.agents[agent_id]
        while agent.available and (pick := self._pick_for(agent, now)) is not None:
            interaction, queue, level = pick
            offers.append(self._offer(interaction, agent, queue, level, now))
        return offers

    def _pick_for(self, agent: AgentRuntime, now: float) -> tuple[Interaction, str, int] | None:
        best: tuple[PickKey, Interaction, str, int] | None = None
        deficits: dict[tuple[str, str], float] = {}
        capacity = agent.config.capacity
        for member in agent.config.memberships:
            queue = self.queues.get(member.queue)
            if queue is None:
                continue
            for (tier, channel, _vip), head, seq in self.waiting.heads(queue.name):
                if not capacity.allows(agent.load, channel):
                    continue
                if member.proficiency < queue.required(now - head.arrived_at):
                    continue
                deficit = deficits.get((queue.name, tier))
                if deficit is None:
                    deficit = deficits[(queue.name, tier)] = self.deficit(queue, tier, now)
                key = self.order_key(head, seq, deficit)
                if best is None or key > best[0]:
                    best = (key, head, queue.name, member.level)
        return None if best is None else best[1:]

    def order_key(self, interaction: Interaction, seq: int, deficit: float) -> PickKey:
        """The order waiting contacts are served in, highest first: VIPs, then the tier
        furthest below its target (``deficit``), the higher tier, the earlier arrival, FIFO."""
        return (interaction.vip, deficit, self.tier_rank.get(interaction.tier, -1),
                -interaction.arrived_at, -seq)

    def deficit(self, queue: QueueConfig, tier: str, now: float) -> float:
        """How far (queue, tier) is below its service-level target now (negative: above)."""
        target = queue.target(tier).fraction
        return target - self._service(queue.name, tier).level(now)

    def _service(self, queue: str, tier: str) -> ServiceLevel:
        service = self._sl.get((queue, tier))
        if service is None:
            service = self._sl[(queue, tier)] = ServiceLevel(self.window)
        return service

    # -- interactions -------------------------------------------------------------------------

    def on_arrival(self, interaction: Interaction, now: float) -> Decision:
        """Offer to the best free eligible agent, else wait (or refuse: blacklist, waiting cap)."""
        if interaction.blacklisted:
            return Refused(interaction, "blacklisted")
        if interaction.queue not in self.queues:
            return Refused(interaction, "unknown queue")
        offer = self._place(interaction, now)
        if offer is not None:
            return offer
        cap = self.queues[interaction.queue].max_waiting
        if cap is not None and self.waiting.count.get(interaction.queue, 0) >= cap:
            return Refused(interaction, "queue full")
        self._enqueue(interaction, now)
        return Queued(interaction)

    def _place(self, interaction: Interaction, now: float) -> Offer | None:
        found = self._find_agent(interaction, now)
        if found is None:
            return None
        agent_id, queue, level = found
        return self._offer(interaction, self.agents[agent_id], queue, level, now)

    def _find_agent(self, interaction: Interaction, now: float) -> tuple[int, str, int] | None:
        waited = now - interaction.arrived_at
        for queue in self._open_queues(interaction, waited):
            need = queue.required(waited)
            for level in self._levels[queue.name]:
                agent_id = self.free.best(queue.name, level, need, interaction.channel)
                if agent_id is not None:
                    return agent_id, queue.name, level
        return None

    def _open_queues(self, interaction: Interaction, waited: float) -> list[QueueConfig]:
        home = self.queues[interaction.queue]
        extra = [self.queues[rule.queue] for rule in home.overflow
                 if waited >= rule.after and rule.queue in self.queues]
        return [home, *extra]

    def _enqueue(self, interaction: Interaction, now: float) -> None:
        epoch = self.waiting.add(interaction)
        home = self.queues[interaction.queue]
        self._schedule_steps(interaction, home, epoch, now)
        for rule in home.overflow:
            if rule.queue not in self.queues:
                continue
            if interaction.arrived_at + rule.after <= now:
                self._overflow(interaction, rule.queue, epoch, now)
            else:
                self._schedule(interaction.arrived_at + rule.after, interaction.id, epoch, rule.queue)

    def _overflow(self, interaction: Interaction, queue: str, epoch: int, now: float) -> None:
        self.waiting.place(interaction.id, queue)
        self._schedule_steps(interaction, self.queues[queue], epoch, now)

    def _schedule_steps(self, interaction: Interaction, queue: QueueConfig, epoch: int, now: float) -> None:
        for step in queue.steps:
            if interaction.arrived_at + step.after > now:
                self._schedule(interaction.arrived_at + step.after, interaction.id, epoch, None)

    def _schedule(self, at: float, interaction_id: int, epoch: int, overflow_to: str | None) -> None:
        seq = next(self._due_seq)
        heapq.heappush(self._due, (at, seq, _Due(at, seq, interaction_id, epoch, overflow_to)))

    def next_due(self) -> float | None:
        """When ``tick`` next has work: the service sleeps until then instead of polling."""
        return self._due[0][0] if self._due else None

    def tick(self, now: float) -> list[Offer]:
        """Apply relaxation steps and overflows due by ``now``; O(log n) per due rule."""
        offers = []
        while self._due and self._due[0][0] <= now:
            due = heapq.heappop(self._due)[2]
            if self.waiting.epoch(due.interaction_id) != due.epoch:
                continue
            interaction = self.waiting.items[due.interaction_id][0]
            if due.overflow_to is not None:
                self._overflow(interaction, due.overflow_to, due.epoch, now)
            offer = self._place(interaction, now)
            if offer is not None:
                offers.append(offer)
        return offers

    # -- offers -------------------------------------------------------------------------------

    def _offer(self, interaction: Interaction, agent: AgentRuntime, queue: str, level: int,
               now: float) -> Offer:
        self.waiting.remove(interaction.id)
        agent.load[interaction.channel] = agent.load.get(interaction.channel, 0) + 1
        agent.last_offer[queue] = next(self._rr)
        self.free.refresh(agent)
        offer = Offer(interaction, agent.config.id, queue, level, now)
        self.offers[interaction.id] = offer
        return offer

    def _current(self, offer: Offer) -> None:
        if self.offers.get(offer.interaction.id) != offer:
            raise KeyError(f"no such offer: interaction {offer.interaction.id} to agent {offer.agent_id}")

    def accept(self, offer: Offer, now: float) -> None:
        """The agent answered: the interaction is active and counts for the service level."""
        self._current(offer)
        del self.offers[offer.interaction.id]
        interaction = offer.interaction
        self.active[interaction.id] = (offer.agent_id, interaction, now)
        self._answered(self.agents[offer.agent_id], interaction, now)
        self.waiting.forget(interaction.id)

    def _answered(self, agent: AgentRuntime, interaction: Interaction, now: float) -> None:
        agent.contacts_today += 1
        target = self.queues[interaction.queue].target(interaction.tier)
        in_target = now - interaction.arrived_at <= target.seconds
        self._service(interaction.queue, interaction.tier).record(now, in_target)

    def decline(self, offer: Offer, now: float, reason: str = MISSED_OFFER) -> list[Offer]:
        """Rejected or timed out: the agent goes unavailable, the interaction waits as it was."""
        agent = self.agents[offer.agent_id]
        agent.missed_offers += 1
        return self._return(offer, now, unavailable=reason)

    timeout = decline

    def withdraw(self, offer: Offer, now: float) -> list[Offer]:
        """Take an offer back through no fault of the agent (they logged out, the interaction
        moved): it waits again with its original arrival; the agent is not counted a miss."""
        return self._return(offer, now)

    def _return(self, offer: Offer, now: float, unavailable: str | None = None) -> list[Offer]:
        """The offer ends unanswered: capacity returns, the interaction goes to the next
        agent or waits as it was; ``unavailable`` (a reason) takes the agent out of routing."""
        self._current(offer)
        del self.offers[offer.interaction.id]
        agent = self.agents[offer.agent_id]
        self._release(agent, offer.interaction.channel)
        if unavailable is not None:
            agent.available, agent.reason = False, unavailable
        self.free.refresh(agent)
        placed = self._place(offer.interaction, now)
        if placed is None:
            self._enqueue(offer.interaction, now)
            return []
        return [placed]

    def requeue(self, interaction: Interaction, now: float) -> None:
        """Wait again after a restart, with the original arrival time; no cap, no placing yet."""
        self._enqueue(interaction, now)

    def readmit(self, interaction: Interaction, now: float) -> Offer | None:
        """A contact moved to another queue (a transfer): offered at once to a free eligible
        agent there, else it waits with its original arrival time; no cap, it was admitted."""
        offer = self._place(interaction, now)
        if offer is None:
            self._enqueue(interaction, now)
        return offer

    def cancel(self, offer: Offer, now: float) -> list[Offer]:
        """Drop an offer whose interaction went elsewhere (moved to another agent); the agent's
        capacity returns and is filled again."""
        self._current(offer)
        del self.offers[offer.interaction.id]
        agent = self.agents[offer.agent_id]
        self._release(agent, offer.interaction.channel)
        self.free.refresh(agent)
        return self.on_agent_free(agent.config.id, now)

    def restore_offer(self, interaction: Interaction, agent_id: int, queue: str, level: int,
                      offered_at: float) -> Offer:
        """Put back an offer that was ringing when the previous router stopped."""
        agent = self.agents[agent_id]
        agent.load[interaction.channel] = agent.load.get(interaction.channel, 0) + 1
        self.free.refresh(agent)
        offer = Offer(interaction, agent_id, queue, level, offered_at)
        self.offers[interaction.id] = offer
        return offer

    def assign(self, interaction: Interaction, agent_id: int, now: float, *, answered: bool = True) -> None:
        """Record work an agent holds that routing did not offer (picked from the list, moved
        to them by a supervisor, or held before a restart). ``answered`` counts it for the
        service level like an accepted offer."""
        self.waiting.remove(interaction.id)
        self.waiting.forget(interaction.id)
        agent = self.agents[agent_id]
        agent.load[interaction.channel] = agent.load.get(interaction.channel, 0) + 1
        self.active[interaction.id] = (agent_id, interaction, now)
        if answered:
            self._answered(agent, interaction, now)
        self.free.refresh(agent)

    def pick_next(self, agent_id: int, now: float) -> Offer | None:
        """The agent asks for the next contact (manual answer): the one they would be offered
        if they were available now, whatever their state."""
        agent = self.agents[agent_id]
        pick = self._pick_for(agent, now)
        if pick is None:
            return None
        interaction, queue, level = pick
        return self._offer(interaction, agent, queue, level, now)

    def finish(self, agent_id: int, interaction_id: int, now: float) -> list[Offer]:
        """The agent is done with the interaction: capacity returns and is filled again."""
        owner, interaction, accepted_at = self.active.pop(interaction_id)
        if owner != agent_id:
            raise KeyError(f"interaction {interaction_id} is not with agent {agent_id}")
        agent = self.agents[agent_id]
        agent.talk_time += now - accepted_at
        agent.idle_since = now
        self._release(agent, interaction.channel)
        self.free.refresh(agent)
        return self.on_agent_free(agent_id, now)

    def _release(self, agent: AgentRuntime, channel: str) -> None:
        agent.load[channel] -= 1
        if not agent.load[channel]:
            del agent.load[channel]

    def abandon(self, interaction_id: int, now: float) -> list[Offer]:
        """The customer left while waiting or ringing; counts against the service level."""
        offer = self.offers.pop(interaction_id, None)
        interaction = offer.interaction if offer else self.waiting.remove(interaction_id)
        if interaction is None:
            return []
        self.waiting.forget(interaction_id)
        self._service(interaction.queue, interaction.tier).record(now, False)
        if offer is None:
            return []
        agent = self.agents[offer.agent_id]
        self._release(agent, interaction.channel)
        self.free.refresh(agent)
        return self.on_agent_free(agent.config.id, now)

    # -- reading ------------------------------------------------------------------------------

    def service_levels(self) -> dict[tuple[str, str], ServiceLevel]:
        """Every (queue, tier) service-level window seen so far."""
        return self._sl

    def service_level(self, queue: str, tier: str, now: float) -> float:
        """The actual service level of (queue, tier) over the window ending at ``now``."""
        return self._service(queue, tier).level(now)

    def free_agent(self, queue: str, channel: str) -> int | None:
        """The agent a new ``channel`` contact of ``queue`` would be offered to now (the best
        skill level's first free agent by the queue's strategy), or None; nothing is offered."""
        config = self.queues.get(queue)
        if config is None:
            return None
        for level in self._levels[queue]:
            agent_id = self.free.best(queue, level, config.required(0.0), channel)
            if agent_id is not None:
                return agent_id
        return None

    def snapshot(self, now: float) -> dict[str, Any]:
        """Plain data of everything routing holds, for persistence, a wallboard or a restart."""
        return snapshot(self, now)
