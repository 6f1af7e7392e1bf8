"""Tests of the FreeSWITCH double itself: raw sockets against it, compared with the 1.10.12 captures.

No ESL client library is used: bytes go out, bytes come back, and the captures in ``captures/`` say
what a real FreeSWITCH sent for the same exchange. Varying values (UUIDs, dates, sequence numbers)
are normalised before comparing.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import re

import pytest
from freeswitch_double import FreeSwitchDouble
from freeswitch_double_captures import (
    GOODBYE,
    UUID_RE,
    Message,
    OutboundServer,
    Peer,
    capture,
    header_names,
    parse_stream,
    roles_by_name,
    shape,
    summary,
)
from freeswitch_double_wire import url_encode


@pytest.fixture
async def fs():
    double = FreeSwitchDouble(time_scale=0.01, auth_timeout=0.3)
    await double.start()
    yield double
    await double.stop()


async def peer_for(double: FreeSwitchDouble, events: str | None = None) -> Peer:
    peer = await Peer.connect(double.port)
    await peer.login(events)
    return peer


# --- handshake, byte for byte ----------------------------------------------------------------------
async def test_auth_and_exit_bytes_equal_capture_01(fs):
    peer = await Peer.connect(fs.port)
    peer.send("auth ClueCon\n\nexit\n\n")
    assert await peer.until_eof() == capture("01")


async def test_bad_password_bytes_equal_capture_02(fs):
    peer = await Peer.connect(fs.port)
    peer.send("auth wrongpassword\n\n")
    assert await peer.until_eof() == capture("02")


async def test_commands_before_auth_bytes_equal_capture_03(fs):
    peer = await Peer.connect(fs.port)
    peer.send("api status\n\nevent plain ALL\n\nauth ClueCon\n\nexit\n\n")
    assert await peer.until_eof() == capture("03")


async def test_auth_timeout_bytes_equal_capture_04(fs):
    peer = await Peer.connect(fs.port)
    assert await peer.until_eof(within=2.0) == capture("04")


async def test_control_command_replies_equal_capture_14(fs):
    commands = ["auth ClueCon", "event plain", "event plain NOT_AN_EVENT", "event plain all",
                "event json CHANNEL_CREATE", "events plain CHANNEL_ANSWER", "nixevent HEARTBEAT", "nixevent",
                "noevents", "noevents", "myevents", "myevents 00000000-0000-0000-0000-000000000000",
                "myevents 00000000-0000-0000-0000-000000000000 plain", "linger", "linger 5", "nolinger",
                "getvar uuid", "resume", "divert_events on", "log 7", "nolog", "nolog", "log bogus",
                "sendevent CUSTOM\nEvent-Subclass: verify::test\nFoo: bar", "connect", "bogus_command", "api",
                "bgapi", "..."]
    peer = await Peer.connect(fs.port)
    peer.send("".join(f"{command}\n\n" for command in commands))
    got = await peer.until_eof()
    assert UUID_RE.sub(b"<uuid>", got) == UUID_RE.sub(b"<uuid>", capture("14"))


async def test_acl_rejection_is_rude_and_silent():
    async with FreeSwitchDouble(acl_reject=True) as double:
        peer = await Peer.connect(double.port)
        assert await peer.until_eof() == (b"Content-Type: text/rude-rejection\nContent-Length: 24\n\n"
                                          b"Access Denied, go away.\n")


# --- api and bgapi -----------------------------------------------------------------------------------
async def test_api_responses_match_capture_05(fs):
    peer = await Peer.connect(fs.port)
    for command in ("auth ClueCon", "api status", "api version", "api no_such_command",
                    "api uuid_exists 00000000-0000-0000-0000-000000000000",
                    "api uuid_kill 00000000-0000-0000-0000-000000000000", "api global_getvar no_such_var_xyz",
                    "api show channels count", "exit"):
        peer.send(command + "\n\n")
    got = parse_stream(await peer.until_eof())
    assert [shape(m) for m in got] == [shape(m) for m in parse_stream(capture("05"))]


async def test_api_bodies_keep_or_lack_their_newline(fs):
    call = await fs.incoming_call(variables={"hub_interaction_id": "i-42"})
    peer = await peer_for(fs)
    assert (await peer.command(f"api uuid_exists {call.uuid}")).body == b"true"
    assert (await peer.command(f"api uuid_getvar {call.uuid} hub_interaction_id")).body == b"i-42"
    assert (await peer.command(f"api uuid_getvar {call.uuid} never_set")).body == b"_undef_"
    assert (await peer.command("api global_getvar nothing_here")).body == b"-ERR no reply\n"
    assert (await peer.command("api uuid_setvar 00000000-0000-0000-0000-000000000000 a b")).body == (
        b"-ERR No such channel!\n")
    reply = await peer.command(f"api uuid_setvar {call.uuid} note a b")
    assert reply.body == b"+OK\n" and call.variables["note"] == "a b"
    assert reply.headers[0] == ("Content-Type", "api/response") and reply.headers[1][0] == "Content-Length"


async def test_bgapi_replies_and_background_jobs_match_capture_06(fs):
    peer = await peer_for(fs, "plain BACKGROUND_JOB")
    got = []
    for command in ("bgapi status", "bgapi version\nJob-UUID: 11111111-2222-3333-4444-555555555555",
                    "bgapi uuid_kill 00000000-0000-0000-0000-000000000000",
                    "bgapi originate {origination_uuid=aaaaaaaa-0000-4000-8000-000000000001}"
                    "loopback/9196/public &park()",
                    "bgapi originate loopback/no_such_exten/public &park()",
                    "bgapi uuid_kill aaaaaaaa-0000-4000-8000-000000000001"):
        peer.send(command + "\n\n")
        got += [await peer.message(), await peer.message()]  # the reply comes before its job's event
    assert got[2].get("Job-UUID") == "11111111-2222-3333-4444-555555555555"
    assert [shape(m) for m in got] == [shape(m) for m in parse_stream(capture("06"))[3:-2]]


def assert_same_headers(got: list[Message], expected: list[Message]) -> None:
    """Message by message, the same header names in the same order as FreeSWITCH sent them."""
    for mine, real in zip(got, expected, strict=False):
        theirs, ours = header_names(real), header_names(mine)
        diff = "\n".join(difflib.unified_diff(theirs, ours, "captured", "double", lineterm=""))
        assert ours == theirs, f"{real.event_name()}\n{diff}"


# --- url-encoding and event serialisation -----------------------------------------------------------
@pytest.mark.parametrize(("value", "encoded"), [
    ("+4930123456", "%2B4930123456"),
    ("sofia/external/sipp@127.0.0.1:5070", "sofia/external/sipp%40127.0.0.1%3A5070"),
    ("Sun, 22 Nov 2026 03:51:27 GMT", "Sun,%2022%20Nov%202026%2003%3A51%3A27%20GMT"),
    ("fd00::2", "fd00%3A%3A2"),
    ("a+b c:d;e=f%0A100%25 Jörg", "a%2Bb%20c%3Ad%3Be%3Df%0A100%25%20J%C3%B6rg"),  # capture 17
    ("{origination_uuid=aaaaaaaa-0000-4000-8000-000000000001}loopback/9196/public &park()",
     "%7Borigination_uuid%3Daaaaaaaa-0000-4000-8000-000000000001%7Dloopback/9196/public%20%26park()"),
    ("tone_stream://%(1000,0,440)", "tone_stream%3A//%25(1000,0,440)"),  # capture 12
    ("100%", "100%25"), ("%0a lower", "%250a%20lower"), ("50%2", "50%252"),
    ("line\r\nnext\t", "line%0D%0Anext%09"),
    ("\x7f<>?#&[]^`{|}\"\\", "%7F%3C%3E%3F%23%26%5B%5D%5E%60%7B%7C%7D%22%5C"), ("',/()*!$~", "',/()*!$~"),
])
def test_url_encoding_matches_switch_url_encode(value, encoded):
    assert url_encode(value) == encoded


async def test_sendevent_custom_with_body_matches_capture_17(fs):
    peer = await peer_for(fs, "plain CUSTOM verify::test")
    body = b"line one\n\nline three: 100%\n"
    peer.send(b"sendevent CUSTOM\nEvent-Subclass: verify::test\nX-Empty: \n"
              b"X-Value: a+b c:d;e=f%0A100%25 J\xc3\xb6rg\ncontent-type: text/plain\ncontent-length: 27\n\n"
              + body + b"\n\n")
    got = [await peer.message(), await peer.message()]
    assert (await peer.command("event json CUSTOM verify::test")).get("Reply-Text") == (
        "+OK event listener enabled json")
    peer.send(b"sendevent CUSTOM\nEvent-Subclass: verify::test\nX-Value: a+b c:d\ncontent-type: text/plain\n"
              b"content-length: 27\n\n" + body)
    got += [await peer.message(), await peer.message()]
    expected = parse_stream(capture("17"))
    assert [shape(m) for m in got] == [shape(m) for m in (expected[3], expected[4], expected[6], expected[7])]
    event_uuid = got[0].get("Reply-Text").split()[1]
    assert dict(got[1].event())["Event-UUID"] == event_uuid


async def test_json_background_job_and_heartbeat_match_capture_16(fs):
    peer = await peer_for(fs, "json BACKGROUND_JOB HEARTBEAT")
    got = [await peer.command("bgapi status"), await peer.message()]
    fs.heartbeat()
    got.append(await peer.message())
    got.append(await peer.command("event plain HEARTBEAT"))  # the format is per connection, last one wins
    fs.heartbeat()
    got.append(await peer.message())
    assert [shape(m) for m in got] == [shape(m) for m in parse_stream(capture("16"))[3:-2]]
    job = json.loads(got[1].body)
    assert job["Content-Length"] == str(len(job["_body"].encode())) and not got[1].body.endswith(b"\n")


# --- subscriptions and filters ------------------------------------------------------------------------
async def test_filter_replies_and_semantics_match_capture_10(fs):
    peer = await peer_for(fs, "plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB")
    uuid = "aaaaaaaa-0000-4000-8000-000000000010"
    got = [await peer.command(f"filter Unique-ID {uuid}"),
           await peer.command(f"bgapi originate {{origination_uuid={uuid}}}loopback/9196/public &park()")]
    got += await peer.events()  # only the A leg's events: no BACKGROUND_JOB, nothing of the B leg
    got.append(await peer.command("filter Event-Name BACKGROUND_JOB"))
    got.append(await peer.command(f"bgapi uuid_kill {uuid}"))
    got += await peer.events()
    for command in ("filter delete Event-Name BACKGROUND_JOB", "filter delete Unique-ID", "filter delete all",
                    "filter Unique-ID", "filter", "filter delete", "filter Event-Name -CHANNEL_CREATE"):
        got.append(await peer.command(command))
    expected = parse_stream(capture("10"))[3:-2]
    assert [summary(m) for m in got] == [summary(m) for m in expected]


async def test_filters_drop_events_lacking_the_header_and_negative_filters_win(fs):
    peer = await peer_for(fs, "plain ALL")
    await peer.command("filter Event-Name /^CHANNEL_(CREATE|ANSWER)$/")
    await peer.command("filter Caller-Destination-Number -10086")
    await fs.incoming_call(destination="10010", dialplan=[("answer", ""), ("hangup", "")])
    await fs.incoming_call(destination="10086", dialplan=[("answer", ""), ("hangup", "")])
    fs.heartbeat()  # has Event-Name, so the regex filter applies, and it does not match
    got = [m.event_name() for m in await peer.events()]
    assert got == ["CHANNEL_CREATE", "CHANNEL_ANSWER"]  # the 10086 call is dropped by the negative filter
    await peer.command("filter delete all")
    await peer.command("filter Unique-ID -00000000-0000-0000-0000-000000000000")
    fs.heartbeat()
    await fs.incoming_call(dialplan=[("hangup", "")])
    assert await peer.events() == []  # a lone negative filter leaves nothing to send (send starts at 0)


async def test_subscriptions_accumulate_nixevent_and_custom_subclasses(fs):
    peer = await peer_for(fs, "plain HEARTBEAT")
    assert (await peer.command("event json CUSTOM callcenter::info")).get("Reply-Text") == (
        "+OK event listener enabled json")
    fs.heartbeat()
    fs.fire_custom("callcenter::info", [("CC-Action", "agent-status-change")])
    fs.fire_custom("sofia::register", [("profile-name", "internal")])
    got = await peer.events()
    assert [json.loads(m.body)["Event-Name"] for m in got] == ["HEARTBEAT", "CUSTOM"]
    assert next(iter(json.loads(got[1].body))) == "Event-Subclass"  # CUSTOM: Event-Subclass first
    await peer.command("event plain ALL")
    await peer.command("nixevent HEARTBEAT")
    fs.heartbeat()
    fs.fire_custom("callcenter::info", [("CC-Action", "members-count")])
    assert [m.event_name() for m in await peer.events()] == ["CUSTOM"]
    assert (await peer.command("noevents")).get("Reply-Text") == "+OK no longer listening for events"
    fs.heartbeat()
    assert await peer.events() == []


# --- scripted calls against the captured sequences -------------------------------------------------------
SIP_CALL_EVENTS = ("CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_HANGUP "
                   "CHANNEL_HANGUP_COMPLETE")


async def bridged_sip_call(fs: FreeSwitchDouble, fmt: str) -> list[Message]:
    """Capture 08's scenario: a SIP call whose dialplan bridges loopback/9664, then the caller hangs up."""
    peer = await peer_for(fs, f"{fmt} {SIP_CALL_EVENTS}")
    call = await fs.incoming_call("sipp", "bridge_tone", dialplan=[("bridge", "loopback/9664/public")])
    got = await peer.events()
    call.hangup()
    return got + await peer.events()


