"""The voice channel against the conformance kit, its peer the FreeSWITCH double.

A call carries no text, so the kit's text contracts are off (``carries_text``); its live-contact
contracts take their place. The call controls are well formed and refuse calls that are not
the channel's; then whole calls go through them: a caller dials in and presses 1 in the test
IVR, the agent's phone answers, every control is used (a hangup ends that call, and the
controls after it go to the next one), the caller hangs up, the record is kept once and the
agent wraps up. Arrivals, replays and restarts are in test_voice_arrivals.py and
test_voice_channel.py; each control in detail in test_voice_call_control.py and
test_voice_supervision.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from freeswitch_double import Call, FreeSwitchDouble
from voice_support import FLOW, answer_menu, arrive

import plugins.voice
from hub.channel import Channel
from hub.conformance import ChannelContract
from plugins.voice.channel import VoiceChannel

PASSWORD = "conformance-pass"
PROMPTS = ("welcome", "main", "invalid", "no_input", "connecting", "bye", "blocked")


class SwitchPeer:
    """The switch's side: it can go away and come back on the same port, and place a call
    that the test IVR (``voice_support.FLOW``) sends to ``billing`` when the caller presses 1."""

    live_queue = "billing"

    def __init__(self, switch: FreeSwitchDouble, channel: Channel) -> None:
        self.switch = switch
        self.channel = channel
        """Only to dial the hub's call socket, as the switch's dialplan would."""
        self.callers: dict[str, Call] = {}

    def sender_for(self, n: int) -> str:
        return f"+86138000000{n:02d}"

    async def inject(self, text: str, sender: str, external_id: str) -> None:
        raise AssertionError("a call carries no text: the kit's text contracts are off for voice")

    async def inject_bad(self) -> None:
        raise AssertionError("bad frames are covered by test_voice_esl_*.py")

    async def sent(self) -> list[str]:
        return []

    async def disconnect(self) -> None:
        await self.switch.stop()

    async def reconnect(self) -> None:
        await self.switch.start()

    async def answer(self, agent_number: str) -> None:
        # The channel dials agents at ``user/{number}`` (its default agent_endpoint).
        self.switch.endpoint(f"user/{agent_number}", answer_after=0.05)

    async def start_live_contact(self, sender: str) -> None:
        assert isinstance(self.channel, VoiceChannel)
        self.callers[sender] = call = await arrive(self.switch, self.channel, caller=sender)
        await asyncio.wait_for(answer_menu(call, "1"), 10)

    async def end_live_contact(self, sender: str) -> None:
        call = self.callers.pop(sender, None)
        if call is not None and self.switch.call(call.uuid) is not None:
            call.hangup()


@pytest.fixture
async def switch() -> AsyncIterator[FreeSwitchDouble]:
    double = FreeSwitchDouble(password=PASSWORD)
    double.media.update({f"ivr/{name}.wav": 0.05 for name in PROMPTS})
    await double.start()
    # Fixed from now on, so the switch comes back where the channel looks for it.
    double.requested_port = double.port
    yield double
    await double.stop()


@pytest.fixture
def channel_plugin() -> object:
    return plugins.voice


@pytest.fixture
def channel_settings(switch: FreeSwitchDouble, tmp_path: Path) -> dict[str, Any]:
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW, encoding="utf-8")
    return {"esl_port": switch.port, "esl_password": PASSWORD, "outbound_port": 0,
            "reconnect_max_seconds": 0.3, "ivr_flow": str(flow)}


@pytest.fixture
def peer(switch: FreeSwitchDouble, channel_under_test: Channel) -> SwitchPeer:
    return SwitchPeer(switch, channel_under_test)


class TestVoiceChannel(ChannelContract):
    """Setup, health, outages and the live-contact contracts; no text contracts (a call is
    not a message)."""

    carries_text = False
    # A transfer out of the hub ends the call like a hangup; the kit goes on with the next call.
    live_control_params: ClassVar[dict[str, dict[str, str]]] = {
        "transfer_number": {"number": "+8610012345"}}
