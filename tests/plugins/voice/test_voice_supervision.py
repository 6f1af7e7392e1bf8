"""A supervisor on an agent's call, from the inbox: their phone rings and listens in, they
whisper to the agent (the caller does not hear), barge in (everyone hears), take the call
over (the caller is theirs, the agent is freed), or stop."""

from __future__ import annotations

from pathlib import Path

import pytest
from freeswitch_double import Call, FreeSwitchDouble
from test_voice_call_control import OnCall, on_call, wrapping_up
from voice_support import VoiceHub, until

from hub.db import transaction
from hub.errors import ChannelError
from hub.models import Agent
from hub.routing.states import AgentState


async def supervisor(call: OnCall, switch: FreeSwitchDouble, number: str = "9001") -> int:
    switch.endpoint(f"user/{number}", answer_after=0.05)
    async with transaction(call.core.sessions) as s:
        agent = Agent(number=number, name="Sam", role="supervisor", password_hash="")
        s.add(agent)
        await s.flush()
        supervisor_id = int(agent.id or 0)
    await call.core.states.change(supervisor_id, AgentState.IDLE, by=supervisor_id)  # logged in
    return supervisor_id


async def supervisor_phone(call: OnCall, switch: FreeSwitchDouble) -> Call:
    async def answered() -> str | None:
        live = call.live
        return live.supervisor_leg if live.supervision == "on" else None

    leg = await until(answered)
    assert leg, "the supervisor's phone answered and listens in"
    phone = switch.call(leg)
    assert phone is not None
    return phone


async def mode(phone: Call, wanted: str) -> bool:
    async def reached() -> bool:
        return phone.leg.eavesdrop_mode == wanted

    return bool(await until(reached))


async def test_the_supervisor_listens_then_whispers_to_the_agent_then_barges_in(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    call = await on_call(voice_hub, tmp_path, switch)
    sam = await supervisor(call, switch)
    agent = call.agent_phone(switch)

    listening = await call.channel.control(call.interaction_id, "listen", agent_id=sam, params={})
    phone = await supervisor_phone(call, switch)

    assert listening["listening"] and listening["supervisor_number"] == "9001"
    assert phone.leg.eavesdrop_target == agent.uuid and await mode(phone, "listen")
    assert {call.caller.uuid, agent.uuid} <= phone.leg.hears, "the supervisor hears both sides"
    assert phone.uuid not in call.caller.leg.hears and phone.uuid not in agent.leg.hears

    whispering = await call.channel.control(call.interaction_id, "whisper", agent_id=sam, params={})
    assert whispering["whispering"] and await mode(phone, "whisper_target")
    assert phone.uuid in agent.leg.hears and phone.uuid not in call.caller.leg.hears, \
        "the agent hears the supervisor, the caller does not"

    await call.channel.control(call.interaction_id, "barge", agent_id=sam, params={})
    assert await mode(phone, "both")
    assert phone.uuid in call.caller.leg.hears and phone.uuid in agent.leg.hears

    stopped = await call.channel.control(call.interaction_id, "stop_supervising", agent_id=sam, params={})
    assert stopped["supervision"] == "" and not stopped["barging"]
    assert await until(lambda: _gone(switch, phone.uuid)), "the supervisor's phone is hung up"
    call.caller.hangup()


async def _gone(switch: FreeSwitchDouble, uuid: str) -> bool:
    return switch.call(uuid) is None


async def test_whisper_asked_before_listening_rings_the_phone_in_whisper_mode(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    call = await on_call(voice_hub, tmp_path, switch)
    sam = await supervisor(call, switch)

    await call.channel.control(call.interaction_id, "whisper", agent_id=sam, params={})
    phone = await supervisor_phone(call, switch)

    assert await mode(phone, "whisper_target")
    originate = [line for _, line in switch.commands if "&eavesdrop(" in line]
    assert len(originate) == 1 and "eavesdrop_whisper_bleg=true" in originate[0]
    call.caller.hangup()


async def test_the_supervisor_takes_the_call_over_and_the_agent_is_freed(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    call = await on_call(voice_hub, tmp_path, switch)
    sam = await supervisor(call, switch)
    agent = call.agent_phone(switch)

    with pytest.raises(ChannelError, match="listen first"):
        await call.channel.control(call.interaction_id, "take_over", agent_id=sam, params={})
    await call.channel.control(call.interaction_id, "listen", agent_id=sam, params={})
    phone = await supervisor_phone(call, switch)
    with pytest.raises(ChannelError, match="another supervisor"):
        await call.channel.control(call.interaction_id, "listen", agent_id=sam + 100, params={})
    taken = await call.channel.control(call.interaction_id, "take_over", agent_id=sam, params={})

    assert taken["agent_number"] == "9001" and taken["supervision"] == ""
    assert await until(lambda: _gone(switch, agent.uuid)), "the agent's phone is hung up"
    assert phone.uuid in call.caller.leg.hears and call.caller.uuid in phone.leg.hears, \
        "the caller and the supervisor talk"
    row = await call.interaction()
    assert row.agent_id == sam, "the interaction is the supervisor's now"
    assert (await call.core.states.current(sam)).state == AgentState.ACTIVE, "and they are on it"
    assert await call.state() != AgentState.ACTIVE, "the agent is free of it"
    held = await call.channel.control(call.interaction_id, "hold", agent_id=sam, params={})
    assert held["state"] == "held", "the supervisor controls the call like its agent"

    call.caller.hangup()

    async def recorded() -> dict:  # type: ignore[type-arg]
        return (await call.interaction()).record

    record = await until(recorded)
    assert [(leg["agent_id"], leg["outcome"]) for leg in record["legs"]] == [
        (call.agent_id, "taken_over"), (sam, "hangup")]
    call.agent_id = sam
    assert await wrapping_up(call), "the supervisor wraps the call up"
