"""The voice channel keeps one Event Socket connection to the switch: it follows the calls,
reconnects with backoff when the switch goes away, and afterwards trusts the switch's own
table over what it remembers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest
from freeswitch_double import FreeSwitchDouble
from voice_support import VoiceHub

from hub.channel import HealthState
from hub.core import HubCore
from plugins.voice.calls import LOST
from plugins.voice.channel import VoiceChannel


def voice(core: HubCore) -> VoiceChannel:
    channel = core.channels["voice"]
    assert isinstance(channel, VoiceChannel)
    return channel


async def until(check: Callable[[], bool], seconds: float = 5) -> None:
    """Wait for what the channel does on its own, in the background, to show."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "it never happened"
        await asyncio.sleep(0.02)


async def test_a_call_on_the_switch_is_followed_until_it_hangs_up(
    voice_hub: VoiceHub, switch: FreeSwitchDouble,
) -> None:
    channel = voice(await voice_hub())
    assert channel.current_health.state == HealthState.OK
    call = await switch.incoming_call(caller="+8613800000000", destination="10086")
    await until(lambda: call.uuid in channel.calls.calls)
    leg = channel.calls.calls[call.uuid]
    assert (leg.direction, leg.number, leg.destination) == ("inbound", "+8613800000000", "10086")
    await until(lambda: leg.answered_at is not None)
    call.hangup("NORMAL_CLEARING")
    await until(lambda: call.uuid not in channel.calls.calls)
    assert leg.hangup_cause == "NORMAL_CLEARING"


async def test_without_a_switch_configured_the_channel_waits_and_says_why(
    voice_hub: VoiceHub, switch: FreeSwitchDouble,
) -> None:
    channel = voice(await voice_hub(esl_password=None))
    health = channel.current_health
    assert health.state == HealthState.OK and "no switch configured: set esl_password" in health.detail
    assert switch.commands == [], "nothing dialled the switch"


async def test_a_refused_password_is_reported_once_and_not_hammered(
    voice_hub: VoiceHub, switch: FreeSwitchDouble, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    channel = voice(await voice_hub(esl_password="wrong", login_retry_seconds=1))
    assert channel.current_health.state == HealthState.DOWN, "start-up waited for the answer, no longer"
    assert "refused the event socket password" in channel.current_health.detail
    await asyncio.sleep(1.5)
    logins = [c for _, c in switch.commands if c.startswith("auth")]
    assert logins == ["auth wrong"] * 2, "tried again only after login_retry_seconds"
    assert len([r for r in caplog.records if "is down" in r.getMessage()]) == 1


async def test_a_restarted_switch_is_reconnected_and_its_lost_calls_are_ended(
    voice_hub: VoiceHub, switch: FreeSwitchDouble, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    channel = voice(await voice_hub())
    call = await switch.incoming_call()
    await until(lambda: call.uuid in channel.calls.calls)
    leg = channel.calls.calls[call.uuid]
    await switch.restart()
    await until(lambda: call.uuid not in channel.calls.calls and channel.supervisor is not None
                and channel.supervisor.up.is_set())
    assert leg.hangup_cause == LOST
    again = await switch.incoming_call()
    await until(lambda: again.uuid in channel.calls.calls)
    await until(lambda: channel.current_health.state == HealthState.OK)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("voice is down" in m for m in messages) == 1, "one line when down"
    assert sum("voice is ok" in m for m in messages) == 2, "one at start, one when back"


async def test_health_tells_an_operator_where_the_switch_is_and_what_went_wrong_last(
    voice_hub: VoiceHub, switch: FreeSwitchDouble,
) -> None:
    channel = voice(await voice_hub())
    call = await switch.incoming_call()
    await until(lambda: call.uuid in channel.calls.calls)
    await switch.restart()
    await until(lambda: channel.supervisor is not None and channel.supervisor.up.is_set())
    health = (await channel.health()).as_dict()
    assert health["state"] == "ok" and health["peer"] == f"127.0.0.1:{switch.port}"
    assert health["last_error"], "the outage it came back from"
    assert health["last_event_at"] and health["calls"] == 0 and health["waiting"] == 0


async def test_the_event_socket_password_reaches_neither_health_nor_the_logs(
    voice_hub: VoiceHub, switch: FreeSwitchDouble, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    refused = voice(await voice_hub(esl_password="wr0ng-s3cret", login_retry_seconds=0.2))
    accepted = voice(await voice_hub())
    call = await switch.incoming_call()
    await until(lambda: call.uuid in accepted.calls.calls)
    await switch.restart()  # logs in again
    await until(lambda: accepted.supervisor is not None and accepted.supervisor.up.is_set())
    await asyncio.sleep(0.5)  # the refused one tries again
    assert [c for _, c in switch.commands if c.startswith("auth")].count("auth wr0ng-s3cret") >= 2
    shown = [str((await channel.health()).as_dict()) for channel in (refused, accepted)]
    shown += [r.getMessage() for r in caplog.records] + [caplog.text]
    shown += [str(c.supervisor and c.supervisor.error) for c in (refused, accepted)]
    for secret in ("wr0ng-s3cret", switch.password):
        assert not [line for line in shown if secret in line]


async def test_calls_the_hub_missed_while_away_are_taken_in(
    voice_hub: VoiceHub, switch: FreeSwitchDouble,
) -> None:
    channel = voice(await voice_hub())
    switch.kill_connections()
    call = await switch.incoming_call()  # rings while nobody listens
    await until(lambda: call.uuid in channel.calls.calls)
    assert channel.calls.calls[call.uuid].number == "+8613800000000"