async def test_sip_call_bridged_to_loopback_matches_capture_08(fs):
    got = await bridged_sip_call(fs, "plain")
    expected = [m for m in parse_stream(capture("08")) if m.kind == "text/event-plain"]
    assert [summary(m, roles_by_name(got)) for m in got] == [
        summary(m, roles_by_name(expected)) for m in expected]
    for mine, real in zip(got, expected, strict=True):  # same header names in the same order
        assert [k for k, _ in mine.event() if not k.startswith("variable_")] == [
            k for k, _ in real.event() if not k.startswith("variable_")], real.event_name()
    complete = dict(got[-1].event())
    assert complete["Hangup-Cause"] == "NORMAL_CLEARING" and "variable_billsec" in complete


async def test_sip_call_in_json_matches_capture_09(fs):
    got = await bridged_sip_call(fs, "json")
    expected = [m for m in parse_stream(capture("09")) if m.kind == "text/event-json"]
    assert [summary(m, roles_by_name(got)) for m in got] == [
        summary(m, roles_by_name(expected)) for m in expected]
    assert all(not m.body.endswith(b"\n") for m in got)
    assert [k for k, _ in got[-1].event()].count("Hangup-Cause") == 2  # duplicated headers stay in JSON


async def parked_loopback(fs: FreeSwitchDouble, uuid: str) -> None:
    """The captures' parked leg: bgapi originate {origination_uuid=...}loopback/9196/public &park()."""
    peer = await peer_for(fs, "plain CHANNEL_PARK")
    await peer.command(f"bgapi originate {{origination_uuid={uuid}}}loopback/9196/public &park()")
    assert dict((await peer.message()).event())["Unique-ID"] == uuid
    peer.close()


