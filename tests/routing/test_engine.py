"""The ACD decision core, read as the routing specification."""

import random

import pytest

from hub.routing.engine import Router
from hub.routing.model import (
    MISSED_OFFER,
    AgentConfig,
    Capacity,
    Interaction,
    Membership,
    Offer,
    Overflow,
    QueueConfig,
    Queued,
    Refused,
    RelaxStep,
    ServiceTarget,
    Strategy,
)
from hub.routing.places import place_in_queue

VOICE_ONLY = Capacity(limits={"voice": 1})


def router_with(*agents: AgentConfig, **queue: object) -> Router:
    router = Router([QueueConfig("sales", **queue), QueueConfig("vip")])  # type: ignore[arg-type]
    for agent in agents:
        router.add_agent(agent)
        router.set_available(agent.id, True, 0.0)
    return router


def agent(agent_id: int, level: int = 1, proficiency: int = 3, order: int = 0,
          capacity: Capacity = VOICE_ONLY, queue: str = "sales") -> AgentConfig:
    return AgentConfig(agent_id, (Membership(queue, level, proficiency),), capacity, order)


def call(ix_id: int, at: float = 0.0, tier: str = "ordinary", **extra: object) -> Interaction:
    return Interaction(ix_id, "sales", at, tier=tier, **extra)  # type: ignore[arg-type]


def test_first_level_agents_take_an_interaction_before_second_level():
    router = router_with(agent(1, level=2), agent(2, level=1))
    offer = router.on_arrival(call(1), 1.0)
    assert isinstance(offer, Offer) and offer.agent_id == 2 and offer.level == 1


def test_second_level_takes_it_when_every_first_level_agent_is_busy():
    router = router_with(agent(1, level=2), agent(2, level=1))
    router.on_arrival(call(1), 1.0)
    second = router.on_arrival(call(2), 2.0)
    assert isinstance(second, Offer) and second.agent_id == 1


def test_interaction_waits_when_no_agent_is_free():
    router = router_with()
    assert router.on_arrival(call(1), 0.0) == Queued(call(1))


def test_blacklisted_is_never_offered_to_a_human():
    router = router_with(agent(1))
    decision = router.on_arrival(call(1, blacklisted=True), 0.0)
    assert decision == Refused(call(1, blacklisted=True), "blacklisted")
    assert router.snapshot(0.0)["waiting"] == []


def test_unknown_queue_is_refused():
    router = router_with(agent(1))
    stray = Interaction(1, "nowhere", 0.0)
    assert router.on_arrival(stray, 0.0) == Refused(stray, "unknown queue")


def test_waiting_cap_refuses_beyond_it():
    router = router_with(max_waiting=1)
    assert isinstance(router.on_arrival(call(1), 0.0), Queued)
    assert router.on_arrival(call(2), 0.0) == Refused(call(2), "queue full")


def test_proficiency_relaxes_as_the_wait_grows():
    steps = (RelaxStep(30, 2), RelaxStep(90, 1))
    router = router_with(agent(1, proficiency=2), agent(2, proficiency=1), min_proficiency=4, steps=steps)
    assert isinstance(router.on_arrival(call(1), 0.0), Queued)
    assert router.tick(29.0) == []
    [offer] = router.tick(30.0)
    assert offer.agent_id == 1
    assert isinstance(router.on_arrival(call(2, at=31.0), 31.0), Queued)
    assert router.next_due() == 61.0
    assert router.tick(61.0) == []
    assert router.tick(120.0) == []
    [late] = router.tick(121.0)
    assert late.agent_id == 2


def test_overflow_offers_to_another_queue_after_the_wait():
    router = router_with(agent(9, queue="vip"), overflow=(Overflow(60, "vip"),))
    assert isinstance(router.on_arrival(call(1), 0.0), Queued)
    assert router.tick(59.0) == []
    [offer] = router.tick(60.0)
    assert (offer.agent_id, offer.queue) == (9, "vip")


def test_overflowed_interaction_is_taken_by_an_agent_freeing_up_in_the_other_queue():
    router = router_with(overflow=(Overflow(10, "vip"),))
    router.add_agent(agent(9, queue="vip"))
    router.on_arrival(call(1), 0.0)
    router.tick(10.0)
    [offer] = router.set_available(9, True, 11.0)
    assert offer.interaction.id == 1


