"""An answered call on the agent's screen: it pops up with the caller's IVR path, the agent
holds, mutes, records (pausing for a card number), sends digits, transfers or hangs up from
the inbox, the ACD follows (active, hold, wrap-up), and the call's record is kept when it
ends: legs, wait, ring, talk and hold times, who hung up and why, the survey score."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from freeswitch_double import Call, FreeSwitchDouble
from sqlalchemy import select
from test_voice_ringing import staffed
from voice_support import FLOW, VoiceHub, answer_menu, arrive, interactions, played_on, until

from hub.core import HubCore
from hub.db import transaction
from hub.errors import ChannelError
from hub.models import Agent, AgentSkill, AgentStateSpan, HistoryEntry, Interaction, Queue, QueueRules
from hub.routing.config import CONFIG_TOPIC
from hub.routing.states import AgentState
from plugins.voice.channel import VoiceChannel
from plugins.voice.live_calls import LiveCall

SURVEY = """
survey: rate
"""
SURVEY_NODES = """
  rate:
    kind: survey
    title: Satisfaction
    scale: 5
    into: score
    prompt: [{file: ivr/survey.wav}]
    tries: 1
    next: thanks
  thanks: {kind: hangup, title: Thanks, prompt: [{file: ivr/thanks.wav}]}
"""


class OnCall:
    """A caller talking to an agent through the hub, and the test's handles on both."""

    def __init__(self, channel: VoiceChannel, agent_id: int, caller: Call, interaction_id: int) -> None:
        self.channel = channel
        self.core: HubCore = channel.hub._core
        self.agent_id = agent_id
        self.caller = caller
        self.interaction_id = interaction_id

    @property
    def live(self) -> LiveCall:
        call = self.channel.live_calls.get(self.interaction_id)
        assert call is not None
        return call

    def agent_phone(self, switch: FreeSwitchDouble) -> Call:
        agent = self.live.agent
        assert agent is not None
        phone = switch.call(agent.uuid)
        assert phone is not None
        return phone

    async def control(self, action: str, **params: str) -> dict[str, Any]:
        return await self.channel.control(self.interaction_id, action, agent_id=self.agent_id, params=params)

    async def state(self) -> AgentState:
        return (await self.core.states.current(self.agent_id)).state

    async def interaction(self) -> Interaction:
        async with self.core.sessions() as s:
            row = await s.get(Interaction, self.interaction_id)
        assert row is not None
        return row


async def on_call(voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble, *, survey: bool = False,
                  **settings: Any) -> OnCall:
    flow = tmp_path / "flow.yaml"
    text = FLOW.replace("blocked:", SURVEY.strip() + "\nblocked:") + SURVEY_NODES if survey else FLOW
    flow.write_text(text, encoding="utf-8")
    switch.media.update({f"ivr/{name}.wav": 0.05 for name in
                         ("welcome", "main", "invalid", "no_input", "connecting", "bye", "blocked", "survey",
                          "thanks", "agent")})
    settings.setdefault("announce_agent", "ivr/agent.wav")
    core = await voice_hub(ivr_flow=str(flow), routing=True, **settings)
    channel = core.channels["voice"]
    assert isinstance(channel, VoiceChannel)
    number = str(1000 + uuid.uuid4().int % 1000)
    switch.endpoint(f"user/{number}", answer_after=0.05)
    agent_id = await staffed(core, number)
    caller = await arrive(switch, channel)
    await answer_menu(caller, "1")

    async def taken() -> int | None:
        calls = list(channel.live_calls.by_interaction.values())
        return calls[0].interaction_id if calls and calls[0].agent is not None else None

    interaction_id = await until(taken)
    assert interaction_id, "the agent answered and is talking to the caller"
    return OnCall(channel, agent_id, caller, interaction_id)


async def wrapping_up(call: OnCall) -> bool:
    """The agent went into wrap-up for this call (however short the test hub's wrap-up is)."""
    async with call.core.sessions() as s:
        return (await s.execute(select(AgentStateSpan.id).where(
            AgentStateSpan.agent_id == call.agent_id, AgentStateSpan.state == AgentState.WRAP_UP,
            AgentStateSpan.interaction_id == call.interaction_id))).first() is not None