async def test_sendmsg_execute_and_hangup_match_capture_12(fs):
    uuid = "aaaaaaaa-0000-4000-8000-000000000012"
    peer = await peer_for(fs, "plain CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP_COMPLETE "
                              "BACKGROUND_JOB PLAYBACK_START PLAYBACK_STOP")
    got = [await peer.command(f"filter Unique-ID {uuid}"),
           await peer.command("filter Event-Name BACKGROUND_JOB"),
           await peer.command(f"bgapi originate {{origination_uuid={uuid}}}loopback/9196/public &park()")]
    got += await peer.events()
    peer.send("".join(
        f"sendmsg {uuid}\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: {tone}\n"
        f"event-lock: true\nEvent-UUID: 5d0c7e12-7b7f-4c35-9b6a-00000000000{n}\n\n"
        for n, tone in ((1, "tone_stream://%(1000,0,440)"), (2, "tone_stream://%(500,0,880)"))))
    peer.send(f"sendmsg {uuid}\ncall-command: execute\nexecute-app-name: set\ncontent-type: text/plain\n"
              "content-length: 20\n\nverify_body=a b\nc d\n\n\n")
    got += [await peer.message() for _ in range(3)] + await peer.events()
    got.append(await peer.command("sendmsg 00000000-0000-0000-0000-000000000000\ncall-command: execute\n"
                                  "execute-app-name: answer"))
    got.append(await peer.command(f"sendmsg {uuid}\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING"))
    got += await peer.events()
    expected = parse_stream(capture("12"))[3:-2]
    assert [summary(m) for m in got] == [summary(m) for m in expected]
    assert_same_headers(got, expected)
    executes = [dict(m.event()) for m in got if m.event_name() == "CHANNEL_EXECUTE_COMPLETE"]
    assert [e["Application-UUID"][-2:] for e in executes[:2]] == ["01", "02"]  # Event-UUID comes back
    assert executes[0]["Application-Response"] == "FILE%20PLAYED"
    assert executes[2]["Application-Data"] == "verify_body%3Da%20b%0Ac%20d%0A"  # the body is the argument
    assert executes[2]["variable_verify_body"] == "a%20b%0Ac%20d%0A"