def test_agent_freeing_up_serves_the_tier_furthest_below_target():
    targets = {"gold": ServiceTarget(0.9, 20), "ordinary": ServiceTarget(0.8, 60)}
    router = router_with(agent(1), targets=targets)
    for ix_id, tier in ((1, "gold"), (2, "ordinary")):  # both answered late: gold 0.0 vs 0.9
        offer = router.on_arrival(call(ix_id, tier=tier), 100.0)
        router.accept(offer, 200.0)  # type: ignore[arg-type]
        router.finish(1, ix_id, 201.0)
    router.set_available(1, False, 202.0, "lunch")
    router.on_arrival(call(3, at=203.0, tier="ordinary"), 203.0)
    router.on_arrival(call(4, at=204.0, tier="gold"), 204.0)
    [offer] = router.set_available(1, True, 205.0)
    assert offer.interaction.id == 4


def test_within_a_tier_the_longest_waiting_goes_first():
    router = router_with(agent(1))
    router.set_available(1, False, 0.0, "break")
    for ix_id in (5, 3, 4):
        router.on_arrival(call(ix_id, at=float(ix_id)), 6.0)
    [offer] = router.set_available(1, True, 7.0)
    assert offer.interaction.id == 3


def test_vip_is_served_before_its_queue():
    router = router_with(agent(1))
    router.set_available(1, False, 0.0, "break")
    router.on_arrival(call(1, at=0.0), 0.0)
    router.on_arrival(call(2, at=5.0, vip=True), 5.0)
    [offer] = router.set_available(1, True, 6.0)
    assert offer.interaction.id == 2


def test_missed_offer_returns_the_interaction_with_its_original_arrival():
    router = router_with(agent(1), agent(2))
    router.set_available(2, False, 0.0, "break")
    offer = router.on_arrival(call(1, at=0.0), 0.0)
    assert isinstance(offer, Offer)
    assert router.timeout(offer, 15.0) == []
    state = router.agents[1]
    assert (state.available, state.reason, state.missed_offers) == (False, MISSED_OFFER, 1)
    assert router.snapshot(15.0)["waiting"][0]["arrived_at"] == 0.0
    [again] = router.set_available(2, True, 16.0)
    assert again.interaction.id == 1 and again.agent_id == 2


def test_declined_offer_goes_straight_to_the_next_free_agent():
    router = router_with(agent(1, order=1), agent(2, order=2), strategy=Strategy.TOP_DOWN)
    offer = router.on_arrival(call(1), 0.0)
    [next_offer] = router.decline(offer, 3.0)  # type: ignore[arg-type]
    assert next_offer.agent_id == 2


def test_capacity_per_channel_and_voice_is_exclusive():
    mixed = Capacity(limits={"voice": 1, "chat": 3})
    router = router_with(agent(1, capacity=mixed))
    chats = [router.on_arrival(call(i, channel="chat"), 0.0) for i in range(4)]
    assert [type(c) for c in chats] == [Offer, Offer, Offer, Queued]
    assert isinstance(router.on_arrival(call(9, channel="voice"), 0.0), Queued)


def test_a_call_may_interrupt_chat_work_when_configured():
    mixed = Capacity(limits={"voice": 1, "chat": 3}, interruptible=frozenset({"chat"}))
    router = router_with(agent(1, capacity=mixed))
    router.on_arrival(call(1, channel="chat"), 0.0)
    assert isinstance(router.on_arrival(call(2, channel="voice"), 0.0), Offer)
    assert isinstance(router.on_arrival(call(3, channel="chat"), 0.0), Queued)


def test_finish_releases_capacity_and_serves_the_next():
    router = router_with(agent(1))
    offer = router.on_arrival(call(1), 0.0)
    router.on_arrival(call(2, at=1.0), 1.0)
    router.accept(offer, 2.0)  # type: ignore[arg-type]
    [following] = router.finish(1, 1, 30.0)
    assert following.interaction.id == 2
    assert router.agents[1].talk_time == 28.0 and router.agents[1].contacts_today == 1


