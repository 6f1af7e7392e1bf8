"""Click-to-call: the agent calls a customer from the panel; their own phone rings first,
then the customer's, and the answer puts them through: a call like any other, recorded as
outbound. A customer who does not answer ends the attempt with the cause on the record."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from freeswitch_double import FreeSwitchDouble
from test_voice_ringing import staffed
from voice_support import VoiceHub, hub_with_flow, until

from hub.db import transaction
from hub.errors import ChannelError
from hub.models import Customer, Interaction
from hub.routing.states import AgentState
from plugins.voice.channel import VoiceChannel
from plugins.voice.dialing import RINGBACK


async def placing(voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble,
                  **customer_phone: Any) -> tuple[VoiceChannel, int, int]:
    channel = await hub_with_flow(voice_hub, tmp_path, switch, routing=True,
                                  outside_endpoint="sofia/gateway/gw1/{number}")
    number = str(1000 + uuid.uuid4().int % 1000)
    switch.endpoint(f"user/{number}", answer_after=0.05)
    switch.endpoint("sofia/gateway/gw1/", **{"answer_after": 0.2, **customer_phone})
    agent_id = await staffed(channel.hub._core, number)
    async with transaction(channel.hub._core.sessions) as s:
        customer = Customer(name="Li Mei")
        s.add(customer)
        await s.flush()
        customer_id = int(customer.id or 0)
    return channel, agent_id, customer_id


async def test_the_agent_calls_the_customer_and_they_talk(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    channel, agent_id, customer_id = await placing(voice_hub, tmp_path, switch)
    core = channel.hub._core

    interaction_id = await channel.initiate(customer_id, agent_id, "+86 138-0013-8000")

    async with core.sessions() as s:
        row = await s.get(Interaction, interaction_id)
    assert row is not None
    assert (row.agent_id, row.status, row.customer_id) == (agent_id, "assigned", customer_id)
    assert (await core.states.current(agent_id)).state == AgentState.ACTIVE
    live = channel.live_calls.get(interaction_id)
    assert live is not None

    async def talking() -> bool:
        return live.state == "talking"

    assert await until(talking), "the customer answered and is put through"
    agent, customer = switch.call(live.agents[0].uuid), switch.call(live.customer)
    assert agent is not None and customer is not None
    assert customer.uuid in agent.leg.hears and agent.uuid in customer.leg.hears
    dialled = [line for _, line in switch.commands if "sofia/gateway/gw1/" in line]
    assert dialled and dialled[0].endswith("sofia/gateway/gw1/+8613800138000 &park()")
    assert f"api uuid_broadcast {agent.uuid} {RINGBACK} aleg" in [line for _, line in switch.commands], \
        "the agent heard the ringback meanwhile"

    customer.hangup()

    async def recorded() -> dict:  # type: ignore[type-arg]
        async with core.sessions() as s:
            found = await s.get(Interaction, interaction_id)
        return found.record if found is not None else {}

    record = await until(recorded)
    assert (record["direction"], record["hangup_side"]) == ("outbound", "customer")
    assert record["talk_seconds"] >= 0


async def test_a_customer_who_does_not_answer_ends_the_attempt_on_the_record(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    channel, agent_id, customer_id = await placing(voice_hub, tmp_path, switch, reject="USER_BUSY")
    core = channel.hub._core

    interaction_id = await channel.initiate(customer_id, agent_id, "13800138000")

    async def recorded() -> dict:  # type: ignore[type-arg]
        async with core.sessions() as s:
            found = await s.get(Interaction, interaction_id)
        return found.record if found is not None else {}

    record = await until(recorded)
    assert (record["hangup_side"], record["hangup_cause"]) == ("customer", "USER_BUSY")
    assert channel.live_calls.get(interaction_id) is None


async def test_only_a_phone_number_is_called(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    channel, agent_id, customer_id = await placing(voice_hub, tmp_path, switch)

    with pytest.raises(ChannelError, match="not a phone number"):
        await channel.initiate(customer_id, agent_id, "mei@example.cn")