async def test_myevents_and_linger_match_capture_13(fs):
    uuid = "aaaaaaaa-0000-4000-8000-000000000013"
    await parked_loopback(fs, uuid)
    peer = await Peer.connect(fs.port)
    peer.send(f"auth ClueCon\n\nmyevents {uuid} plain\n\nmyevents {uuid} plain\n\n"
              "linger 3\n\ngetvar uuid\n\n")
    replies = [await peer.message() for _ in range(6)]
    assert [summary(m) for m in replies] == [summary(m) for m in parse_stream(capture("13"))[:6]]
    killer = await peer_for(fs)
    assert (await killer.command(f"api uuid_kill {uuid}")).body == b"+OK\n"
    got = parse_stream(await peer.until_eof(within=2.0))
    expected = parse_stream(capture("13"))
    assert [summary(m) for m in got] == [summary(m) for m in expected[6:]]
    assert_same_headers(got, expected[6:])
    assert got[-2].headers == expected[-2].headers  # the linger notice: order, raw Channel-Name, Linger-Time
    assert got[-1].headers == expected[-1].headers and got[-1].body == expected[-1].body
    assert fs.channels == {}  # CHANNEL_DESTROY waited for the listener to let go of the session


async def test_originate_quoting_hold_transfer_kill_on_loopback_match_capture_11(fs):
    uuid = "aaaaaaaa-0000-4000-8000-000000000011"
    peer = await peer_for(fs, "plain CHANNEL_HOLD CHANNEL_UNHOLD CHANNEL_CALLSTATE CHANNEL_EXECUTE "
                              "CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB CALL_UPDATE")
    got = await peer.exchange(f"filter Unique-ID {uuid}")
    got += await peer.exchange("filter Event-Name BACKGROUND_JOB")
    got += await peer.exchange(
        f"bgapi originate {{origination_uuid={uuid},origination_caller_id_name='Jörg Müller',"
        "origination_caller_id_number=+4930123456,verify_q='a,b',verify_e=a\\,b,verify_sp='x y',"
        "verify_pct=100%25}loopback/9196/public &park()")
    names = ("verify_q", "verify_e", "verify_sp", "verify_pct", "origination_caller_id_name")
    for command in (*(f"api uuid_getvar {uuid} {v}" for v in names),
                    f"api uuid_hold {uuid}", f"api uuid_hold off {uuid}", f"api uuid_hold toggle {uuid}",
                    f"api uuid_hold toggle {uuid}", "api uuid_hold 00000000-0000-0000-0000-000000000000",
                    f"api uuid_transfer {uuid} 9664 XML public",
                    "api uuid_transfer 00000000-0000-0000-0000-000000000000 9664",
                    f"api uuid_kill {uuid} USER_BUSY", f"api uuid_kill {uuid}"):
        got += await peer.exchange(command)
    expected = parse_stream(capture("11"))[3:-2]
    assert [summary(m) for m in got] == [summary(m) for m in expected]
    assert_same_headers(got, expected)
    complete = dict(got[-2].event())
    assert (complete["Hangup-Cause"], complete["variable_hangup_cause_q850"]) == ("USER_BUSY", "17")


async def test_hold_unhold_toggle_on_a_sip_leg_match_capture_11b(fs):
    uuid = "aaaaaaaa-0000-4000-8000-000000000111"
    fs.endpoint("sofia/internal/park@127.0.0.1:5080", ring=False)
    peer = await peer_for(fs, "plain CHANNEL_HOLD CHANNEL_UNHOLD CHANNEL_CALLSTATE BACKGROUND_JOB")
    got = await peer.exchange(f"filter Unique-ID {uuid}")
    got += await peer.exchange("filter Event-Name BACKGROUND_JOB")
    got += await peer.exchange(f"bgapi originate {{origination_uuid={uuid},verify_q='a,b',verify_dq=\"c,d\","
                               "verify_e=a\\,b}sofia/internal/park@127.0.0.1:5080 &park()")
    for command in (*(f"api uuid_getvar {uuid} {v}" for v in ("verify_q", "verify_dq", "verify_e")),
                    f"api uuid_hold {uuid}", f"api uuid_hold {uuid}", f"api uuid_hold off {uuid}",
                    f"api uuid_hold toggle {uuid}", f"api uuid_hold toggle {uuid}", f"api uuid_kill {uuid}"):
        got += await peer.exchange(command)
    expected = parse_stream(capture("11b"))[3:-2]
    assert [summary(m) for m in got] == [summary(m) for m in expected]
    assert_same_headers(got, expected)
    hold, unhold = [dict(m.event()) for m in got if m.event_name() in ("CHANNEL_HOLD", "CHANNEL_UNHOLD")][:2]
    assert hold["Caller-Channel-Last-Hold"] != "0" and int(unhold["Caller-Channel-Hold-Accum"]) > 0


