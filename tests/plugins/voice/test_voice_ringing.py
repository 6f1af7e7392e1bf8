"""A call waiting in a queue is offered to an agent by ringing their phone: an answer puts the
caller through to them, no answer passes the call to the next agent and sets this one busy."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from freeswitch_double import FreeSwitchDouble
from voice_support import VoiceHub, answer_menu, arrive, hub_with_flow, interactions, until

from hub.core import HubCore
from hub.db import transaction
from hub.models import Agent, AgentSkill, Queue, QueueRules
from hub.routing.config import CONFIG_TOPIC
from hub.routing.states import AgentState
from hub.routing.topics import TOPIC as ROUTING
from plugins.voice.channel import VoiceChannel


async def staffed(core: HubCore, number: str) -> int:
    """A billing agent with agent number ``number``, idle and known to the router."""
    async with transaction(core.sessions) as s:
        s.add(Queue(name="billing", title="Billing"))
        s.add(QueueRules(queue="billing", offer_timeout_seconds=2))  # rings for 2 s
        agent = Agent(number=number, name=f"Agent {number}", password_hash="")
        s.add(agent)
        await s.flush()
        s.add(AgentSkill(agent_id=agent.id, queue="billing", level=1, proficiency=3))
        agent_id = int(agent.id or 0)
    for _ in range(100):
        if core.routing.router is not None:
            break
        await asyncio.sleep(0.02)
    await core.bus.publish(CONFIG_TOPIC, {"event": "routing-config", "what": "test"})
    await core.routing.settled()
    await core.states.change(agent_id, AgentState.IDLE, by=agent_id)
    await core.routing.settled()
    return agent_id


async def waiting_call(voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble, *,
                       auto_answer: bool = False, **endpoint: Any) -> tuple[VoiceChannel, int, Any]:
    channel = await hub_with_flow(voice_hub, tmp_path, switch, routing=True, auto_answer=auto_answer)
    number = str(1000 + uuid.uuid4().int % 1000)
    switch.endpoint(f"user/{number}", **endpoint)
    agent_id = await staffed(channel.hub._core, number)
    call = await arrive(switch, channel)
    await answer_menu(call, "1")
    return channel, agent_id, call


async def test_the_agent_who_answers_is_put_through_and_takes_the_call(
    voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble,
) -> None:
    channel, agent_id, call = await waiting_call(voice_hub, tmp_path, switch, answers=True, answer_after=0.1)
    core = channel.hub._core

    async def assigned() -> Any:
        rows = await interactions(core)
        return rows and rows[0][0].agent_id == agent_id and rows[0][0]

    interaction = await until(assigned)
    assert interaction and interaction.status == "assigned"

    async def bridged() -> bool:
        leg = channel.calls.get(call.uuid)
        return leg is not None and leg.bridged_to is not None

    assert await until(bridged), "the caller is talking to the agent's phone"
    assert (await core.states.current(agent_id)).state == AgentState.ACTIVE
    originate = [line for _, line in switch.commands if "originate" in line]
    assert originate and all(line.startswith("bgapi originate") for line in originate)
    call.hangup()
    await call.ended()


async def test_an_agent_who_does_not_answer_is_set_busy_and_the_call_waits_on(
    voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble,
) -> None:
    channel, agent_id, call = await waiting_call(voice_hub, tmp_path, switch, answers=False)
    core = channel.hub._core

    async def busy() -> bool:
        return (await core.states.current(agent_id)).state == AgentState.BUSY

    assert await until(busy, seconds=6), "no answer: the agent is set busy"
    [(interaction, _)] = await interactions(core)
    assert interaction.agent_id is None and interaction.closed_at is None, "the caller still waits"
    call.hangup()
    await call.ended()


async def test_the_phone_stops_ringing_as_soon_as_the_caller_hangs_up(
    voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble,
) -> None:
    channel, _, call = await waiting_call(voice_hub, tmp_path, switch, answers=False)
    offers: list[dict[str, Any]] = []

    async def heard(_topic: str, payload: dict[str, Any]) -> None:
        offers.append(payload)

    channel.hub._core.bus.subscribe(ROUTING, heard)

    async def ringing() -> str | None:
        return next(iter(channel._ringing.values()), None)

    leg = await until(ringing)
    assert leg and switch.call(leg) is not None, "the agent's phone rings"
    call.hangup()

    async def silent() -> bool:
        return switch.call(leg) is None

    assert await until(silent), "the phone stops"
    assert f"api uuid_kill {leg} ORIGINATOR_CANCEL" in [line for _, line in switch.commands]
    # Stopped because the caller left, not at the end of its 2 s ring time (nor by the switch).
    assert [(o["kind"], o.get("reason")) for o in offers if o["kind"] != "offered"] == [
        ("withdrawn", "customer_left")]


async def test_phones_answer_by_themselves_when_the_centre_says_so(
    voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble,
) -> None:
    _, _, call = await waiting_call(voice_hub, tmp_path, switch, answers=True, answer_after=0.05,
                                    auto_answer=True)

    async def rung() -> list[str]:
        return [line for _, line in switch.commands if "originate" in line]

    [originate] = await until(rung)
    assert "sip_auto_answer=true" in originate
    call.hangup()


@pytest.mark.parametrize("centre", [False, True])
async def test_an_agent_an_admin_set_apart_from_the_centre_rings_their_own_way(
    voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble, centre: bool,
) -> None:
    channel = await hub_with_flow(voice_hub, tmp_path, switch, routing=True, auto_answer=centre)
    number = str(1000 + uuid.uuid4().int % 1000)
    switch.endpoint(f"user/{number}", answers=True, answer_after=0.05)
    agent_id = await staffed(channel.hub._core, number)
    await channel.phones.choose(agent_id, not centre)
    call = await arrive(switch, channel)
    await answer_menu(call, "1")

    async def rung() -> list[str]:
        return [line for _, line in switch.commands if "originate" in line]

    [originate] = await until(rung)
    assert ("sip_auto_answer=true" in originate) is (not centre)
    call.hangup()


async def test_accepting_the_offer_on_screen_answers_the_phone_and_puts_the_caller_through(
    voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble,
) -> None:
    from hub.routing.actions import accept_offer

    channel, agent_id, call = await waiting_call(voice_hub, tmp_path, switch, answers=False)
    core = channel.hub._core

    async def ringing() -> str | None:
        return next(iter(channel._ringing.values()), None)

    leg = await until(ringing)
    assert leg, "the agent's phone rings"
    async with core.sessions() as s:
        agent = await s.get(Agent, agent_id)
    [(interaction, _)] = await interactions(core)
    await accept_offer(core, agent, interaction.id)  # the agent presses Accept in the inbox

    async def bridged() -> bool:
        caller = channel.calls.get(call.uuid)
        return caller is not None and caller.bridged_to == leg

    assert await until(bridged, seconds=3), "the phone went off-hook and the caller is put through"
    assert f"api uuid_phone_event {leg} talk" in [line for _, line in switch.commands]
    call.hangup()
