"""The hub restarts while calls go on: a caller talking to an agent is followed again (the
agent keeps the controls and the call is recorded when it ends); a caller who was waiting
and went meanwhile is counted abandoned, not left in the queue for ever."""

from __future__ import annotations

from pathlib import Path

from freeswitch_double import FreeSwitchDouble
from test_voice_call_control import on_call, wrapping_up
from voice_support import VoiceHub, answer_menu, arrive, hub_with_flow, interactions, until

from hub.models import Interaction
from plugins.voice.channel import VoiceChannel


async def test_a_call_in_progress_is_followed_again_by_the_restarted_hub(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    call = await on_call(voice_hub, tmp_path, switch)
    agent_leg = call.live.agent.uuid  # type: ignore[union-attr]
    await call.control("hold")
    await call.core.stop()

    assert switch.call(call.caller.uuid) is not None and switch.call(agent_leg) is not None, \
        "the caller and the agent still talk on the switch"
    core = await voice_hub(ivr_flow=str(tmp_path / "flow.yaml"), routing=True)
    channel = core.channels["voice"]
    assert isinstance(channel, VoiceChannel)

    async def followed() -> bool:
        return channel.live_calls.get(call.interaction_id) is not None

    assert await until(followed), "the restarted hub follows the call again"
    live = await channel.live(call.interaction_id)
    assert live is not None and live["agent_number"] and live["state"] == "held"
    resumed = await channel.control(call.interaction_id, "resume", agent_id=call.agent_id, params={})
    assert resumed["state"] == "talking"
    call.caller.hangup()

    async def recorded() -> dict:  # type: ignore[type-arg]
        async with core.sessions() as s:
            row = await s.get(Interaction, call.interaction_id)
        return row.record if row is not None else {}

    record = await until(recorded)
    assert record["hangup_side"] == "customer" and record["legs"][0]["uuid"] == agent_leg
    call.core = core
    assert await wrapping_up(call)


async def test_a_caller_who_went_while_the_hub_was_down_is_abandoned_not_left_waiting(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    channel = await hub_with_flow(voice_hub, tmp_path, switch)
    caller = await arrive(switch, channel)
    await answer_menu(caller, "1")
    assert await until(lambda: _waiting(channel)), "the caller waits in the billing queue"
    await channel.hub._core.stop()
    caller.hangup()
    await caller.ended()

    core = await voice_hub(ivr_flow=str(tmp_path / "flow.yaml"))

    async def abandoned() -> bool:
        rows = await interactions(core)
        return bool(rows) and rows[0][0].disposition == "abandoned"

    assert await until(abandoned), "the restarted hub closes the waiting call as abandoned"


async def _waiting(channel: VoiceChannel) -> bool:
    return bool(channel.arrivals.waiting)