# --- outbound mode -----------------------------------------------------------------------------------------
async def test_outbound_async_full_session_matches_capture_20(fs):
    async with OutboundServer() as server:
        call = await fs.incoming_call("sipp", "sock_async", dialplan=[])
        await call.socket(f"127.0.0.1:{server.port} async full")
        peer = await server.peers.get()
        with pytest.raises(TimeoutError):
            await peer.message(within=0.05)  # FreeSWITCH sends nothing until we speak
        peer.send("connect\n\n")
        data = await peer.message()
        real = parse_stream(capture("20"))
        assert [k for k, _ in data.headers if not k.startswith("variable_")] == [
            k for k, _ in real[0].headers if not k.startswith("variable_")]
        assert data.headers[-4:] == [("Content-Type", "command/reply"), ("Reply-Text", "%2BOK%0A"),
                                     ("Socket-Mode", "async"), ("Control", "full")]
        assert dict(data.headers)["Channel-Call-State"] == "RINGING"
        commands = ("myevents", "myevents", "linger 5", "getvar destination_number",
                    "getvar no_such_variable", "event plain PLAYBACK_START PLAYBACK_STOP",
                    "api uuid_exists 00000000-0000-0000-0000-000000000000",
                    "sendmsg\ncall-command: execute\nexecute-app-name: answer\n"
                    "Event-UUID: 00000000-aaaa-4000-8000-000000000001",
                    "sendmsg\ncall-command: execute\nexecute-app-name: play_and_get_digits\nexecute-app-arg: "
                    "1 1 1 7000 # silence_stream://7000 silence_stream://250 pagd_digit \\d 3000\n"
                    "event-lock: true\nEvent-UUID: 00000000-aaaa-4000-8000-000000000002")
        peer.send("".join(f"{command}\n\n" for command in commands))  # back to back, as in the capture
        got = [await peer.message() for _ in commands]
        while got[-1].event_name() != "PLAYBACK_START":
            got.append(await peer.message())
        await call.press("1")
        while got[-1].event_name() != "CHANNEL_EXECUTE_COMPLETE":
            got.append(await peer.message())
        await call.press("2")
        got.append(await peer.message())
        call.hangup()
        got += parse_stream(await peer.until_eof())
    assert [summary(m) for m in got] == [summary(m) for m in real[1:]]
    assert_same_headers(got, real[1:])
    assert dict(got[-10].event())["variable_pagd_digit"] == "1"
    assert [k for k, _ in got[-2].headers] == [k for k, _ in real[-2].headers]
    assert got[-2].get("Linger-Time") == "5"
    assert got[-2].get("Channel-Name") == f"sofia/external/sipp@{call.leg.profile.network_addr}:5060"  # raw
    assert got[-1].headers[2] == ("Content-Disposition", "disconnect")


async def test_outbound_static_single_channel_matches_capture_21(fs):
    async with OutboundServer() as server:
        call = await fs.incoming_call("sipp", "sock_static", dialplan=[])
        await call.socket(f"127.0.0.1:{server.port}")
        peer = await server.peers.get()
        peer.send("myevents\n\n")
        with pytest.raises(TimeoutError):
            await peer.message(within=0.05)  # a first command other than connect gets no reply...
        got = [await peer.command("connect")]
        assert got[0].headers[-2:] == [("Socket-Mode", "static"), ("Control", "single-channel")]
        for command in ("api status", "bgapi status", "event plain ALL", "linger", "nolinger", "log 7",
                        "getvar uuid", "myevents", "filter Event-Name DTMF", "divert_events on",
                        "sendmsg\ncall-command: execute\nexecute-app-name: answer"):
            got.append(await peer.command(command))
        started = asyncio.get_running_loop().time()
        got.append(await peer.command("sendmsg\ncall-command: execute\nexecute-app-name: playback\n"
                                      "execute-app-arg: tone_stream://%(1500,0,440)"))
        assert asyncio.get_running_loop().time() - started >= 1.5 * fs.time_scale  # +OK after the app
        got.append(await peer.command("sendmsg\ncall-command: execute\nexecute-app-name: playback\n"
                                      "execute-app-arg: tone_stream://%(1500,0,440)\nasync: true"))
        call.hangup()
        got += parse_stream(await peer.until_eof())
    real = parse_stream(capture("21"))
    assert [summary(m) for m in got[1:]] == [summary(m) for m in real[1:]]  # ...but it ran: aready enabled
    assert got[-1].headers[1] == ("Controlled-Session-UUID", call.uuid)


async def test_event_all_stream_and_api_blocking_match_capture_07(fs):
    uuid = "aaaaaaaa-0000-4000-8000-000000000007"
    peer = await peer_for(fs, "plain ALL")
    # While `api msleep` runs, the call's events queue up and only follow its api/response.
    peer.send(f"bgapi originate {{origination_uuid={uuid}}}loopback/9196/public &park()\n\n"
              "api msleep 100\n\n")
    got = [await peer.message(), await peer.message()]
    assert [m.kind for m in got] == ["command/reply", "api/response"]
    got += await peer.events()
    peer.send(f"bgapi uuid_kill {uuid}\n\napi uptime\n\n")
    got += [await peer.message(), await peer.message()] + await peer.events()
    peer.send("noevents\n\nexit\n\n")
    got += parse_stream(await peer.until_eof())
    expected = [m for m in parse_stream(capture("07"))[3:] if m.event_name() != "CODEC"]
    later_uptimes = [i for i, m in enumerate(expected) if m.kind == "api/response"][2:]
    expected = [m for i, m in enumerate(expected) if i not in later_uptimes and i - 1 not in later_uptimes]

    def view(messages: list[Message]) -> list[tuple[str, ...]]:
        return [tuple(re.sub(r"\d+", "N", part) for part in summary(m, roles_by_name(messages)))
                for m in messages]
    assert view(got) == view(expected)
    assert_same_headers(got, expected)


async def test_eavesdrop_with_dtmf_matches_capture_22(fs):
    peer = await peer_for(fs, "plain CHANNEL_BRIDGE CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE DTMF "
                              "MEDIA_BUG_START MEDIA_BUG_STOP CHANNEL_HANGUP_COMPLETE")
    customer = await fs.incoming_call("sipp", "bridge_tone", dialplan=[("bridge", "loopback/9664/public")])
    got = await peer.events()
    got.append(await peer.command(f"api global_setvar eaves_target={customer.uuid}"))
    supervisor = await fs.incoming_call("sipp", "eaves", dialplan=[
        ("answer", ""), ("eavesdrop", "${eaves_target}"), ("park", "")])
    got += await peer.events()
    for digit in "123*":  # 1, 2, 3 change the mode silently; * ends the eavesdrop
        await supervisor.press(digit)
    got += await peer.events()
    supervisor.hangup()
    got += await peer.events()
    customer.hangup()
    tail = await peer.events()
    expected = parse_stream(capture("22"))[3:-2]
    roles = roles_by_name(got + tail)
    roles[supervisor.uuid] = "supervisor"
    real_roles = roles_by_name(expected) | {"23078a5f-181d-4091-b7bb-5100a5448171": "supervisor"}
    head = len(got)
    assert [summary(m, roles) for m in got] == [summary(m, real_roles) for m in expected[:head]]
    assert_same_headers(got, expected)
    # After the customer's BYE the legs wind down in parallel threads: same events, order may differ.
    assert sorted(summary(m, roles) for m in tail) == sorted(summary(m, real_roles) for m in expected[head:])
    bug = dict(next(m for m in got if m.event_name() == "MEDIA_BUG_START").event())
    assert (bug["Unique-ID"], bug["Media-Bug-Function"], bug["Media-Bug-Target"]) == (
        customer.uuid, "eavesdrop", customer.uuid)


