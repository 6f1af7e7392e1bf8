"""Helpers shared by the voice tests: hubs on the switch double, a test IVR flow, calls."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from freeswitch_double import Call, FreeSwitchDouble
from sqlalchemy import select

from hub.core import HubCore
from hub.models import Interaction, Message
from plugins.voice.channel import VoiceChannel

VoiceHub = Callable[..., Awaitable[HubCore]]
"""``await voice_hub(routing=False, **voice_settings)``: a started hub on the switch double."""

FLOW = """
name: test-line
title: Test line
language: zh-CN
start: greeting
blocked:
  prompt: [{file: ivr/blocked.wav}]
nodes:
  greeting: {kind: play, title: Greeting, prompt: [{file: ivr/welcome.wav}], next: main}
  main:
    kind: menu
    title: Main menu
    prompt: [{file: ivr/main.wav}]
    options:
      1: {to: billing, label: Billing}
      2: {to: bye, label: Goodbye}
    invalid: [{file: ivr/invalid.wav}]
    no_input: [{file: ivr/no_input.wav}]
    tries: 2
    timeout: 1
    on_failure: billing
  billing: {kind: queue, title: Billing desk, queue: billing, prompt: [{file: ivr/connecting.wav}]}
  bye: {kind: hangup, title: Goodbye, prompt: [{file: ivr/bye.wav}]}
"""


async def hub_with_flow(voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble,
                        **settings: Any) -> VoiceChannel:
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW, encoding="utf-8")
    switch.media.update({f"ivr/{name}.wav": 0.05 for name in
                         ("welcome", "main", "invalid", "no_input", "connecting", "bye", "blocked", "agent")})
    # A short file for the agent's number (the default is spoken by TTS, a second long here).
    settings.setdefault("announce_agent", "ivr/agent.wav")
    core = await voice_hub(ivr_flow=str(flow), **settings)
    channel = core.channels["voice"]
    assert isinstance(channel, VoiceChannel) and channel.outbound is not None
    return channel


async def arrive(switch: FreeSwitchDouble, channel: VoiceChannel, caller: str = "+8613800138000") -> Call:
    assert channel.outbound is not None
    return await switch.incoming_call(caller=caller, destination="10086", dialplan=[
        ("answer", ""), ("socket", f"127.0.0.1:{channel.outbound.port} async full")])


async def interactions(core: HubCore) -> list[tuple[Interaction, Message]]:
    async with core.sessions() as s:
        return list((await s.execute(select(Interaction, Message).join(
            Message, Message.interaction_id == Interaction.id).where(Interaction.channel == "voice"))).all())


async def until(check: Any, seconds: float = 5.0) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.05)


async def answer_menu(call: Call, digits: str) -> float:
    """Press ``digits`` once the IVR is waiting for them; when they were pressed."""
    while call.variables.get("current_application") != "play_and_get_digits":  # noqa: ASYNC110
        await asyncio.sleep(0.005)
    pressed = asyncio.get_running_loop().time()
    await call.press(digits)
    return pressed


Played = list[tuple[str | None, str | None]]


def played_on(switch: FreeSwitchDouble, apps: tuple[str, ...] = ("playback",)) -> Played:
    """From now on, (leg uuid, what) for every ``apps`` application the switch starts: what
    callers were played, in order."""
    played: Played = []
    fire = switch.fire

    def spy(event: Any) -> None:
        if event.name == "CHANNEL_EXECUTE" and event.get("Application") in apps:
            played.append((event.get("Unique-ID"), event.get("Application-Data")))
        fire(event)

    switch.fire = spy  # type: ignore[method-assign]
    return played
