"""The hub's table of live calls follows FreeSWITCH's events, and after a reconnect it is made
to agree with the switch's own table: no call left ringing that the switch no longer has."""

from __future__ import annotations

from pathlib import Path

from plugins.voice.calls import LOST, CallTable
from plugins.voice.esl.events import Event, parse_event
from plugins.voice.esl.frames import FrameParser

CAPTURES = Path(__file__).parent / "captures"


def capture_events(name: str) -> list[Event]:
    data = (CAPTURES / name).read_bytes().partition(b"\n## ---\n")[2]
    return [parse_event(m) for m in FrameParser().feed(data) if m.content_type.startswith("text/event-")]


def event(name: str, uuid: str, **headers: str) -> Event:
    return Event(name, {"Event-Name": name, "Unique-ID": uuid, **{k.replace("_", "-"): v
                                                                  for k, v in headers.items()}})


def test_a_real_bridged_call_is_followed_to_its_end() -> None:
    table = CallTable(clock=lambda: 1000.0)
    seen = {}
    for e in capture_events("08-sip-call-plain.txt"):
        call = table.apply(e)
        if call is not None:
            seen[call.uuid] = call
    assert len(seen) == 3, "the SIP caller and the two loopback legs"
    assert len(table) == 0, "every leg hung up; none comes back with a late UNBRIDGE"
    caller = next(c for c in seen.values() if c.destination == "bridge_tone")
    assert (caller.direction, caller.number, caller.hangup_cause) == ("inbound", "sipp", "NORMAL_CLEARING")
    assert caller.answered_at is not None and caller.ended_at is not None
    assert 2.9 < caller.ended_at - caller.answered_at < 3.2, "sipp hung up after 3 s, by the switch's clock"
    assert all(c.ended for c in seen.values())


def test_the_same_call_in_json_is_followed_alike() -> None:
    plain, json = CallTable(clock=lambda: 1.0), CallTable(clock=lambda: 1.0)
    for e in capture_events("08-sip-call-plain.txt"):
        plain.apply(e)
    ended = [c for e in capture_events("09-sip-call-json.txt") if (c := json.apply(e)) and c.ended]
    assert len(plain) == len(json) == 0 and len(ended) == 3


def test_a_call_ended_while_the_hub_was_away_is_ended_at_reconcile() -> None:
    table = CallTable(clock=lambda: 50.0)
    table.apply(event("CHANNEL_CREATE", "a", Call_Direction="inbound",
                      Caller_Caller_ID_Number="+8613800000000", Channel_Call_State="RINGING"))
    table.apply(event("CHANNEL_CREATE", "b", Call_Direction="inbound", Channel_Call_State="ACTIVE"))
    lost, found = table.reconcile([{"uuid": "b", "callstate": "HELD"},
                                   {"uuid": "c", "direction": "inbound", "cid_num": "10086",
                                    "dest": "95555", "callstate": "RINGING", "created_epoch": "40"}])
    assert [(c.uuid, c.hangup_cause, c.ended_at) for c in lost] == [("a", LOST, 50.0)]
    assert [(c.uuid, c.number, c.destination, c.state, c.created_at) for c in found] == [
        ("c", "10086", "95555", "RINGING", 40.0)]
    assert sorted(table.calls) == ["b", "c"] and table.calls["b"].state == "HELD"


def test_a_late_event_for_an_ended_leg_does_not_bring_it_back() -> None:
    table = CallTable()
    table.apply(event("CHANNEL_CREATE", "a", Channel_Call_State="RINGING"))
    table.apply(event("CHANNEL_HANGUP_COMPLETE", "a", Hangup_Cause="ORIGINATOR_CANCEL"))
    assert table.apply(event("CHANNEL_UNBRIDGE", "a", Channel_Call_State="HANGUP")) is None
    assert len(table) == 0


def test_bridging_and_unbridging_name_the_other_leg() -> None:
    table = CallTable()
    table.apply(event("CHANNEL_CREATE", "a"))
    table.apply(event("CHANNEL_BRIDGE", "a", Bridge_A_Unique_ID="a", Bridge_B_Unique_ID="b",
                      Other_Leg_Unique_ID="b", Channel_Call_State="ACTIVE"))
    assert table.calls["a"].bridged_to == "b"
    table.apply(event("CHANNEL_UNBRIDGE", "a"))
    assert table.calls["a"].bridged_to is None