async def test_sendmsg_and_broadcast_on_a_bridged_leg_match_capture_23(fs):
    peer = await peer_for(fs, "plain CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_EXECUTE "
                              "CHANNEL_EXECUTE_COMPLETE PLAYBACK_START PLAYBACK_STOP CHANNEL_HANGUP_COMPLETE")
    call = await fs.incoming_call("sipp", "bridge_tone", dialplan=[("bridge", "loopback/9664/public")])
    got = await peer.events()
    got.append(await peer.command(
        f"sendmsg {call.uuid}\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: "
        "tone_stream://%(1000,0,660)\nEvent-UUID: 5d0c7e12-7b7f-4c35-9b6a-000000000023"))
    got += await peer.events()
    got.append(await peer.command(f"api uuid_broadcast {call.uuid} tone_stream://%(1000,0,770) aleg"))
    got += await peer.events()
    call.hangup()
    tail = await peer.events()
    expected = parse_stream(capture("23"))[3:-2]
    head = len(got)
    assert [summary(m, roles_by_name(got)) for m in got] == [
        summary(m, roles_by_name(expected)) for m in expected[:head]]
    assert_same_headers(got, expected)
    assert sorted(summary(m, roles_by_name(got + tail)) for m in tail) == sorted(
        summary(m, roles_by_name(expected)) for m in expected[head:])
    assert not [m for m in got if m.event_name() == "CHANNEL_UNBRIDGE"]  # the bridge carried on


# --- contact-center scenarios (reference 6.3) ----------------------------------------------------------
async def test_customer_parked_agent_originated_bridged_then_customer_hangs_up(fs):
    fs.endpoint("user/1001", answer_after=0.02)
    peer = await peer_for(fs, "plain CHANNEL_CREATE CHANNEL_PROGRESS CHANNEL_ANSWER CHANNEL_PARK "
                              "CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE "
                              "BACKGROUND_JOB")
    customer = await fs.incoming_call("+8613800000000", "10086", caller_name="Jörg")
    agent = "aaaaaaaa-0000-4000-8000-00000000cc01"
    got = await peer.events()
    got.append(await peer.command(f"bgapi originate {{origination_uuid={agent},ignore_early_media=true,"
                                  "originate_timeout=20}user/1001 &park()"))
    got += await peer.events()
    assert (await peer.command(f"api uuid_bridge {customer.uuid} {agent}")).body == f"+OK {agent}\n".encode()
    got += await peer.events()
    customer.hangup()
    got += await peer.events()
    roles = {customer.uuid: "customer", agent: "agent"}
    assert [summary(m, roles)[:2] for m in got] == [
        ("CHANNEL_CREATE", "customer"), ("CHANNEL_ANSWER", "customer"), ("CHANNEL_PARK", "customer"),
        ("command/reply", "+OK Job-UUID: <uuid>"), ("CHANNEL_CREATE", "agent"), ("CHANNEL_PROGRESS", "agent"),
        ("CHANNEL_ANSWER", "agent"), ("BACKGROUND_JOB", ""), ("CHANNEL_PARK", "agent"),
        ("CHANNEL_BRIDGE", "customer"), ("CHANNEL_HANGUP", "customer"), ("CHANNEL_HANGUP", "agent"),
        ("CHANNEL_HANGUP_COMPLETE", "agent"), ("CHANNEL_UNBRIDGE", "customer"),
        ("CHANNEL_HANGUP_COMPLETE", "customer")]
    bridge = dict(next(m for m in got if m.event_name() == "CHANNEL_BRIDGE").event())
    assert (bridge["Bridge-A-Unique-ID"], bridge["Bridge-B-Unique-ID"]) == (customer.uuid, agent)
    assert bridge["Caller-Caller-ID-Name"] == "J%C3%B6rg" and bridge["Other-Leg-Unique-ID"] == agent
    completes = [dict(m.event()) for m in got if m.event_name() == "CHANNEL_HANGUP_COMPLETE"]
    assert all("variable_billsec" in e and e["variable_bridge_uuid"] for e in completes)


@pytest.mark.parametrize(("script", "dialstring", "body"), [
    ({"answers": False}, "{originate_timeout=3}user/1001", "-ERR NO_ANSWER\n"),
    ({"reject": "USER_BUSY"}, "user/1001", "-ERR USER_BUSY\n"),
    ({"reject": "CALL_REJECTED"}, "user/1001", "-ERR CALL_REJECTED\n"),
    ({"registered": False}, "user/1001", "-ERR USER_NOT_REGISTERED\n"),
    ({}, "user/2002", "-ERR SUBSCRIBER_ABSENT\n"),
    ({}, "{fax_ident=+49 30 1234567,originate_timeout=3}user/1001", "-ERR DESTINATION_OUT_OF_ORDER\n"),
    ({}, "error/user_busy", "-ERR USER_BUSY\n"),
])
async def test_originate_failures_come_back_as_background_job_bodies(fs, script, dialstring, body):
    fs.endpoint("user/1001", **script)
    peer = await peer_for(fs, "plain BACKGROUND_JOB CHANNEL_HANGUP_COMPLETE")
    await peer.command(f"bgapi originate {dialstring} &park()")
    job = [m for m in await peer.events() if m.event_name() == "BACKGROUND_JOB"]
    assert job[0].body.split(b"\n\n", 1)[1] == body.encode()


