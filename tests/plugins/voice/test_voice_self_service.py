"""Self-service in the IVR through another plugin's back office (``hub_register_services``):
the caller gives their service password and hears their balance without an agent; a back
office that fails or is slow sends the caller on as the flow says, never holds them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from freeswitch_double import FreeSwitchDouble
from voice_support import VoiceHub, arrive, played_on, until

from hub.hookspecs import hookimpl

FLOW = """
name: self-service
title: Self-service line
language: en-US
start: password
blocked:
  prompt: [{file: ivr/sorry.wav}]
nodes:
  password:
    kind: verify
    title: Service password
    service: verify_password
    prompt: [{file: ivr/password.wav}]
    invalid: [{file: ivr/wrong.wav}]
    tries: 1
    next: balance
    on_failure: sorry
  balance:
    kind: service
    title: Balance
    service: balance
    needs_verification: true
    returns: [balance]
    say: [{tts: "Your balance is {balance} yuan.", lang: en-US}]
    next: bye
    on_failure: sorry
  sorry: {kind: hangup, title: Sorry, prompt: [{file: ivr/sorry.wav}]}
  bye: {kind: hangup, title: Goodbye, prompt: [{file: ivr/bye.wav}]}
"""


PLAYING = ("playback", "play_and_get_digits")


class Billing:
    """The operator's billing system, as a plugin offers it to the IVR."""

    def __init__(self, *, slow: bool = False) -> None:
        self.slow = slow
        self.asked: list[dict[str, str]] = []

    @hookimpl
    def hub_register_services(self, register: Callable[..., None]) -> None:
        async def verify_password(variables: Mapping[str, str]) -> Mapping[str, Any] | None:
            return {} if variables.get("password") == "123456" else None

        async def balance(variables: Mapping[str, str]) -> Mapping[str, Any] | None:
            self.asked.append(dict(variables))
            if self.slow:
                await asyncio.sleep(30)
            return {"balance": "42.50"}

        register("verify_password", verify_password)
        register("balance", balance)


async def self_service_call(voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble,
                            billing: Billing) -> list[str]:
    """A caller who types the right password; what the line played them, in order."""
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW, encoding="utf-8")
    switch.media.update({f"ivr/{name}.wav": 0.05 for name in ("password", "wrong", "sorry", "bye")})
    heard = played_on(switch, PLAYING)
    core = await voice_hub(ivr_flow=str(flow), extra_plugins=(billing,), service_seconds=0.5)
    caller = await arrive(switch, core.channels["voice"])  # type: ignore[arg-type]
    while caller.variables.get("current_application") != "play_and_get_digits":  # noqa: ASYNC110
        await asyncio.sleep(0.005)
    await caller.press("123456#")
    assert await until(lambda: _gone(switch, caller.uuid), seconds=10), "the call ends by itself"
    return [str(what) for _, what in heard]


async def _gone(switch: FreeSwitchDouble, uuid: str) -> bool:
    return switch.call(uuid) is None


async def test_the_caller_hears_their_balance_from_the_back_office(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    billing = Billing()

    played = await self_service_call(voice_hub, tmp_path, switch, billing)

    assert any("Your balance is 42.50 yuan." in item for item in played)
    assert played[-1] == "ivr/bye.wav"
    assert billing.asked and "password" not in billing.asked[0], "the password stays with its check"


async def test_a_back_office_that_does_not_answer_in_time_sends_the_caller_on(
        voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble) -> None:
    played = await self_service_call(voice_hub, tmp_path, switch, Billing(slow=True))

    assert played[-1] == "ivr/sorry.wav", "the flow's failure branch, after the deadline"
    assert not any("balance" in item for item in played)


async def test_a_flow_naming_a_service_no_plugin_offers_is_told_at_start_only_when_calls_come(
        voice_hub: VoiceHub, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW, encoding="utf-8")
    await voice_hub(ivr_flow=str(flow), esl_password=None)  # no switch: the flow never runs
    assert "self-services no plugin offers" not in caplog.text
    await voice_hub(ivr_flow=str(flow))
    assert "self-services no plugin offers (balance, verify_password)" in caplog.text
