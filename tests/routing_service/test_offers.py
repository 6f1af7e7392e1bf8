"""Offers: a contact rings at one agent at a time; answered, declined, let ring, withdrawn."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hub.errors import InvalidRequest
from hub.inbox import close
from hub.models import Agent
from hub.routing import actions
from hub.routing.states import AgentState as S
from tests.routing_service.conftest import Centre


async def agent_row(centre: Centre, agent_id: int) -> Agent:
    async with centre.core.sessions() as s:
        row = await s.get(Agent, agent_id)
    assert row is not None
    return row


async def test_a_contact_rings_at_an_idle_agent_of_its_queue(centre: Centre) -> None:
    alice = await centre.idle_agent("default")
    interaction = await centre.contact()
    await centre.settled()
    assert await centre.offer_of(interaction) == alice
    assert await centre.state(alice) == S.OFFERED


async def test_with_nobody_idle_the_contact_waits_and_rings_at_the_first_idle_agent(centre: Centre) -> None:
    alice = await centre.agent("default")
    await centre.reload()
    interaction = await centre.contact()
    await centre.settled()
    assert await centre.offer_of(interaction) is None
    await centre.ready(alice)
    await centre.settled()
    assert await centre.offer_of(interaction) == alice


async def test_accepting_makes_the_interaction_the_agents_and_the_agent_active(centre: Centre) -> None:
    alice = await centre.idle_agent("default")
    interaction = await centre.contact()
    await centre.settled()
    await actions.accept_offer(centre.core, await agent_row(centre, alice), interaction)
    await centre.settled()
    row = await centre.interaction(interaction)
    assert (row.status, row.agent_id) == ("assigned", alice)
    assert await centre.state(alice) == S.ACTIVE
    assert await centre.offer_of(interaction) is None
    assert centre.core.routing.router is not None
    assert interaction in centre.core.routing.router.active


async def test_an_offer_let_ring_goes_to_the_next_agent_and_the_first_is_set_busy(centre: Centre) -> None:
    await centre.queue("default", offer_timeout_seconds=1)
    alice = await centre.idle_agent("default")
    bob = await centre.idle_agent("default")
    interaction = await centre.contact()
    await centre.settled()
    first = await centre.offer_of(interaction)
    assert first in (alice, bob)
    second = bob if first == alice else alice
    await asyncio.sleep(1.2)
    await centre.settled()
    assert await centre.offer_of(interaction) == second
    current = await centre.core.states.current(first or 0)
    assert (current.state, current.reason) == (S.BUSY, "missed_offer")


async def test_declining_counts_as_a_miss_and_passes_the_contact_on(centre: Centre) -> None:
    alice = await centre.agent("default")
    bob = await centre.agent("default")
    await centre.reload()
    await centre.ready(alice)
    interaction = await centre.contact()
    await centre.settled()
    assert await centre.offer_of(interaction) == alice
    await centre.ready(bob)
    await actions.decline_offer(centre.core, await agent_row(centre, alice), interaction)
    await centre.settled()
    assert await centre.offer_of(interaction) == bob
    assert await centre.state(alice) == S.BUSY


async def test_an_answer_after_the_offer_moved_on_is_refused(centre: Centre) -> None:
    alice = await centre.idle_agent("default")
    interaction = await centre.contact()
    await centre.settled()
    await actions.decline_offer(centre.core, await agent_row(centre, alice), interaction)
    with pytest.raises(InvalidRequest) as refused:
        await actions.accept_offer(centre.core, await agent_row(centre, alice), interaction)
    assert refused.value.error_id == "offer_gone"


async def test_going_busy_withdraws_a_ringing_offer_and_busy_agents_get_none(centre: Centre) -> None:
    alice = await centre.idle_agent("default")
    interaction = await centre.contact()
    await centre.settled()
    assert await centre.offer_of(interaction) == alice
    await centre.core.states.change(alice, S.BUSY, reason="break", by=alice)
    await centre.settled()
    assert await centre.offer_of(interaction) is None
    await centre.contact()
    await centre.settled()
    assert centre.core.routing.router is not None
    assert not centre.core.routing.router.offers


async def test_the_customer_leaving_withdraws_the_offer_and_the_agent_is_idle_again(centre: Centre) -> None:
    alice = await centre.agent("default")
    sam = await centre.agent(role="supervisor")
    await centre.reload()
    await centre.ready(alice)
    heard: list[dict[str, Any]] = []

    async def listener(_topic: str, payload: dict[str, Any]) -> None:
        heard.append(payload)

    centre.core.bus.subscribe(f"agent:{alice}", listener)
    interaction = await centre.contact()
    await centre.settled()
    await close(centre.core, await agent_row(centre, sam), interaction, "consult")
    await centre.settled()
    assert await centre.offer_of(interaction) is None
    assert await centre.state(alice) == S.IDLE
    assert [(f["kind"], f["reason"]) for f in heard if f["type"] == "offer"] == [
        ("offered", ""), ("withdrawn", "customer_left")]


async def test_closing_the_last_contact_wraps_up_then_idle_then_the_next_offer(centre: Centre) -> None:
    alice = await centre.idle_agent("default")
    agent = await agent_row(centre, alice)
    first = await centre.contact()
    await centre.settled()
    await actions.accept_offer(centre.core, agent, first)
    await centre.settled()
    second = await centre.contact(channel="voice")
    await centre.settled()
    assert await centre.offer_of(second) is None, "voice is exclusive: not beside a chat"
    await close(centre.core, agent, first, "consult")
    await centre.settled()
    assert await centre.state(alice) == S.WRAP_UP
    assert await centre.offer_of(second) is None, "no offer during wrap-up"
    await asyncio.sleep(0.35)
    await centre.settled()
    assert await centre.offer_of(second) == alice


async def test_chat_capacity_lets_an_agent_hold_three_chats_at_once(centre: Centre) -> None:
    alice = await centre.idle_agent("default")
    chats = [await centre.contact() for _ in range(4)]
    await centre.settled()
    offered = [await centre.offer_of(i) for i in chats]
    assert offered.count(alice) == 3 and offered.count(None) == 1


async def test_supervisors_hear_when_an_agent_misses_offers_again_and_again(make_centre: Any) -> None:
    centre = await make_centre(missed_offer_alert=2)
    alerts: list[dict[str, Any]] = []

    async def listener(_topic: str, payload: dict[str, Any]) -> None:
        alerts.append(payload)

    centre.core.bus.subscribe("supervisors", listener)
    alice = await centre.agent("default")
    await centre.reload()
    agent = await agent_row(centre, alice)
    await centre.contact()
    for _ in range(4):
        await centre.ready(alice)
        ringing = await actions.pending_offers(centre.core, agent)
        await actions.decline_offer(centre.core, agent, ringing[0]["interaction_id"])
        await centre.settled()
    assert [(a["kind"], a["agent_id"], a["count"]) for a in alerts] == [
        ("missed_offers", alice, 2), ("missed_offers", alice, 4)]


async def test_a_supervisor_moving_an_agents_contact_to_another_queue_frees_the_agent(centre: Centre) -> None:
    await centre.queue("billing")
    alice = await centre.idle_agent("default")
    bob = await centre.agent("billing")
    sam = await centre.agent(role="supervisor")
    await centre.reload()
    await centre.ready(bob)
    await centre.core.states.change(bob, S.BUSY, reason="break", by=bob)
    interaction = await centre.contact()
    await centre.settled()
    await actions.accept_offer(centre.core, await agent_row(centre, alice), interaction)
    await centre.settled()
    arrived = (await centre.interaction(interaction)).queued_at

    await actions.move_interaction(centre.core, await agent_row(centre, sam), interaction, queue="billing")
    await centre.settled()
    assert await centre.state(alice) == S.IDLE
    row = await centre.interaction(interaction)
    assert (row.status, row.queue, row.agent_id, row.queued_at) == ("queued", "billing", None, arrived)
    await centre.core.states.change(bob, S.IDLE, by=bob)
    await centre.settled()
    assert await centre.offer_of(interaction) == bob
