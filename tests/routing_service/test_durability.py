"""A restart, or a standby taking over, loses no waiting contact and no ringing offer."""

from __future__ import annotations

import asyncio
from typing import Any

from hub.inbox import close
from hub.models import Agent, RoutingOffer
from hub.routing import actions
from hub.routing.states import AgentState as S
from tests.routing_service.conftest import Centre, MakeCentre


async def test_a_new_router_reenqueues_waiting_contacts_with_their_original_arrival(
    make_centre: MakeCentre, database_url: str, make_hub: Any,
) -> None:
    first = await make_centre()
    await first.agent("default")
    await first.reload()
    waiting = [await first.contact() for _ in range(3)]
    await first.settled()
    arrived = {i: (await first.interaction(i)).queued_at for i in waiting}
    await first.core.stop()

    second = await make_centre()
    router = second.core.routing.router
    assert router is not None
    assert set(router.waiting.items) == set(waiting)
    for interaction_id, (item, _epoch) in router.waiting.items.items():
        queued_at = arrived[interaction_id]
        assert queued_at is not None and abs(item.arrived_at - queued_at.timestamp()) < 0.001


async def test_a_ringing_offer_survives_a_restart_and_still_times_out(make_centre: MakeCentre) -> None:
    first = await make_centre()
    await first.queue("default", offer_timeout_seconds=2)
    alice = await first.idle_agent("default")
    interaction = await first.contact()
    await first.settled()
    assert await first.offer_of(interaction) == alice
    await first.core.stop()

    second = await make_centre()
    router = second.core.routing.router
    assert router is not None
    assert router.offers[interaction].agent_id == alice
    assert await second.offer_of(interaction) == alice
    await asyncio.sleep(2.2)
    await second.settled()
    assert await second.offer_of(interaction) is None
    assert (await second.core.states.current(alice)).reason == "missed_offer"
    assert interaction in router.waiting.items


async def test_an_agent_left_offered_without_an_offer_is_made_idle_on_restart(centre: Centre) -> None:
    alice = await centre.idle_agent("default")
    interaction = await centre.contact()
    await centre.settled()
    async with centre.core.sessions.begin() as s:
        row = await s.get(RoutingOffer, interaction)
        await s.delete(row)
    await centre.reload()
    assert await centre.state(alice) in (S.IDLE, S.OFFERED)
    assert await centre.offer_of(interaction) == alice, "idle again, the contact rings once more"


async def test_a_new_router_remembers_todays_figures_and_service_levels(make_centre: MakeCentre) -> None:
    first = await make_centre()
    alice = await first.idle_agent("default")
    answered = await first.contact(tier="gold")
    await first.settled()
    async with first.core.sessions() as s:
        agent = await s.get(Agent, alice)
    assert agent is not None
    await actions.accept_offer(first.core, agent, answered)
    await first.core.states.change(alice, S.BUSY, reason="break", by=alice)
    await first.settled()
    abandoned = await first.contact(tier="gold")
    await first.settled()
    await close(first.core, agent, answered, "consult")
    sam = await first.agent(role="supervisor")
    async with first.core.sessions() as s:
        supervisor = await s.get(Agent, sam)
    assert supervisor is not None
    await close(first.core, supervisor, abandoned, "consult")
    await first.settled()
    await first.core.stop()

    second = await make_centre()
    await second.core.routing.publish_board()
    default = next(q for q in second.core.routing.board["queues"] if q["queue"] == "default")
    gold = next(t for t in default["tiers"] if t["tier"] == "gold")
    assert (gold["answered"], gold["abandoned"]) == (1, 1)
    assert gold["service_level"] == 0.5, "one answered in target, one abandoned"
