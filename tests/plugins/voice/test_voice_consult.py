"""Consultation: the agent puts the caller on music and talks to a colleague or an outside
number, then transfers the call to them, makes it a three-way call, or goes back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from freeswitch_double import Call, FreeSwitchDouble
from test_voice_call_control import OnCall, _recorded, on_call, support_agent
from voice_support import VoiceHub, until

from hub.db import transaction
from hub.errors import ChannelError
from hub.models import Agent
from hub.routing.states import AgentState

MUSIC = "local_stream://moh"


async def colleague(call: OnCall, switch: FreeSwitchDouble, number: str = "2002", **endpoint: Any) -> int:
    switch.endpoint(f"user/{number}", **{"answer_after": 0.05, **endpoint})
    async with transaction(call.core.sessions) as s:
        agent = Agent(number=number, name="Colleague", password_hash="")
        s.add(agent)
        await s.flush()
        agent_id = int(agent.id or 0)
    await call.core.states.change(agent_id, AgentState.IDLE, by=agent_id)  # logged in, free
    return agent_id


async def consulting(call: OnCall, switch: FreeSwitchDouble, target: str = "2002") -> Call:
    """The consultation set up and answered; the consulted party's leg."""
    await call.control("consult", target=target)

    async def talking() -> str | None:
        return call.live.consult_leg if call.live.consult_state == "talking" else None

    leg = await until(talking)
    assert leg, "the consulted party answered"
    phone = switch.call(leg)
    assert phone is not None
    return phone