def test_service_level_counts_answers_in_target_and_abandons_over_a_sliding_window():
    router = router_with(agent(1), targets={"ordinary": ServiceTarget(0.8, 20)})
    offer = router.on_arrival(call(1), 0.0)
    router.accept(offer, 10.0)  # type: ignore[arg-type]
    router.on_arrival(call(2, at=11.0), 11.0)
    router.abandon(2, 40.0)
    assert router.service_level("sales", "ordinary", 41.0) == 0.5
    assert router.service_level("sales", "ordinary", 1811.0) == 0.0
    assert router.service_level("sales", "ordinary", 1841.0) == 1.0


def test_abandon_while_ringing_frees_the_agent():
    router = router_with(agent(1))
    router.on_arrival(call(1), 0.0)
    router.on_arrival(call(2, at=1.0), 1.0)
    [offer] = router.abandon(1, 2.0)
    assert offer.interaction.id == 2


def test_unavailable_agent_gets_no_offer():
    router = router_with(agent(1))
    router.set_available(1, False, 0.0, "study")
    assert isinstance(router.on_arrival(call(1), 1.0), Queued)


def test_accepting_an_unknown_offer_fails():
    router = router_with(agent(1))
    stale = Offer(call(1), 1, "sales", 1, 0.0)
    with pytest.raises(KeyError):
        router.accept(stale, 1.0)


def test_snapshot_is_plain_data():
    router = router_with(agent(1))
    router.on_arrival(call(1), 0.0)
    router.on_arrival(call(2, at=1.0), 1.0)
    snap = router.snapshot(2.0)
    assert [row["id"] for row in snap["waiting"]] == [2]
    assert snap["offers"][0]["agent_id"] == 1
    assert snap["agents"][1]["load"] == {"voice": 1}


# -- strategies: three free agents, who gets the call --------------------------------------------


def three_agents(strategy: Strategy) -> Router:
    router = Router([QueueConfig("sales", strategy=strategy)], rng=random.Random(7))
    for agent_id, order in ((1, 3), (2, 1), (3, 2)):
        router.add_agent(agent(agent_id, order=order))
    return router


def serve_and_finish(router: Router, agent_id: int, ix_id: int, talk: float, at: float) -> None:
    router.set_available(agent_id, True, at)
    offer = router.on_arrival(call(ix_id, at=at), at)
    assert isinstance(offer, Offer) and offer.agent_id == agent_id
    router.accept(offer, at)
    router.finish(agent_id, ix_id, at + talk)
    router.set_available(agent_id, False, at + talk, "break")


def test_longest_idle_agent():
    router = three_agents(Strategy.LONGEST_IDLE)
    for agent_id, at in ((1, 5.0), (2, 1.0), (3, 3.0)):
        router.set_available(agent_id, True, at)
    assert router.on_arrival(call(1, at=9.0), 9.0).agent_id == 2  # type: ignore[union-attr]


def test_least_talk_time():
    router = three_agents(Strategy.LEAST_TALK_TIME)
    for ix_id, (agent_id, talk) in enumerate(((1, 50.0), (2, 90.0), (3, 20.0))):
        serve_and_finish(router, agent_id, ix_id, talk, 0.0)
    for agent_id in (1, 2, 3):
        router.set_available(agent_id, True, 100.0)
    assert router.on_arrival(call(9, at=101.0), 101.0).agent_id == 3  # type: ignore[union-attr]


def test_fewest_contacts_today():
    router = three_agents(Strategy.FEWEST_CONTACTS)
    for ix_id, agent_id in enumerate((1, 1, 2, 3, 3)):
        serve_and_finish(router, agent_id, ix_id, 1.0, float(ix_id * 10))
    for agent_id in (1, 2, 3):
        router.set_available(agent_id, True, 100.0)
    assert router.on_arrival(call(9, at=101.0), 101.0).agent_id == 2  # type: ignore[union-attr]


def test_top_down_by_agent_order():
    router = three_agents(Strategy.TOP_DOWN)
    for agent_id in (1, 2, 3):
        router.set_available(agent_id, True, 0.0)
    picks = [router.on_arrival(call(i), 1.0).agent_id for i in range(3)]  # type: ignore[union-attr]
    assert picks == [2, 3, 1]


