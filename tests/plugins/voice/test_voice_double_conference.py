"""Call control and supervision on the FreeSWITCH double, spoken to over the ESL wire.

Rooms (mod_conference), three-way and eavesdrop modes, uuid_audio, hold music, and what happens
to a bridge when one side is taken away. ``leg.hears`` says what a leg's far end hears: the uuids
of the legs whose voice reaches it and the media played to it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import pytest
from freeswitch_double import Call, FreeSwitchDouble
from freeswitch_double_captures import Message, Peer

AGENT = "aaaaaaaa-0000-4000-8000-00000000a001"
THIRD = "aaaaaaaa-0000-4000-8000-00000000a003"
SUPERVISOR = "aaaaaaaa-0000-4000-8000-00000000a002"
MOH = "local_stream://moh"


@pytest.fixture
async def fs() -> AsyncIterator[FreeSwitchDouble]:
    double = FreeSwitchDouble(time_scale=0.01)
    await double.start()
    yield double
    await double.stop()


async def peer_for(fs: FreeSwitchDouble, events: str | None = "json CUSTOM conference::maintenance") -> Peer:
    peer = await Peer.connect(fs.port)
    await peer.login(events)
    return peer


async def api(peer: Peer, command: str) -> str:
    """The body of ``api <command>``."""
    return (await peer.command(f"api {command}")).body.decode()


def fields(message: Message) -> dict[str, str]:
    return dict(json.loads(message.body)) if message.kind == "text/event-json" else dict(message.event())


def actions(messages: list[Message]) -> list[str]:
    """The Action of each conference::maintenance event, in order."""
    return [fields(m)["Action"] for m in messages
            if fields(m).get("Event-Subclass") == "conference::maintenance"]


async def until(check: Callable[[], object], within: float = 2.0) -> None:
    """Wait until ``check()`` holds; the double runs in the same loop, so poll briefly."""
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "the double never got there"
        await asyncio.sleep(0.005)


async def bridged_call(fs: FreeSwitchDouble, peer: Peer) -> tuple[Call, Call]:
    """A parked caller and an agent originated to user/1001, joined with uuid_bridge (the hub's way)."""
    fs.endpoint("user/1001", answer_after=0.01)
    caller = await fs.incoming_call("+8613800000000", "10086", caller_name="Caller")
    await until(lambda: caller.leg.parked)
    assert await api(peer, f"originate {{origination_uuid={AGENT}}}user/1001 &park()") == f"+OK {AGENT}\n"
    agent = fs.call(AGENT)
    assert agent is not None
    await until(lambda: agent.leg.parked)
    assert await api(peer, f"uuid_bridge {caller.uuid} {AGENT}") == f"+OK {AGENT}\n"
    await until(lambda: caller.hears == {AGENT} and agent.hears == {caller.uuid})
    return caller, agent


async def into_room(fs: FreeSwitchDouble, peer: Peer, room: str = "cc-1") -> tuple[Call, Call]:
    """The bridged call moved into a room with ``uuid_transfer -both`` and an inline dialplan."""
    caller, agent = await bridged_call(fs, peer)
    reply = await api(peer, f"uuid_transfer {caller.uuid} -both 'conference:{room}@default,park' inline")
    assert reply == "+OK\n"
    await until(lambda: caller.leg.member is not None and agent.leg.member is not None)
    return caller, agent


# --- mod_conference: rooms and members ----------------------------------------------------------------
async def test_the_first_leg_to_run_conference_creates_the_room_and_joins_it(fs):
    peer = await peer_for(fs, "json CHANNEL_EXECUTE CUSTOM conference::maintenance")
    caller = await fs.incoming_call(dialplan=[("conference", "cc-1@default")])
    # The public context's set/export run first; keep the conference application and the room's events.
    got = [m for m in await peer.events() if fields(m).get("Application", "conference") == "conference"]
    assert [fields(m)["Event-Name"] for m in got] == ["CHANNEL_EXECUTE", "CUSTOM", "CUSTOM", "CUSTOM"]
    assert actions(got) == ["conference-create", "add-member", "floor-change"]
    assert fields(got[0])["Application-Data"] == "cc-1@default"
    create, add = fields(got[1]), fields(got[2])
    assert next(iter(json.loads(got[2].body))) == "Event-Subclass"  # CUSTOM: the subclass comes first
    assert (create["Conference-Name"], create["Conference-Size"], create["Conference-Profile-Name"]) == (
        "cc-1", "0", "default")
    assert (add["Conference-Size"], add["Member-ID"], add["Member-Type"], add["Unique-ID"]) == (
        "1", "1", "member", caller.uuid)
    assert add["Caller-Caller-ID-Number"] == "+8613800000000" and add["Speak"] == add["Hear"] == "true"
    assert not [k for k in add if k.startswith("variable_")]  # channel headers without the variables
    assert add["Conference-Unique-ID"] == create["Conference-Unique-ID"] == fs.conferences["cc-1"].uuid
    assert caller.variables["conference_member_id"] == "1" and caller.variables["conference_name"] == "cc-1"
    assert caller.leg.answer_state == "answered"  # the room answers the caller
    assert caller.hears == {MOH}  # alone in the room: the default profile's music on hold


async def test_conference_list_prints_one_line_per_member_newest_first(fs):
    peer = await peer_for(fs)
    caller, agent = await into_room(fs, peer)
    lines = (await api(peer, "conference cc-1 list")).splitlines()
    members = {m.leg.uuid: m.id for m in fs.conferences["cc-1"].members}
    assert [line.split(";")[2] for line in lines] == sorted(members, key=members.get, reverse=True)
    caller_line = next(line for line in lines if caller.uuid in line).split(";")
    assert caller_line == [str(members[caller.uuid]), caller.leg.name, caller.uuid, "Caller",
                           "+8613800000000", caller_line[5], "0", "0", "0", "100"]
    assert caller_line[5] in ("hear|speak", "hear|speak|floor")
    assert caller.hears == {AGENT} and agent.hears == {caller.uuid}  # a room of two: they hear each other
    assert (await api(peer, "conference cc-2 list")) == "-ERR Conference cc-2 not found\n"
    everything = await api(peer, "conference list")
    assert everything.startswith("Conference cc-1 (2 members rate: 8000 flags: running|answered|dynamic")


async def test_uuid_transfer_both_with_an_inline_list_moves_a_bridged_call_into_a_room(fs):
    peer = await peer_for(fs, "json CHANNEL_UNBRIDGE CHANNEL_HANGUP CUSTOM conference::maintenance")
    caller, agent = await into_room(fs, peer)
    got = peer.skipped + await peer.events()
    assert "CHANNEL_UNBRIDGE" in [fields(m)["Event-Name"] for m in got]
    assert "CHANNEL_HANGUP" not in [fields(m)["Event-Name"] for m in got]  # nobody was hung up
    assert actions(got).count("add-member") == 2 and fs.conferences["cc-1"].count == 2
    assert caller.leg.bridged_with is None and agent.leg.bridged_with is None


async def test_a_member_kicked_from_the_room_continues_its_dialplan(fs):
    peer = await peer_for(fs, "json CHANNEL_PARK PLAYBACK_START CUSTOM conference::maintenance")
    caller, agent = await into_room(fs, peer)
    await peer.events()
    member = agent.leg.member
    assert member is not None
    had_floor = fs.conferences["cc-1"].floor is member
    assert await api(peer, f"conference cc-1 kick {member.id}") == f"OK kicked {member.id}\n"
    got = await peer.events()
    # The floor goes with the member, and the room's next tick gives it to who is left.
    expected = ["kick-member", "floor-change", "del-member", "floor-change"] if had_floor else [
        "kick-member", "del-member"]
    assert actions(got) == expected
    named = [(fields(m)["Event-Name"], fields(m)["Unique-ID"]) for m in got
             if fields(m)["Event-Name"] != "CUSTOM"]
    assert named == [("PLAYBACK_START", AGENT), ("CHANNEL_PARK", AGENT)]  # kicked sound, then ",park"
    assert fields(next(m for m in got if fields(m)["Event-Name"] == "PLAYBACK_START"))[
        "Playback-File-Path"] == "conference/conf-kicked.wav"
    assert agent.leg.member is None and not agent.leg.is_down and fs.conferences["cc-1"].count == 1
    assert caller.hears == {MOH} and agent.hears == set()
    assert await api(peer, "conference cc-1 kick 99") == "Non-Existant ID 99\n"


async def test_hup_takes_a_member_out_without_a_sound_and_a_leg_with_nothing_left_hangs_up(fs):
    peer = await peer_for(fs, "json PLAYBACK_START CHANNEL_HANGUP CUSTOM conference::maintenance")
    caller = await fs.incoming_call(dialplan=[("conference", "cc-1")])  # nothing after the room
    await until(lambda: caller.leg.member is not None)
    await peer.events()
    reply = await peer.command("api conference cc-1 hup all")
    assert reply.body == b"-ERR no reply\n"  # conference ... hup prints nothing
    got = await peer.events()
    assert actions(got) == ["hup-member", "floor-change", "del-member", "conference-destroy"]
    assert [fields(m)["Event-Name"] for m in got if fields(m)["Event-Name"] != "CUSTOM"] == ["CHANNEL_HANGUP"]
    assert fields(got[-2])["Conference-Size"] == "0" and caller.leg.hangup_cause == "NORMAL_CLEARING"


async def test_the_room_ends_when_its_last_member_hangs_up(fs):
    peer = await peer_for(fs)
    caller, agent = await into_room(fs, peer)
    await peer.events()
    caller.hangup()
    agent.hangup()
    got = await peer.events()
    assert actions(got).count("del-member") == 2 and actions(got)[-1] == "conference-destroy"
    assert fields(got[-1])["Conference-Size"] == "0"
    assert fs.conferences == {}
    assert await api(peer, "conference cc-1 list") == "-ERR Conference cc-1 not found\n"


async def test_mute_and_deaf_change_what_members_hear_with_an_event_each(fs):
    peer = await peer_for(fs)
    caller, agent = await into_room(fs, peer)
    await peer.events()
    peer.skipped.clear()
    ids = {m.leg.uuid: m.id for m in fs.conferences["cc-1"].members}
    assert await api(peer, "conference cc-1 mute all") == "".join(
        f"OK mute {i}\n" for i in sorted(ids.values(), reverse=True))
    assert caller.hears == agent.hears == set()
    assert await api(peer, f"conference cc-1 unmute {ids[AGENT]}") == f"OK unmute {ids[AGENT]}\n"
    assert caller.hears == {AGENT} and agent.hears == set()
    assert await api(peer, f"conference cc-1 deaf {ids[caller.uuid]}") == f"OK deaf {ids[caller.uuid]}\n"
    assert caller.hears == set()
    assert await api(peer, f"conference cc-1 undeaf {ids[caller.uuid]}") == f"OK undeaf {ids[caller.uuid]}\n"
    got = peer.skipped + await peer.events()
    assert actions(got) == ["mute-member", "mute-member", "unmute-member", "deaf-member", "undeaf-member"]
    undeaf = fields(got[-1])
    assert (undeaf["Member-ID"], undeaf["Hear"], undeaf["Speak"]) == (str(ids[caller.uuid]), "true", "false")
    assert "hear" in (await api(peer, "conference cc-1 list")) and caller.hears == {AGENT}


async def test_member_targets_last_non_moderator_and_tmute(fs):
    peer = await peer_for(fs, None)
    await fs.incoming_call(dialplan=[("conference", "cc-1+flags{moderator}")])
    await fs.incoming_call("+8613900000000", dialplan=[("conference", "cc-1")])
    await until(lambda: "cc-1" in fs.conferences and fs.conferences["cc-1"].count == 2)
    assert await api(peer, "conference cc-1 mute non_moderator") == (
        "OK mute 2\nSkipping moderator (member id 1).\n")
    assert await api(peer, "conference cc-1 tmute last") == "OK unmute 2\n"
    assert await api(peer, "conference cc-1 tmute last") == "OK mute 2\n"
    assert await api(peer, "conference cc-1 kick") == (
        "kick <[member_id|all|last|non_moderator]> [<optional sound file>]")
    assert await api(peer, "conference cc-1 frobnicate") == "Conference command 'frobnicate' not found.\n"
    assert (await api(peer, "conference cc-1 list delim |")).splitlines()[0].startswith("2|sofia/external/")
    assert await api(peer, "conference cc-1") == "Conference command, not specified.\nTry 'help'\n"


async def test_join_flags_make_a_muted_moderator(fs):
    peer = await peer_for(fs)
    await fs.incoming_call(dialplan=[("conference", "cc-1@default+flags{mute|moderator}")])
    got = await peer.events()
    add = fields(next(m for m in got if fields(m)["Action"] == "add-member"))
    assert (add["Member-Type"], add["Speak"], add["Hear"]) == ("moderator", "false", "true")
    assert (await api(peer, "conference cc-1 list")).split(";")[5] == "hear|floor|moderator"


async def test_when_the_last_endconf_member_leaves_the_others_are_hung_up(fs):
    peer = await peer_for(fs)
    boss = await fs.incoming_call(dialplan=[("conference", "cc-1+flags{endconf}")])
    guest = await fs.incoming_call("+8613900000000", dialplan=[("conference", "cc-1"), ("park", "")])
    await until(lambda: boss.leg.member is not None and guest.leg.member is not None)
    boss.hangup()
    await guest.ended()
    assert guest.leg.hangup_cause == "NORMAL_CLEARING" and fs.conferences == {}
    assert "conference-destroy" in actions(await peer.events())


async def test_conference_dial_rings_an_endpoint_and_the_answered_leg_joins(fs):
    peer = await peer_for(fs)
    caller = await fs.incoming_call(dialplan=[("conference", "cc-1"), ("park", "")])
    await until(lambda: caller.leg.member is not None)
    fs.endpoint("user/1002", answer_after=0.01)
    fs.endpoint("user/1003", answers=False)
    reply = await api(peer, "conference cc-1 dial user/1002 4001 Expert")
    assert reply == "+OK Call Requested: result: [SUCCESS]\n"
    await until(lambda: fs.conferences["cc-1"].count == 2)
    expert = fs.conferences["cc-1"].members[-1].leg
    assert caller.hears == {expert.uuid} and expert.hears == {caller.uuid}
    assert await api(peer, "conference cc-1 dial user/1003") == "+OK Call Requested: result: [NO_ANSWER]\n"
    assert await api(peer, "conference cc-1 dial") == (
        "Bad Args\ndial <endpoint_module_name>/<destination> <callerid number> <callerid name>")
    await api(peer, f"conference cc-1 hup {expert.variables['conference_member_id']}")
    await until(lambda: expert.is_down)  # the dialled leg had only the room in its dialplan


async def test_bgdial_answers_at_once_and_reports_the_result_as_an_event(fs):
    peer = await peer_for(fs)
    await fs.incoming_call(dialplan=[("conference", "cc-1")])
    await peer.events()
    fs.endpoint("user/1002", answer_after=0.05)
    fs.endpoint("user/1003", reject="USER_BUSY")
    reply = await api(peer, "conference cc-1 bgdial user/1002")
    assert reply.startswith("+OK Job-UUID: ") and reply.endswith("\n")
    got = await peer.events()
    assert actions(got) == ["bgdial-result", "add-member"]  # the result comes before the leg joins
    result = fields(got[0])
    assert (result["Result"], result["Job-UUID"]) == ("SUCCESS", reply.split()[-1])
    assert result["Conference-Size"] == "1"
    await api(peer, "conference cc-1 bgdial user/1003")
    assert [fields(m)["Result"] for m in await peer.events()] == ["USER_BUSY"]


async def test_dialling_into_a_room_that_does_not_exist_yet_creates_it(fs):
    peer = await peer_for(fs)
    fs.endpoint("user/1002", answer_after=0.01)
    assert await api(peer, "conference cc-9 dial user/1002") == "+OK Call Requested: result: [SUCCESS]\n"
    await until(lambda: "cc-9" in fs.conferences and fs.conferences["cc-9"].count == 1)
    assert actions(await peer.events())[:2] == ["conference-create", "add-member"]


async def test_a_member_transferred_away_leaves_the_room(fs):
    peer = await peer_for(fs)
    caller, agent = await into_room(fs, peer)
    await peer.events()
    assert await api(peer, f"uuid_transfer {AGENT} park inline") == "+OK\n"
    await until(lambda: agent.leg.parked)
    assert "del-member" in actions(await peer.events()) and agent.leg.member is None
    assert caller.hears == {MOH}


# --- three-way, eavesdrop --------------------------------------------------------------------------------
async def supervisor(fs: FreeSwitchDouble, peer: Peer, app: str, target: str, **variables: str) -> Call:
    fs.endpoint("user/2001", answer_after=0.01)
    extra = "".join(f",{key}={value}" for key, value in variables.items())
    await api(peer, f"originate {{origination_uuid={SUPERVISOR}{extra}}}user/2001 &{app}({target})")
    leg = fs.call(SUPERVISOR)
    assert leg is not None
    await until(lambda: leg.leg.eavesdrop_target == target)
    return leg


async def test_three_way_talks_to_both_sides_from_the_start(fs):
    peer = await peer_for(fs, "json MEDIA_BUG_START MEDIA_BUG_STOP")
    caller, agent = await bridged_call(fs, peer)
    boss = await supervisor(fs, peer, "three_way", AGENT)
    assert (boss.leg.eavesdrop_mode, boss.leg.eavesdrop_target) == ("both", AGENT)
    assert boss.hears == {caller.uuid, AGENT}
    assert caller.hears == {AGENT, SUPERVISOR} and agent.hears == {caller.uuid, SUPERVISOR}
    await boss.press("0")  # three_way takes no DTMF
    assert boss.leg.eavesdrop_mode == "both"
    boss.hangup()
    got = peer.skipped + await peer.events()
    assert [(fields(m)["Event-Name"], fields(m)["Media-Bug-Target"]) for m in got] == [
        ("MEDIA_BUG_START", AGENT), ("MEDIA_BUG_STOP", AGENT)]
    assert caller.hears == {AGENT}


@pytest.mark.parametrize(("variables", "mode"), [
    ({}, "listen"),
    ({"eavesdrop_whisper_bleg": "true"}, "whisper_target"),
    ({"eavesdrop_whisper_aleg": "true"}, "whisper_peer"),
    ({"eavesdrop_whisper_aleg": "true", "eavesdrop_whisper_bleg": "true"}, "both"),
])
async def test_eavesdrop_starts_in_the_mode_the_whisper_variables_ask_for(fs, variables, mode):
    peer = await peer_for(fs, None)
    await bridged_call(fs, peer)
    boss = await supervisor(fs, peer, "eavesdrop", AGENT, **variables)
    assert boss.leg.eavesdrop_mode == mode


async def test_dtmf_0_to_3_change_the_eavesdrop_mode_and_star_ends_it(fs):
    peer = await peer_for(fs, None)
    caller, agent = await bridged_call(fs, peer)
    boss = await supervisor(fs, peer, "eavesdrop", AGENT)
    assert boss.hears == {caller.uuid, AGENT} and SUPERVISOR not in caller.hears | agent.hears
    await boss.press("2")  # coach the agent
    await until(lambda: boss.leg.eavesdrop_mode == "whisper_target")
    assert agent.hears == {caller.uuid, SUPERVISOR} and caller.hears == {AGENT}
    await boss.press("1")  # speak to the agent's peer, the caller
    await until(lambda: boss.leg.eavesdrop_mode == "whisper_peer")
    assert caller.hears == {AGENT, SUPERVISOR} and agent.hears == {caller.uuid}
    await boss.press("3")
    await until(lambda: boss.leg.eavesdrop_mode == "both")
    await boss.press("*")
    await until(lambda: boss.leg.eavesdrop_target is None)
    assert boss.leg.eavesdrop_mode is None and caller.hears == {AGENT} and agent.hears == {caller.uuid}


async def test_an_eavesdrop_command_header_changes_the_mode_too(fs):
    peer = await peer_for(fs, None)
    await bridged_call(fs, peer)
    boss = await supervisor(fs, peer, "three_way", AGENT)
    reply = await peer.command(f"sendmsg {SUPERVISOR}\neavesdrop-command: 0")
    assert reply.get("Reply-Text") == "+OK"
    await until(lambda: boss.leg.eavesdrop_mode == "listen")
    event = await peer.command(f"sendevent CUSTOM\nEvent-Subclass: x::y\nUnique-ID: {SUPERVISOR}\n"
                               "eavesdrop-command: 2")
    assert (event.get("Reply-Text") or "").startswith("+OK")
    await until(lambda: boss.leg.eavesdrop_mode == "whisper_target")


# --- uuid_audio, hold, recording, dtmf -------------------------------------------------------------------
async def test_uuid_audio_read_mute_silences_what_the_agent_says_until_stopped(fs):
    peer = await peer_for(fs, "json MEDIA_BUG_START MEDIA_BUG_STOP")
    caller, agent = await bridged_call(fs, peer)
    assert await api(peer, f"uuid_audio {AGENT} start read mute 1") == "+OK\n"
    assert agent.leg.session_audio is not None and agent.leg.session_audio.read_mute == 1
    assert caller.hears == set() and agent.hears == {caller.uuid}
    assert await api(peer, f"uuid_audio {AGENT} start write mute 1") == "+OK\n"
    assert agent.hears == set()
    assert await api(peer, f"uuid_audio {AGENT} stop") == "+OK\n"
    assert caller.hears == {AGENT} and agent.hears == {caller.uuid} and agent.leg.session_audio is None
    got = peer.skipped + await peer.events()
    assert [(fields(m)["Event-Name"], fields(m)["Media-Bug-Function"], fields(m)["Media-Bug-Target"])
            for m in got] == [("MEDIA_BUG_START", "audio", "mute"), ("MEDIA_BUG_STOP", "audio", "mute")]


async def test_uuid_audio_usage_and_unknown_channel_texts(fs):
    peer = await peer_for(fs, None)
    usage = "-USAGE: <uuid> [start [read|write] [mute|level <level>]|stop]\n"
    assert await api(peer, "uuid_audio 00000000-0000-0000-0000-000000000000") == usage
    call = await fs.incoming_call()
    assert await api(peer, f"uuid_audio {call.uuid} start read") == usage
    assert await api(peer, f"uuid_audio {call.uuid} start sideways mute 1") == usage
    # mod_commands prints -ERR and then +OK for a channel it cannot find.
    assert await api(peer, "uuid_audio 00000000-0000-0000-0000-000000000000 stop") == (
        "-ERR No Such Channel!\n+OK\n")


async def test_the_caller_hears_music_while_the_agent_leg_holds(fs):
    peer = await peer_for(fs, "json CHANNEL_HOLD CHANNEL_UNHOLD CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE "
                              "PLAYBACK_START PLAYBACK_STOP")
    caller, agent = await bridged_call(fs, peer)
    await peer.events()
    peer.skipped.clear()
    assert await api(peer, f"uuid_hold {AGENT}") == "+OK Success\n"
    await until(lambda: caller.hears == {MOH})
    assert agent.hears == set() and agent.leg.on_hold
    assert await api(peer, f"uuid_hold off {AGENT}") == "+OK Success\n"
    assert caller.hears == {AGENT} and agent.hears == {caller.uuid}
    got = [(fields(m)["Event-Name"], fields(m)["Unique-ID"], fields(m).get("Application-Data", ""))
           for m in peer.skipped + await peer.events()]
    assert got == [("CHANNEL_HOLD", AGENT, ""), ("CHANNEL_EXECUTE", caller.uuid, MOH),
                   ("PLAYBACK_START", caller.uuid, ""), ("PLAYBACK_STOP", caller.uuid, ""),
                   ("CHANNEL_EXECUTE_COMPLETE", caller.uuid, MOH), ("CHANNEL_UNHOLD", AGENT, "")]


async def test_holding_the_callers_leg_plays_its_hold_music_to_the_agent(fs):
    peer = await peer_for(fs, None)
    caller, agent = await bridged_call(fs, peer)
    await api(peer, f"uuid_setvar {caller.uuid} hold_music ivr/hold.wav")
    assert await api(peer, f"uuid_hold {caller.uuid}") == "+OK Success\n"
    await until(lambda: agent.hears == {"ivr/hold.wav"})  # switch_ivr_hold: the partner gets the music
    assert caller.hears == set()
    assert await api(peer, f"uuid_hold toggle {caller.uuid}") == "+OK Success\n"
    assert agent.hears == {caller.uuid} and caller.hears == {AGENT}


async def test_hold_music_does_not_outlive_the_bridge_when_the_held_side_hangs_up(fs):
    peer = await peer_for(fs, None)
    caller, agent = await bridged_call(fs, peer)
    await api(peer, f"uuid_hold {caller.uuid}")
    await until(lambda: agent.hears == {MOH})
    caller.hangup()
    await agent.ended()  # the bridge went down with the music, and the agent was left alone
    assert agent.leg.hangup_cause == "NORMAL_CLEARING"


async def test_a_masked_recording_is_observable_until_unmasked(fs):
    peer = await peer_for(fs, None)
    call = await fs.incoming_call()
    reply = await api(peer, f"uuid_record {call.uuid} mask /tmp/r.wav")
    assert reply == "-ERR Cannot mask recording session!\n"  # nothing is recording yet
    assert await api(peer, f"uuid_record {call.uuid} start /tmp/r.wav") == "+OK Success\n"
    assert await api(peer, f"uuid_record {call.uuid} mask /tmp/r.wav") == "+OK Success\n"
    assert call.leg.masked_recordings == {"/tmp/r.wav"}
    assert await api(peer, f"uuid_record {call.uuid} unmask /tmp/r.wav") == "+OK Success\n"
    assert call.leg.masked_recordings == set() and call.leg.recordings == ["/tmp/r.wav"]


async def test_uuid_send_dtmf_reaches_the_far_end_without_a_dtmf_event(fs):
    peer = await peer_for(fs, "json DTMF")
    _, agent = await bridged_call(fs, peer)
    assert await api(peer, f"uuid_send_dtmf {AGENT} 1234#") == f"+OK {AGENT} sent DTMF 1234#.\n"
    assert agent.leg.sent_dtmf == ["1234#"] and not peer.skipped and await peer.events() == []


# --- a bridge loses one side --------------------------------------------------------------------------------
async def bridge_app_call(fs: FreeSwitchDouble, agent: str = "user/1001",
                          **caller_vars: str) -> tuple[Call, Call]:
    """A caller whose dialplan bridges to an agent phone and then sets after_bridge=yes and parks."""
    fs.endpoint("user/1001", answer_after=0.01)
    caller = await fs.incoming_call(variables=caller_vars, dialplan=[
        ("answer", ""), ("bridge", agent), ("set", "after_bridge=yes"), ("park", "")])
    await until(lambda: caller.leg.bridged_with is not None)
    callee = fs.call(caller.leg.bridged_with.uuid)
    assert callee is not None
    return caller, callee


async def test_the_callee_hangs_up_when_its_caller_is_transferred_away(fs):
    peer = await peer_for(fs, None)
    caller, callee = await bridge_app_call(fs)
    assert await api(peer, f"uuid_transfer {caller.uuid} park inline") == "+OK\n"
    await callee.ended()
    await until(lambda: caller.leg.parked)
    assert callee.leg.hangup_cause == "NORMAL_CLEARING" and "after_bridge" not in caller.variables


async def test_the_callee_parks_instead_with_park_after_bridge(fs):
    peer = await peer_for(fs, None)
    caller, callee = await bridge_app_call(fs, "[park_after_bridge=true]user/1001")
    assert await api(peer, f"uuid_transfer {caller.uuid} park inline") == "+OK\n"
    await until(lambda: callee.leg.parked and caller.leg.parked)
    assert not callee.leg.is_down


async def test_a_caller_whose_callee_is_taken_away_goes_on_with_its_dialplan(fs):
    peer = await peer_for(fs, None)
    caller, callee = await bridge_app_call(fs)
    assert await api(peer, f"uuid_transfer {caller.uuid} -bleg park inline") == "+OK\n"
    await until(lambda: callee.leg.parked and caller.leg.parked)
    assert caller.variables["after_bridge"] == "yes" and not callee.leg.is_down


async def test_hangup_after_bridge_hangs_the_caller_up_instead(fs):
    peer = await peer_for(fs, None)
    caller, callee = await bridge_app_call(fs, hangup_after_bridge="true")
    assert await api(peer, f"uuid_transfer {callee.uuid} park inline") == "+OK\n"
    await caller.ended()
    assert "after_bridge" not in caller.variables and callee.leg.parked


async def test_uuid_bridge_of_one_side_to_a_third_leg_leaves_the_other_alone_and_it_hangs_up(fs):
    peer = await peer_for(fs, None)
    caller, agent = await bridged_call(fs, peer)
    fs.endpoint("user/1003", answer_after=0.01)
    await api(peer, f"originate {{origination_uuid={THIRD}}}user/1003 &park()")
    assert await api(peer, f"uuid_bridge {AGENT} {THIRD}") == f"+OK {THIRD}\n"
    await caller.ended()
    await until(lambda: agent.hears == {THIRD})
    assert caller.leg.hangup_cause == "NORMAL_CLEARING" and fs.call(THIRD).hears == {AGENT}


async def test_uuid_transfer_bleg_without_a_partner_moves_nothing(fs):
    peer = await peer_for(fs, None)
    call = await fs.incoming_call()
    await until(lambda: call.leg.parked)
    assert await api(peer, f"uuid_transfer {call.uuid} -bleg 9196") == "+OK\n"
    await asyncio.sleep(0.05)
    assert call.leg.parked and call.leg.profile.destination_number == "10086"