async def test_caller_hanging_up_while_the_agent_rings_cancels_the_agent_leg(fs):
    fs.endpoint("user/1001", answer_after=5.0)
    peer = await peer_for(fs, "plain CHANNEL_HANGUP_COMPLETE")
    customer = await fs.incoming_call(dialplan=[("answer", ""), ("bridge", "user/1001")])
    await asyncio.sleep(0.05)
    customer.hangup("ORIGINATOR_CANCEL")
    causes = {dict(m.event())["Channel-Name"].split("/")[1]: dict(m.event())["Hangup-Cause"]
              for m in await peer.events()}
    assert causes == {"external": "ORIGINATOR_CANCEL", "internal": "ORIGINATOR_CANCEL"}


async def test_ring_all_first_answer_wins_and_the_others_lose_the_race(fs):
    fs.endpoint("user/1001", answer_after=0.01)
    fs.endpoint("user/1002", answer_after=1.0)
    peer = await peer_for(fs, "plain CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE")
    reply = await peer.command("api originate user/1001,user/1002 &park()")
    winner = reply.body.decode().split()[1]
    events = {(m.event_name(), dict(m.event())["Caller-Destination-Number"],
               dict(m.event()).get("Hangup-Cause", "")) for m in await peer.events()}
    assert events == {("CHANNEL_ANSWER", "1001", ""), ("CHANNEL_HANGUP_COMPLETE", "1002", "LOSE_RACE")}
    assert fs.locate(winner) is not None


async def test_show_channels_json_and_csv_shapes(fs):
    peer = await peer_for(fs)
    assert (await peer.command("api show channels as json")).body == b'{"row_count": 0}\n'
    assert (await peer.command("api show channels")).body == b"\n0 total.\n"
    call = await fs.incoming_call(caller_name="Zoë")
    rows = json.loads((await peer.command("api show channels as json")).body)
    assert rows["row_count"] == 1 and len(rows["rows"]) == 1
    row = rows["rows"][0]
    assert list(row)[:6] == ["uuid", "direction", "created", "created_epoch", "name", "state"]
    assert len(row) == 38 and all(isinstance(v, str) for v in row.values())
    assert (row["uuid"], row["cid_name"], row["callstate"], row["application"]) == (
        call.uuid, "Zoë", "ACTIVE", "park")
    csv = (await peer.command("api show channels")).body.decode().split("\n")
    assert csv[0].startswith("uuid,direction,created,") and csv[1].startswith(call.uuid)
    assert csv[-2] == "1 total."
    assert (await peer.command("api show channels count as json")).body == b'{"row_count":1,"rows":[]}'


async def test_uuid_record_send_dtmf_and_hupall(fs):
    peer = await peer_for(fs, "plain RECORD_START RECORD_STOP CHANNEL_HANGUP_COMPLETE")
    call = await fs.incoming_call()
    assert (await peer.command(f"api uuid_record {call.uuid} start /tmp/r.wav")).body == b"+OK Success\n"
    assert (await peer.command(f"api uuid_record {call.uuid} mask /tmp/r.wav")).body == b"+OK Success\n"
    assert (await peer.command(f"api uuid_record {call.uuid} stop /tmp/x.wav")).body == (
        b"-ERR Cannot stop record session!\n")
    assert (await peer.command(f"api uuid_record {call.uuid} stop all")).body == b"+OK Success\n"
    assert (await peer.command(f"api uuid_send_dtmf {call.uuid} 12#")).body == (
        f"+OK {call.uuid} sent DTMF 12#.\n".encode())
    assert call.leg.sent_dtmf == ["12#"]
    assert (await peer.command("api hupall NORMAL_CLEARING")).body == (
        b"+OK hangup all channels with cause NORMAL_CLEARING\n")
    events = peer.skipped + await peer.events()
    names = [(m.event_name(), dict(m.event()).get("Record-File-Path")) for m in events]
    assert names == [("RECORD_START", "/tmp/r.wav"), ("RECORD_STOP", "/tmp/r.wav"),
                     ("CHANNEL_HANGUP_COMPLETE", None)]


# --- wire realism knobs -------------------------------------------------------------------------------------
async def test_chunked_and_coalesced_writes_carry_the_same_bytes():
    streams, reads = [], []
    for knobs in ({}, {"chunking": 1, "chunk_delay": 0.0}, {"chunking": "random"}, {"coalesce": True}):
        async with FreeSwitchDouble(**knobs) as double:
            peer = await Peer.connect(double.port)
            peer.send("auth ClueCon\n\napi uuid_exists x\n\nexit\n\n")
            data, count = b"", 0
            while chunk := await asyncio.wait_for(peer.reader.read(65536), 1.0):
                data, count = data + chunk, count + 1
            streams.append(data)
            reads.append(count)
    assert streams[0] == streams[1] == streams[2] == streams[3]
    assert reads[2] > 4  # the frames really arrived in pieces


async def test_heartbeats_on_an_interval():
    async with FreeSwitchDouble(heartbeat_interval=0.02) as double:
        peer = await Peer.connect(double.port)
        await peer.login("plain HEARTBEAT")
        assert (await peer.message()).event_name() == "HEARTBEAT"


async def test_coalesce_puts_several_frames_in_one_write():
    async with FreeSwitchDouble(coalesce=True) as double:
        peer = await Peer.connect(double.port)
        await peer.message()
        peer.send("auth ClueCon\n\nevent plain HEARTBEAT\n\n")
        double.heartbeat()
        first = await peer.reader.read(65536)
        assert first.count(b"Content-Type: command/reply") == 2