def test_round_robin_continues_after_the_last_agent():
    router = three_agents(Strategy.ROUND_ROBIN)
    for agent_id in (1, 2, 3):
        router.set_available(agent_id, True, 0.0)
    picks = []
    for ix_id in range(6):
        offer = router.on_arrival(call(ix_id), float(ix_id))
        assert isinstance(offer, Offer)
        picks.append(offer.agent_id)
        router.accept(offer, float(ix_id))
        router.finish(offer.agent_id, ix_id, float(ix_id))
    assert picks == [2, 3, 1, 2, 3, 1]


def test_random_spreads_over_the_free_agents():
    router = three_agents(Strategy.RANDOM)
    for agent_id in (1, 2, 3):
        router.set_available(agent_id, True, 0.0)
    picks = set()
    for ix_id in range(30):
        offer = router.on_arrival(call(ix_id), float(ix_id))
        assert isinstance(offer, Offer)
        picks.add(offer.agent_id)
        router.accept(offer, float(ix_id))
        router.finish(offer.agent_id, ix_id, float(ix_id))
    assert picks == {1, 2, 3}


def test_a_strategy_can_be_added_as_data():
    most_talk = {"most_talk": lambda state, queue, rng: -state.talk_time}
    router = Router([QueueConfig("sales", strategy="most_talk")], strategies=most_talk)
    for agent_id in (1, 2):
        router.add_agent(agent(agent_id))
    serve_and_finish(router, 2, 1, 60.0, 0.0)
    for agent_id in (1, 2):
        router.set_available(agent_id, True, 100.0)
    assert router.on_arrival(call(9, at=101.0), 101.0).agent_id == 2  # type: ignore[union-attr]


def test_an_unknown_strategy_stops_start_up():
    with pytest.raises(ValueError, match="unknown routing strategy: fastest"):
        Router([QueueConfig("sales", strategy="fastest")])


def test_a_waiting_contact_is_told_the_place_it_is_served_in():
    targets = {"gold": ServiceTarget(0.9, 20), "ordinary": ServiceTarget(0.8, 60)}
    router = router_with(agent(1), targets=targets)
    router.set_available(1, False, 0.0, "break")
    arrivals = [(1, "ordinary", False), (2, "gold", False), (3, "ordinary", True),
                (4, "gold", False), (5, "ordinary", False)]
    for ix_id, tier, vip in arrivals:
        router.on_arrival(call(ix_id, at=float(ix_id), tier=tier, vip=vip), float(ix_id))
    assert [place_in_queue(router, ix_id, 10.0) for ix_id in range(1, 6)] == [4, 2, 1, 3, 5]
    served, now = [], 10.0
    offers = router.set_available(1, True, now)
    while offers:
        [offer] = offers
        served.append(offer.interaction.id)
        assert place_in_queue(router, offer.interaction.id, now) is None  # no longer waiting
        router.accept(offer, now + 1)
        now += 30  # answered after 31 s: late for gold, in time for ordinary
        waiting = {ix_id: place_in_queue(router, ix_id, now) for ix_id in range(1, 6) if ix_id not in served}
        offers = router.finish(1, offer.interaction.id, now)
        if offers:
            assert waiting[offers[0].interaction.id] == 1  # the one told "next" is served next
    assert served == [3, 2, 4, 1, 5]


def test_a_waiting_contacts_place_counts_only_its_channel_in_its_queue():
    router = router_with()
    router.on_arrival(call(1, at=1.0, channel="web"), 1.0)
    router.on_arrival(call(2, at=2.0), 2.0)
    router.on_arrival(Interaction(3, "vip", 0.0), 2.0)
    assert place_in_queue(router, 2, 3.0) == 1
    assert place_in_queue(router, 99, 3.0) is None


def test_the_agent_to_consult_in_a_queue_is_the_one_routing_would_choose():
    router = router_with(agent(1, level=2), agent(2, level=1), agent(3, queue="vip"))
    assert router.free_agent("sales", "voice") == 2
    router.on_arrival(call(1), 1.0)  # agent 2 takes a call
    assert router.free_agent("sales", "voice") == 1
    router.set_available(1, False, 2.0, "break")
    assert router.free_agent("sales", "voice") is None
    assert router.free_agent("nowhere", "voice") is None
    assert router.waiting.items == {} and set(router.offers) == {1}  # asking offers nothing