async def test_the_caller_waits_on_music_while_the_agent_consults_then_goes_to_the_colleague(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    call = await on_call(voice_hub, tmp_path, switch)
    bob = await colleague(call, switch)
    agent = call.agent_phone(switch)

    other = await consulting(call, switch)

    live = await call.channel.live(call.interaction_id)
    assert live is not None and live["state"] == "consulting" and live["consult"]["target"] == "agent 2002"
    assert MUSIC in call.caller.leg.hears and agent.uuid not in call.caller.leg.hears, \
        "the caller hears music"
    assert other.uuid in agent.leg.hears and agent.uuid in other.leg.hears, "the agent and Bob talk"
    assert await call.state() == AgentState.HOLD, "the caller's wait counts as hold"

    await call.control("complete_transfer")

    assert other.uuid in call.caller.leg.hears and call.caller.uuid in other.leg.hears
    assert await until(lambda: _gone(switch, agent.uuid)), "the agent's phone is hung up"
    row = await call.interaction()
    assert row.agent_id == bob, "the interaction is Bob's now"
    assert (await call.core.states.current(bob)).state == AgentState.ACTIVE
    call.caller.hangup()
    assert await until(lambda: _recorded(call))
    record = (await call.interaction()).record
    assert [(leg["agent_id"], leg["outcome"]) for leg in record["legs"]] == [
        (call.agent_id, "transferred"), (bob, "hangup")]
    assert record["hold_seconds"] > 0


async def _gone(switch: FreeSwitchDouble, uuid: str) -> bool:
    return switch.call(uuid) is None


async def test_back_to_the_caller_hangs_up_the_colleague(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    call = await on_call(voice_hub, tmp_path, switch)
    await colleague(call, switch)
    agent = call.agent_phone(switch)
    other = await consulting(call, switch)

    back = await call.control("cancel_consult")

    assert back["state"] == "talking" and back["consult"]["state"] == ""
    assert await until(lambda: _gone(switch, other.uuid))
    assert agent.uuid in call.caller.leg.hears and call.caller.uuid in agent.leg.hears
    assert MUSIC not in call.caller.leg.hears
    assert await call.state() == AgentState.ACTIVE
    call.caller.hangup()


async def test_a_colleague_who_hangs_up_leaves_the_agent_with_the_caller_again(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    call = await on_call(voice_hub, tmp_path, switch)
    await colleague(call, switch)
    agent = call.agent_phone(switch)
    other = await consulting(call, switch)

    other.hangup()

    async def together() -> bool:
        return call.live.state == "talking" and call.caller.uuid in agent.leg.hears

    assert await until(together), "the agent talks to the caller again"
    call.caller.hangup()


async def test_three_way_puts_caller_agent_and_colleague_in_one_room(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    call = await on_call(voice_hub, tmp_path, switch)
    await colleague(call, switch)
    agent = call.agent_phone(switch)
    other = await consulting(call, switch)

    joined = await call.control("conference")

    room = f"cc-{call.interaction_id}"

    async def three() -> bool:
        conference = switch.conferences.get(room)
        return conference is not None and conference.count == 3

    assert joined["state"] == "conference" and await until(three), "all three are in the room"
    assert {agent.uuid, other.uuid} <= call.caller.leg.hears
    await call.control("hangup")
    assert await until(lambda: _recorded(call)), "the agent leaving ends the call for the hub"
    assert switch.call(call.caller.uuid) is not None, "the caller and the colleague go on"
    call.caller.hangup()


async def test_an_outside_number_consulted_then_given_the_call(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    call = await on_call(voice_hub, tmp_path, switch, outside_endpoint="sofia/gateway/gw1/{number}")
    switch.endpoint("sofia/gateway/gw1/", answer_after=0.05)

    with pytest.raises(ChannelError, match="agent number or a phone number"):
        await call.control("consult", target="next door")
    other = await consulting(call, switch, "95588")
    await call.control("complete_transfer")

    assert other.uuid in call.caller.leg.hears
    record = (await call.interaction()).record
    assert (record["hangup_side"], record["transfer_target"]) == ("transferred", "95588")
    call.caller.hangup()


async def test_a_colleague_who_does_not_answer_leaves_the_caller_on_hold_with_the_agent(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    call = await on_call(voice_hub, tmp_path, switch)
    await colleague(call, switch, reject="USER_BUSY")

    await call.control("consult", target="2002")

    async def failed() -> str:
        return call.live.consult_failed

    assert "USER_BUSY" in await until(failed)
    assert call.live.state == "held" and MUSIC in call.caller.leg.hears
    resumed = await call.control("resume")
    assert resumed["state"] == "talking"
    call.caller.hangup()


async def test_a_transfer_to_an_agent_puts_the_caller_through_when_they_answer(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    call = await on_call(voice_hub, tmp_path, switch)
    bob = await colleague(call, switch)
    agent = call.agent_phone(switch)

    with pytest.raises(ChannelError, match="no agent has the number '95588'"):
        await call.control("transfer_agent", agent="95588")
    ringing = await call.control("transfer_agent", agent="2002")

    assert ringing["state"] == "held" and MUSIC in call.caller.leg.hears, \
        "the caller holds while Bob's phone rings"

    async def with_bob() -> bool:
        live = call.channel.live_calls.get(call.interaction_id)
        return live is not None and live.agent is not None and live.agent.agent_id == bob

    assert await until(with_bob), "Bob answered and has the caller"
    assert await until(lambda: _gone(switch, agent.uuid)), "the first agent's phone is hung up"
    assert (await call.interaction()).agent_id == bob
    bobs_leg = call.live.agent.uuid  # type: ignore[union-attr]
    assert bobs_leg in call.caller.leg.hears and MUSIC not in call.caller.leg.hears
    call.caller.hangup()


async def test_consulting_a_queue_rings_the_agent_routing_would_give_it_a_call(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    call = await on_call(voice_hub, tmp_path, switch)
    helper = await support_agent(call.core, switch, "3003")
    agent = call.agent_phone(switch)

    await call.control("consult_queue", queue="support")

    async def talking() -> str | None:
        return call.live.consult_leg if call.live.consult_state == "talking" else None

    leg = await until(talking)
    other = switch.call(leg) if leg else None
    assert other is not None
    [rang] = [line for _, line in switch.commands if f"origination_uuid={leg}," in line]
    assert rang.endswith("user/3003 &park()"), "the support agent's phone rang"
    live = await call.channel.live(call.interaction_id)
    assert live is not None and live["consult"]["target"] == "agent 3003 (support)"
    assert MUSIC in call.caller.leg.hears and other.uuid in agent.leg.hears

    await call.control("complete_transfer")

    assert other.uuid in call.caller.leg.hears
    assert (await call.interaction()).agent_id == helper
    call.caller.hangup()


async def test_consulting_a_queue_with_nobody_free_says_so_and_the_call_goes_on(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    call = await on_call(voice_hub, tmp_path, switch)
    helper = await support_agent(call.core, switch, "3003")
    await call.core.states.change(helper, AgentState.BUSY, by=helper, reason="break")
    await call.core.routing.settled()

    with pytest.raises(ChannelError, match="no agent of the queue 'support' is free now"):
        await call.control("consult_queue", queue="support")
    with pytest.raises(ChannelError, match="no agent of the queue 'nowhere' is free now"):
        await call.control("consult_queue", queue="nowhere")

    live = await call.channel.live(call.interaction_id)
    assert live is not None and live["state"] == "talking" and live["consult"]["state"] == ""
    assert [line for _, line in switch.commands if "user/3003" in line] == []
    call.caller.hangup()