async def test_slow_consumer_is_killed_after_too_many_lost_events():
    async with FreeSwitchDouble(event_queue_size=5, max_missed_events=3, send_buffer=4096) as double:
        peer = await Peer.connect(double.port, rcvbuf=4096)
        await peer.login("plain HEARTBEAT")
        for _ in range(2000):  # the client does not read; the socket fills, then the queue
            double.heartbeat()
            await asyncio.sleep(0)
            if not double.connections:
                break
        data = parse_stream(await peer.until_eof())
    assert data[-1].kind == "text/disconnect-notice"
    assert data[-1].body == b"killed listener because of lost events\n"
    assert 5 < len(data) < 2000


async def test_kill_connections_resets_without_notice_and_restart_sends_the_shutdown_notice(fs):
    peer = await peer_for(fs)
    fs.kill_connections()
    with pytest.raises(ConnectionResetError):  # a reset, not a FIN, and no notice before it
        await peer.until_eof()
    peer = await peer_for(fs)
    core = fs.core_uuid
    await fs.incoming_call()
    await fs.restart()
    assert await peer.until_eof() == (b"Content-Type: text/disconnect-notice\nContent-Length: 31\n\n"
                                      b"The system is being shut down.\n")
    assert fs.core_uuid != core and fs.channels == {}
    again = await peer_for(fs)  # same port after the restart
    assert (await again.command("api show channels count")).body == b"\n0 total.\n"


async def test_every_command_is_recorded_per_connection(fs):
    first, second = await peer_for(fs), await peer_for(fs)
    await first.command("bgapi originate user/9 &park()")
    await second.command("api status")
    assert [line for _, line in fs.commands] == [
        "auth ClueCon", "auth ClueCon", "bgapi originate user/9 &park()", "api status"]
    assert not any(line.startswith("api originate") for _, line in fs.commands)
    assert len({conn for conn, _ in fs.commands}) == 2


async def test_command_framing_crlf_blank_lines_bodies_and_bad_lengths(fs):
    peer = await Peer.connect(fs.port)
    await peer.message()
    peer.send(b"\n\r\nauth ClueCon\r\n\r\n")  # leading blank lines skipped, \r tolerated
    assert (await peer.message()).get("Reply-Text") == "+OK accepted"
    body = b"Content-Length: 99\n\nnot a header\n\n"
    peer.send(b"event plain CUSTOM a::b\n\nsendevent CUSTOM\nEvent-Subclass: a::b\ncontent-length: %d\n\n%s"
              % (len(body), body))
    await peer.message(), await peer.message()
    event = await peer.message()
    assert event.body.endswith(b"Content-Length: %d\n\n%s" % (len(body), body))
    peer.send(b"sendevent CUSTOM\ncontent-length: -1\n\n")
    assert (await peer.until_eof()).endswith(GOODBYE)  # a negative length drops the connection


async def test_outbound_socket_closing_hangs_up_unless_resume_and_silence_times_out(fs):
    async with OutboundServer() as server:
        call = await fs.incoming_call(dialplan=[])
        await call.socket(f"127.0.0.1:{server.port} async full")
        peer = await server.peers.get()
        await peer.command("connect")
        assert (await peer.command("resume")).get("Reply-Text") == "+OK"
        peer.close()  # with resume the call goes on in the dialplan instead of hanging up
        await call.execute("set", "after_socket=yes")
        await asyncio.sleep(0.05)
        assert call.variables["after_socket"] == "yes" and fs.locate(call.uuid) is not None
        await call.socket(f"127.0.0.1:{server.port} async full")
        silent = await server.peers.get()  # never sends connect: FreeSWITCH gives up after the timeout
        notice = (f"Content-Type: text/disconnect-notice\nControlled-Session-UUID: {call.uuid}\n"
                  "Content-Disposition: disconnect\nContent-Length: 67\n\n").encode()
        assert await silent.until_eof(within=2.0) == notice + GOODBYE.split(b"\n\n")[1]
        # FreeSWITCH keeps waiting for the connect that never came, so the call stays in the socket app.
        assert fs.locate(call.uuid) is not None
        call.hangup()
        await call.ended()
        other = await fs.incoming_call(dialplan=[])
        await other.socket(f"127.0.0.1:{server.port} async full")
        peer = await server.peers.get()
        await peer.command("connect")
        peer.close()  # without resume, closing the socket ends the call
        await other.ended()
        port = server.port
    with pytest.raises(ConnectionRefusedError):  # nobody listens: the socket app fails
        await (await fs.incoming_call(dialplan=[])).socket(f"127.0.0.1:{port} async full")


async def test_core_uuid_is_stable_and_sequence_numbers_increase(fs):
    peer = await peer_for(fs, "plain ALL")
    call = await fs.incoming_call()
    call.hangup()
    events = [dict(m.event()) for m in await peer.events()]
    assert len({e["Core-UUID"] for e in events}) == 1 and events[0]["Core-UUID"] == fs.core_uuid
    sequences = [int(e["Event-Sequence"]) for e in events]
    assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)
    assert all(e["Event-Date-Timestamp"].isdigit() and len(e["Event-Date-Timestamp"]) == 16 for e in events)


async def test_log_lines_reach_only_listeners_that_asked_for_them(fs):
    peer = await peer_for(fs, "plain HEARTBEAT")
    assert (await peer.command("log 6")).get("Reply-Text") == "+OK log level 6 [6]"
    fs.log("debug noise\n", level=7)
    fs.log("[NOTICE] call arrived\n", level=5)
    fs.heartbeat()  # unsolicited messages of two kinds, in the order they happened
    got = [await peer.message(), await peer.message()]
    assert [m.kind for m in got] == ["log/data", "text/event-plain"]
    assert got[0].body == b"[NOTICE] call arrived\n" and got[0].get("Log-Level") == "5"
    assert (await peer.command("nolog")).get("Reply-Text") == "+OK no longer logging"
