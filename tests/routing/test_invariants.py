"""Property tests: the routing invariants hold after every event of any sequence of events."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from hub.routing.engine import Router
from hub.routing.model import (
    AgentConfig,
    Capacity,
    Interaction,
    Membership,
    Offer,
    Overflow,
    QueueConfig,
    RelaxStep,
    ServiceTarget,
    Strategy,
)

QUEUES = [
    QueueConfig("a", Strategy.LONGEST_IDLE, min_proficiency=4, steps=(RelaxStep(10, 2), RelaxStep(30, 1)),
                overflow=(Overflow(20, "b"),), targets={"gold": ServiceTarget(0.9, 10)}),
    QueueConfig("b", Strategy.ROUND_ROBIN, targets={"ordinary": ServiceTarget(0.5, 30)}),
    QueueConfig("c", Strategy.RANDOM, min_proficiency=3, steps=(RelaxStep(15, 1),)),
]
CONFIG = {queue.name: queue for queue in QUEUES}
MIXED = Capacity(limits={"voice": 1, "chat": 2}, interruptible=frozenset({"chat"}))
AGENTS = [
    AgentConfig(1, (Membership("a", 1, 5), Membership("b", 2, 2)), Capacity(limits={"voice": 1}), 1),
    AgentConfig(2, (Membership("a", 2, 2),), MIXED, 2),
    AgentConfig(3, (Membership("b", 1, 3), Membership("c", 1, 4)), Capacity(limits={"chat": 2}), 3),
    AgentConfig(4, (Membership("c", 2, 1), Membership("a", 1, 1)), MIXED, 4),
    AgentConfig(5, (Membership("b", 1, 1),), Capacity(limits={"voice": 1, "chat": 1}), 5),
]
BY_ID = {agent.id: agent for agent in AGENTS}


def served_through(agent: AgentConfig, ix: Interaction, load: dict[str, int], now: float) -> str | None:
    """Independent eligibility: the queue through which ``agent`` may take ``ix`` now, if any."""
    if not agent.capacity.allows(load, ix.channel):
        return None
    waited = now - ix.arrived_at
    open_queues = {ix.queue} | {rule.queue for rule in CONFIG[ix.queue].overflow if waited >= rule.after}
    for member in agent.memberships:
        if member.queue in open_queues and member.proficiency >= CONFIG[member.queue].required(waited):
            return member.queue
    return None


class RoutingMachine(RuleBasedStateMachine):
    """Random arrivals, availability changes, answers, misses, finishes, abandons and clock ticks."""

    def __init__(self) -> None:
        super().__init__()
        self.router = Router(QUEUES, tiers=("ordinary", "gold"))
        for agent in AGENTS:
            self.router.add_agent(agent)
        self.now = 0
        self.next_id = 0
        self.available = dict.fromkeys(BY_ID, False)
        self.waiting: dict[int, Interaction] = {}
        self.offers: dict[int, Offer] = {}
        self.active: dict[int, tuple[int, Interaction]] = {}

    def load(self, agent_id: int) -> dict[str, int]:
        load: dict[str, int] = {}
        held = [(o.agent_id, o.interaction) for o in self.offers.values()] + list(self.active.values())
        for owner, ix in held:
            if owner == agent_id:
                load[ix.channel] = load.get(ix.channel, 0) + 1
        return load

    def took(self, offers: list[Offer], freed: int | None = None) -> None:
        loads = {offer.agent_id: self.load(offer.agent_id) for offer in offers}
        for offer in offers:
            ix = offer.interaction
            assert self.available[offer.agent_id], "offer to an unavailable agent"
            assert not ix.blacklisted
            assert ix.id not in self.offers and ix.id not in self.active, "offered twice"
            self.waiting.pop(ix.id, None)
            self.offers[ix.id] = offer
        for offer in offers:
            self.check_fifo(offer)
        if freed is not None and offers:
            self.check_tier_first(offers[0], loads[offers[0].agent_id])

    def check_fifo(self, offer: Offer) -> None:
        ix = offer.interaction
        for other in self.waiting.values():
            same = (other.queue, other.tier, other.channel) == (ix.queue, ix.tier, ix.channel)
            assert not (same and other.vip >= ix.vip and other.arrived_at < ix.arrived_at), "not FIFO"

    def check_tier_first(self, offer: Offer, load: dict[str, int]) -> None:
        agent = BY_ID[offer.agent_id]

        def rank(ix: Interaction, queue: str) -> tuple[bool, float]:
            target = CONFIG[queue].target(ix.tier).fraction
            return ix.vip, target - self.router.service_level(queue, ix.tier, self.now)

        chosen = rank(offer.interaction, offer.queue)
        for other in self.waiting.values():
            queue = served_through(agent, other, load, self.now)
            assert queue is None or rank(other, queue) <= chosen, "a tier further below target waited"

    @rule(queue=st.sampled_from("abc"), tier=st.sampled_from(["ordinary", "gold"]),
          channel=st.sampled_from(["voice", "chat"]), vip=st.booleans(),
          blacklisted=st.booleans())
    def arrive(self, queue: str, tier: str, channel: str, vip: bool, blacklisted: bool) -> None:
        self.next_id += 1
        ix = Interaction(self.next_id, queue, float(self.now), tier, channel, vip, blacklisted)
        decision = self.router.on_arrival(ix, float(self.now))
        if isinstance(decision, Offer):
            self.took([decision])
        elif not blacklisted:
            self.waiting[ix.id] = ix
            self.check_fifo_waiting_is_kept()

    def check_fifo_waiting_is_kept(self) -> None:
        waiting_ids = {row["id"] for row in self.router.snapshot(float(self.now))["waiting"]}
        assert waiting_ids == set(self.waiting)

    @rule(agent_id=st.sampled_from(sorted(BY_ID)), available=st.booleans())
    def set_available(self, agent_id: int, available: bool) -> None:
        self.available[agent_id] = available
        offers = self.router.set_available(agent_id, available, float(self.now), "" if available else "busy")
        self.took(offers, freed=agent_id if available else None)

    @precondition(lambda self: self.offers)
    @rule(data=st.data(), answer=st.booleans())
    def respond(self, data: st.DataObject, answer: bool) -> None:
        offer = self.offers.pop(data.draw(st.sampled_from(sorted(self.offers))))
        if answer:
            self.router.accept(offer, float(self.now))
            self.active[offer.interaction.id] = (offer.agent_id, offer.interaction)
            return
        self.available[offer.agent_id] = False
        self.waiting[offer.interaction.id] = offer.interaction
        self.took(self.router.decline(offer, float(self.now)))
        assert self.router.agents[offer.agent_id].reason == "missed offer"

    @precondition(lambda self: self.active)
    @rule(data=st.data())
    def finish(self, data: st.DataObject) -> None:
        ix_id = data.draw(st.sampled_from(sorted(self.active)))
        agent_id, _ = self.active.pop(ix_id)
        self.took(self.router.finish(agent_id, ix_id, float(self.now)), freed=agent_id)

    @precondition(lambda self: self.waiting or self.offers)
    @rule(data=st.data())
    def abandon(self, data: st.DataObject) -> None:
        ix_id = data.draw(st.sampled_from(sorted({*self.waiting, *self.offers})))
        self.waiting.pop(ix_id, None)
        offer = self.offers.pop(ix_id, None)
        self.took(self.router.abandon(ix_id, float(self.now)), freed=offer.agent_id if offer else None)

    @rule(seconds=st.integers(0, 25))
    def advance(self, seconds: int) -> None:
        self.now += seconds
        self.took(self.router.tick(float(self.now)))

    @invariant()
    def no_agent_exceeds_capacity(self) -> None:
        for agent in AGENTS:
            load = self.load(agent.id)
            assert load == self.router.agents[agent.id].load
            assert all(count <= agent.capacity.limits.get(ch, 0) for ch, count in load.items())
            if load.get("voice"):
                assert set(load) - {"voice"} <= agent.capacity.interruptible

    @invariant()
    def nothing_waits_while_an_eligible_agent_is_free(self) -> None:
        for ix in self.waiting.values():
            for agent in AGENTS:
                if self.available[agent.id]:
                    assert served_through(agent, ix, self.load(agent.id), self.now) is None, (ix, agent.id)


RoutingMachine.TestCase.settings = settings(
    max_examples=300, stateful_step_count=60, deadline=None, suppress_health_check=[HealthCheck.too_slow],
)
TestRouting = RoutingMachine.TestCase
