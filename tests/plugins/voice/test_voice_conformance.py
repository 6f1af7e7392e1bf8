"""The voice channel against the conformance kit, its peer the FreeSWITCH double.

A call carries no text, so the kit's text contracts are off (``carries_text``); what a call
contract would ask (one interaction per call, through restarts and reconnects) is in
test_voice_arrivals.py and test_voice_channel.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from freeswitch_double import FreeSwitchDouble

import plugins.voice
from hub.conformance import ChannelContract

PASSWORD = "conformance-pass"


class SwitchPeer:
    """The switch's side: it can go away and come back on the same port."""

    def __init__(self, switch: FreeSwitchDouble) -> None:
        self.switch = switch

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


@pytest.fixture
async def switch() -> AsyncIterator[FreeSwitchDouble]:
    double = FreeSwitchDouble(password=PASSWORD)
    await double.start()
    # Fixed from now on, so the switch comes back where the channel looks for it.
    double.requested_port = double.port
    yield double
    await double.stop()


@pytest.fixture
def channel_plugin() -> object:
    return plugins.voice


@pytest.fixture
def channel_settings(switch: FreeSwitchDouble) -> dict[str, Any]:
    return {"esl_port": switch.port, "esl_password": PASSWORD, "outbound_port": 0,
            "reconnect_max_seconds": 0.3}


@pytest.fixture
def peer(switch: FreeSwitchDouble) -> SwitchPeer:
    return SwitchPeer(switch)


class TestVoiceChannel(ChannelContract):
    """Setup, health and outages; no text contracts (a call is not a message)."""

    carries_text = False
