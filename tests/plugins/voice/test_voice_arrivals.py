"""A call handed to the hub's socket goes through the IVR on the switch, and a caller who
asks for a person waits in the queue they chose as one interaction, with their path through
the IVR for the agent; a blocked caller hears why and is let go."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from freeswitch_double import Call, FreeSwitchDouble
from voice_support import (
    Played,
    VoiceHub,
    answer_menu,
    arrive,
    hub_with_flow,
    interactions,
    played_on,
    until,
)

from hub.core import HubCore
from hub.db import transaction
from hub.models import BlockedAddress, Customer, CustomerIdentity, Interaction, Queue
from hub.routing.config import CONFIG_TOPIC
from plugins.voice.channel import VoiceChannel


def apps_run(switch: FreeSwitchDouble) -> list[str]:
    """The application arguments the hub sent over call sockets, in order."""
    return [command.header("execute-app-arg") or "" for connection in switch.connections
            for command in connection.commands if command.line.startswith("sendmsg")]


async def test_pressing_1_puts_the_caller_in_the_billing_queue_with_their_path(
    voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble,
) -> None:
    channel = await hub_with_flow(voice_hub, tmp_path, switch)
    call = await arrive(switch, channel)
    await answer_menu(call, "1")
    rows = await until(lambda: interactions(channel.hub._core))
    assert len(rows) == 1
    interaction, message = rows[0]
    assert interaction.queue == "billing" and interaction.thread_key == f"call:{call.uuid}"
    assert message.meta["ivr_summary"] == "Main menu › 1 Billing › Agent (queue billing)"
    assert message.text == "Call: Main menu › 1 Billing › Agent (queue billing)"
    assert [step["node"] for step in message.meta["ivr_path"]][:2] == ["greeting", "main"]
    assert call.uuid in channel.arrivals.waiting
    call.hangup()
    await call.ended()


async def test_a_caller_who_hangs_up_in_the_queue_is_counted_abandoned(
    voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble,
) -> None:
    channel = await hub_with_flow(voice_hub, tmp_path, switch)
    call = await arrive(switch, channel)
    await answer_menu(call, "1")
    [(waiting, _)] = await until(lambda: interactions(channel.hub._core))
    assert waiting.closed_at is None
    call.hangup("NORMAL_CLEARING")
    await call.ended()

    async def closed() -> Interaction | None:
        [(row, _)] = await interactions(channel.hub._core)
        return row if row.closed_at is not None else None

    row = await until(closed)
    assert row is not None and (row.status, row.disposition) == ("closed", "abandoned")
    assert call.uuid not in channel.arrivals.waiting


async def test_a_call_lost_while_the_switch_restarted_is_counted_abandoned(
    voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble,
) -> None:
    channel = await hub_with_flow(voice_hub, tmp_path, switch)
    call = await arrive(switch, channel)
    await answer_menu(call, "1")
    await until(lambda: interactions(channel.hub._core))
    await switch.restart()  # the switch forgets the call and sends nobody its hangup

    async def abandoned() -> bool:
        [(row, _)] = await interactions(channel.hub._core)
        return row.disposition == "abandoned"

    assert await until(abandoned), "reconciled after the reconnect: the caller is gone"


async def test_a_blocked_caller_hears_why_and_never_waits_for_an_agent(
    voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble,
) -> None:
    channel = await hub_with_flow(voice_hub, tmp_path, switch)
    async with transaction(channel.hub._core.sessions) as s:
        s.add(BlockedAddress(kind="phone", address="+8613900000000", reason="abuse"))
    call = await arrive(switch, channel, caller="+8613900000000")
    await answer_menu(call, "1")
    await call.ended()
    assert await interactions(channel.hub._core) == []
    assert "ivr/blocked.wav" in apps_run(switch), "told why before being let go"


async def two_callers_told(switch: FreeSwitchDouble, channel: VoiceChannel, played: Played,
                           *places: int) -> tuple[Call | None, Call | None]:
    """Callers +8613800000001 then ...02 wait in billing; both, once they heard ``places``."""
    first = await arrive(switch, channel, caller="+8613800000001")
    await answer_menu(first, "1")
    second = await arrive(switch, channel, caller="+8613800000002")
    await answer_menu(second, "1")

    async def told() -> bool:
        heard = {(uuid, text) for uuid, text in played}
        return all((call.uuid, f"tts://flite|default|{place} before you") in heard
                   for call, place in zip((first, second), places, strict=True))

    if await until(told, seconds=3):
        return first, second
    first.hangup()
    second.hangup()
    return None, None


async def test_waiting_callers_hear_their_place_in_the_queue_now_and_then(
    voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble,
) -> None:
    played = played_on(switch)
    channel = await hub_with_flow(voice_hub, tmp_path, switch, announce_position_seconds=0.3,
                                  position_text="{position} before you")
    first, second = await two_callers_told(switch, channel, played, 1, 2)
    assert first and second, "each caller heard their own place"
    music_again = [text for uuid, text in played if uuid == first.uuid][-1]
    assert music_again in ("local_stream://moh", "tts://flite|default|1 before you")
    first.hangup()
    second.hangup()


async def test_a_vip_caller_hears_they_are_next_ahead_of_those_who_called_before(
    voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble,
) -> None:
    played = played_on(switch)
    channel = await hub_with_flow(voice_hub, tmp_path, switch, routing=True, announce_position_seconds=0.3,
                                  position_text="{position} before you")
    core = channel.hub._core
    async with transaction(core.sessions) as s:
        s.add(Queue(name="billing", title="Billing"))  # nobody serves it yet
        vip = Customer(name="Wang Fang", tier="platinum")  # a VIP tier by default
        s.add(vip)
        await s.flush()
        s.add(CustomerIdentity(customer_id=int(vip.id or 0), kind="phone", address="+8613800000002"))
    await until(lambda: _routing(core))
    await core.bus.publish(CONFIG_TOPIC, {"event": "routing-config", "what": "test"})
    await core.routing.settled()

    first, second = await two_callers_told(switch, channel, played, 2, 1)
    assert first and second, "the VIP is next; the earlier caller comes after them"
    first.hangup()
    second.hangup()


async def _routing(core: HubCore) -> bool:
    return core.routing.router is not None


async def test_a_call_handed_to_the_hub_again_after_its_socket_broke_is_still_one_interaction(
    voice_hub: VoiceHub, tmp_path: Path, switch: FreeSwitchDouble,
) -> None:
    channel = await hub_with_flow(voice_hub, tmp_path, switch)
    assert channel.outbound is not None
    target = f"127.0.0.1:{channel.outbound.port} async full"
    call = await switch.incoming_call(caller="+8613800000001", destination="10086", dialplan=[
        ("answer", ""), ("socket", target), ("park", "")])
    await answer_menu(call, "1")
    [(first, _)] = await until(lambda: interactions(channel.hub._core))

    lost = channel.arrivals.sessions[call.uuid]
    switch.kill_connections()  # the network drops the call's socket; the dialplan parks the caller
    await until(lambda: _parked(call))
    await call.socket(target)  # and hands the call to the hub again
    await answer_menu(call, "1")

    async def queued_again() -> bool:
        session = channel.arrivals.sessions.get(call.uuid)
        return session is not None and session is not lost

    assert await until(queued_again), "the caller went through the IVR to the queue again"
    assert channel.arrivals.waiting[call.uuid] == first.id, "the same interaction waits on"
    rows = await interactions(channel.hub._core)
    assert [row.id for row, _ in rows] == [first.id], "stored once"
    call.hangup()
    await call.ended()


async def _parked(call: Any) -> bool:
    return bool(call.leg.parked)