async def test_the_answered_call_pops_up_on_the_agents_screen_with_the_ivr_path(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    shown: list[dict[str, Any]] = []
    call = await on_call(voice_hub, tmp_path, switch)
    call.core.bus.subscribe(f"agent:{call.agent_id}", lambda _t, p: _keep(shown, p))
    await call.control("one_way_audio")

    live = await call.channel.live(call.interaction_id)
    assert live is not None and live["state"] == "talking" and live["recording"] == "off"
    assert [step["title"] for step in live["ivr_path"]][:2] == ["Greeting", "Main menu"]
    assert shown and shown[-1]["type"] == "live" and shown[-1]["live"]["marks"] == ["one_way_audio"]
    assert await call.state() == AgentState.ACTIVE
    call.caller.hangup()


async def _keep(shown: list[dict[str, Any]], payload: dict[str, Any]) -> None:
    shown.append(payload)


async def test_the_caller_hears_the_agents_number_before_being_put_through(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    played = played_on(switch)
    call = await on_call(voice_hub, tmp_path, switch, announce_agent="工号 {digits} 为您服务")
    number = call.live.agent.number  # type: ignore[union-attr]

    spoken = f"tts://flite|default|工号 {' '.join(number)} 为您服务"
    assert (call.caller.uuid, spoken) in played, "the caller heard the announcement"
    commands = [line for _, line in switch.commands]
    assert commands.index(f"api uuid_break {call.caller.uuid} all") < next(
        i for i, line in enumerate(commands) if line.startswith(f"api uuid_bridge {call.caller.uuid}"))
    call.caller.hangup()
    assert await until(lambda: _recorded(call))
    record = (await call.interaction()).record
    assert record["announce_seconds"] > 0.5, "the announcement is counted apart from the agent's talk"
    assert record["legs"][0]["announce_seconds"] == record["announce_seconds"]


async def test_hold_puts_the_caller_on_music_and_the_agent_on_hold_until_resumed(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    call = await on_call(voice_hub, tmp_path, switch)

    agent_leg = call.agent_phone(switch).uuid
    held = await call.control("hold")
    assert held["state"] == "held" and await call.state() == AgentState.HOLD
    assert "local_stream://moh" in call.caller.leg.hears, "the caller hears the hold music"
    assert agent_leg not in call.caller.leg.hears, "and not the agent"
    await asyncio.sleep(0.2)
    resumed = await call.control("resume")

    assert resumed["state"] == "talking" and await call.state() == AgentState.ACTIVE
    assert agent_leg in call.caller.leg.hears and "local_stream://moh" not in call.caller.leg.hears
    assert [line for _, line in switch.commands if "uuid_hold" in line] == [
        f"api uuid_hold {agent_leg}", f"api uuid_hold off {agent_leg}"]
    with pytest.raises(ChannelError, match="Resume is not possible while the call is talking"):
        await call.control("resume")
    assert call.live.holds == 1 and call.live.held_seconds >= 0.2
    call.caller.hangup()


async def test_the_caller_hanging_up_ends_the_call_with_its_record_and_wrap_up_for_the_agent(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    call = await on_call(voice_hub, tmp_path, switch)
    await asyncio.sleep(0.3)

    call.caller.hangup()

    assert await until(lambda: wrapping_up(call)), "the agent wraps up after the call"
    row = await call.interaction()
    record = row.record
    assert row.status == "assigned", "the agent still closes it with a disposition"
    assert record["hangup_side"] == "customer" and record["hangup_cause"] == "NORMAL_CLEARING"
    assert record["talk_seconds"] >= 0.3 and record["wait_seconds"] > 0 and record["ring_seconds"] >= 0.05
    assert [leg["agent_id"] for leg in record["legs"]] == [call.agent_id]
    assert [step["title"] for step in record["ivr_path"]][:2] == ["Greeting", "Main menu"]
    async with call.core.sessions() as s:
        history = (await s.execute(select(HistoryEntry.summary).where(
            HistoryEntry.interaction_id == call.interaction_id,
            HistoryEntry.kind == "contact_ended"))).scalars()
        assert [line.endswith("the customer hung up (NORMAL_CLEARING)") for line in history] == [True]
    assert call.channel.live_calls.get(call.interaction_id) is None
    with pytest.raises(ChannelError, match="not live"):
        await call.control("hold")


async def test_the_agent_hanging_up_leaves_the_caller_to_the_survey_whose_score_is_kept(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    call = await on_call(voice_hub, tmp_path, switch, survey=True)

    await call.control("hangup")
    while call.caller.variables.get("current_application") != "play_and_get_digits":  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    await call.caller.press("5")

    async def scored() -> Any:
        return (await call.interaction()).record.get("survey_score")

    assert await until(scored) == 5
    record = (await call.interaction()).record
    assert record["hangup_side"] == "agent"
    assert await wrapping_up(call)
    assert await until(lambda: _gone(switch, call.caller.uuid)), "the call ends after the thanks"


async def _gone(switch: FreeSwitchDouble, uuid_: str) -> bool:
    return switch.call(uuid_) is None


async def test_a_call_transferred_to_another_queue_waits_there_and_rings_its_agent(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    call = await on_call(voice_hub, tmp_path, switch)
    first_phone = call.agent_phone(switch)
    second = await support_agent(call.core, switch, "2002")

    with pytest.raises(ChannelError, match="no queue named"):
        await call.control("transfer_queue", queue="nowhere")
    moved = await call.control("transfer_queue", queue="support")

    assert moved["state"] == "queued"
    assert await until(lambda: _gone(switch, first_phone.uuid)), "the first agent's phone is hung up"

    async def with_second() -> bool:
        live = call.channel.live_calls.get(call.interaction_id)
        return live is not None and live.agent is not None and live.agent.agent_id == second

    assert await until(with_second, seconds=8), "the support agent answered the transferred call"
    row = await call.interaction()
    assert (row.queue, row.agent_id) == ("support", second)
    assert await call.state() in (AgentState.IDLE, AgentState.WRAP_UP)
    call.caller.hangup()
    assert await until(lambda: _recorded(call)), "the call's record has both agents"
    record = (await call.interaction()).record
    assert [(leg["agent_id"], leg["outcome"]) for leg in record["legs"]] == [
        (call.agent_id, "transferred"), (second, "hangup")]


async def _recorded(call: OnCall) -> bool:
    return bool((await call.interaction()).record)


async def support_agent(core: HubCore, switch: FreeSwitchDouble, number: str) -> int:
    switch.endpoint(f"user/{number}", answer_after=0.05)
    async with transaction(core.sessions) as s:
        s.add(Queue(name="support", title="Support"))
        s.add(QueueRules(queue="support", offer_timeout_seconds=2))
        agent = Agent(number=number, name="Support", password_hash="")
        s.add(agent)
        await s.flush()
        s.add(AgentSkill(agent_id=agent.id, queue="support", level=1, proficiency=3))
        agent_id = int(agent.id or 0)
    await core.bus.publish(CONFIG_TOPIC, {"event": "routing-config", "what": "test"})
    await core.routing.settled()
    await core.states.change(agent_id, AgentState.IDLE, by=agent_id)
    await core.routing.settled()
    return agent_id


async def test_a_call_transferred_to_an_outside_number_leaves_the_hub(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    call = await on_call(voice_hub, tmp_path, switch, transfer_context="outside")
    switch.extension("95588", [("answer", ""), ("park", "")], context="outside")

    with pytest.raises(ChannelError, match="a number is digits"):
        await call.control("transfer_number", number="95588; hupall")
    await call.control("transfer_number", number="955-88")

    assert f"api uuid_transfer {call.caller.uuid} 95588 XML outside" in [line for _, line in switch.commands]
    assert await until(lambda: wrapping_up(call))
    record = (await call.interaction()).record
    assert (record["hangup_side"], record["transfer_target"]) == ("transferred", "95588")
    assert switch.call(call.caller.uuid) is not None, "the caller is with the outside number now"
    call.caller.hangup()


async def test_recording_pauses_for_a_card_number_and_the_file_is_on_the_record(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    recordings = tmp_path / "recordings"
    call = await on_call(voice_hub, tmp_path, switch, recordings_dir=str(recordings))

    with pytest.raises(ChannelError, match="not being recorded"):
        await call.control("secure")
    started = await call.control("record")
    paused = await call.control("secure")
    masked = set(call.caller.leg.masked_recordings)
    resumed = await call.control("secure")
    await call.control("dtmf", digits="12#")
    stopped = await call.control("record")

    assert [started["recording"], paused["recording"], paused["secure"], resumed["recording"],
            stopped["recording"]] == ["on", "paused", True, "on", "off"]
    [path] = call.live.recordings
    assert path.startswith(f"{recordings}/") and path.endswith(f"/call-{call.interaction_id}-1.wav")
    sent = [line for _, line in switch.commands if "uuid_record" in line or "uuid_send_dtmf" in line]
    leg = call.caller.uuid
    assert sent == [f"api uuid_record {leg} start {path}", f"api uuid_record {leg} mask {path}",
                    f"api uuid_record {leg} unmask {path}", f"api uuid_send_dtmf {leg} 12#",
                    f"api uuid_record {leg} stop {path}"]
    assert masked == {path}, "silence was written while the card number was read"
    assert call.caller.leg.masked_recordings == set(), "and the recording went on after it"
    with pytest.raises(ChannelError, match="digits are"):
        await call.control("dtmf", digits="12; uuid_kill")
    switch_writes(Path(path), b"RIFF....WAVE")
    call.caller.hangup()
    assert await until(lambda: _recorded(call))

    record = (await call.interaction()).record
    assert record["recordings"] == [path]
    [media] = record["media"]
    assert (media["name"], media["content_type"]) == (f"call-{call.interaction_id}-1.wav", "audio/wav")
    assert await call.channel.media(call.interaction_id, media["name"]) == Path(path)
    assert await call.channel.media(call.interaction_id, "other.wav") is None


def switch_writes(path: Path, data: bytes) -> None:
    """A file as FreeSWITCH leaves it in its recordings directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


async def test_a_recording_outside_the_recordings_directory_is_never_served(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    call = await on_call(voice_hub, tmp_path, switch, recordings_dir=str(tmp_path / "recordings"))
    switch_writes(tmp_path / "secret.wav", b"not a recording")
    call.live.recordings.append(f"{tmp_path}/recordings/../secret.wav")
    call.caller.hangup()
    assert await until(lambda: _recorded(call))

    assert await call.channel.media(call.interaction_id, "secret.wav") is None


async def test_every_call_is_recorded_from_the_answer_when_the_centre_says_so(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    call = await on_call(voice_hub, tmp_path, switch, record_calls=True)

    assert await until(lambda: _recording(call))
    call.caller.hangup()


async def _recording(call: OnCall) -> bool:
    return call.live.recording == "on"


async def test_mute_toggles_the_agents_microphone(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    call = await on_call(voice_hub, tmp_path, switch)
    leg = call.live.agent.uuid  # type: ignore[union-attr]

    muted = await call.control("mute")
    unmuted = await call.control("mute")

    assert (muted["muted"], unmuted["muted"]) == (True, False)
    assert [line for _, line in switch.commands if "uuid_audio" in line] == [
        f"api uuid_audio {leg} start read mute 1", f"api uuid_audio {leg} stop"]
    call.caller.hangup()


async def test_only_the_agent_on_the_call_controls_it(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    call = await on_call(voice_hub, tmp_path, switch)

    with pytest.raises(ChannelError, match="another agent's phone"):
        await call.channel.control(call.interaction_id, "hold", agent_id=call.agent_id + 1, params={})
    with pytest.raises(ChannelError, match="not live"):
        await call.channel.control(call.interaction_id + 1, "hold", agent_id=call.agent_id, params={})
    call.caller.hangup()


async def test_a_call_that_ended_while_the_switch_was_away_is_recorded_as_lost(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    call = await on_call(voice_hub, tmp_path, switch, reconnect_max_seconds=0.2)

    await switch.restart()

    assert await until(lambda: _recorded(call), seconds=8)
    record = (await call.interaction()).record
    assert (record["hangup_side"], record["hangup_cause"]) == ("switch", "LOST_WHILE_DISCONNECTED")
    assert await wrapping_up(call)


async def test_the_agent_sends_the_caller_back_into_the_ivr_and_a_new_request_is_a_new_contact(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    call = await on_call(voice_hub, tmp_path, switch)
    agent = call.agent_phone(switch)
    [control] = [c for c in call.channel.controls() if c.action == "transfer_ivr"]
    assert ("main", "Main menu") in control.options

    with pytest.raises(ChannelError, match="no node 'nowhere'"):
        await call.control("transfer_ivr", node="nowhere")
    await call.control("transfer_ivr", node="main")

    assert await until(lambda: _gone(switch, agent.uuid)), "the agent's phone is hung up"
    assert await until(lambda: wrapping_up(call)), "the agent's part ended: wrap-up"
    record = (await call.interaction()).record
    assert (record["hangup_side"], record["transfer_target"]) == ("transferred", "IVR main")
    await answer_menu(call.caller, "1")

    async def second() -> list[Any]:
        return [row for row, _ in await interactions(call.core) if row.id != call.interaction_id]

    [again] = await until(second)
    assert again.thread_key == f"call:{call.caller.uuid}#2" and again.queue == "billing"
    call.caller.hangup()
