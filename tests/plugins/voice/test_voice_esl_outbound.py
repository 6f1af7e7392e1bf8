"""The outbound socket server: FreeSWITCH dials in per call, scripted here with real capture bytes.

A fake FreeSWITCH connects to the server, reads each command, and answers with messages
cut out of ``captures/20-outbound-async-full.txt`` and ``21-outbound-static.txt`` (the
``connect`` reply carrying the channel data, the replies, the call's events, the linger
and disconnect notices), or built here for what the captures do not show.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from hub.errors import ChannelError
from plugins.voice.esl.errors import ConnectionLost
from plugins.voice.esl.events import Event
from plugins.voice.esl.frames import FrameParser
from plugins.voice.esl.link import Options
from plugins.voice.esl.outbound import OutboundServer, OutboundSession

CAPTURES = Path(__file__).parent / "captures"
FAST = Options(command_seconds=0.5, idle_seconds=None)
CALL = "72544812-38a6-49ec-9523-d2af03ff4927"
"""The Unique-ID of the call in capture 20."""


def messages(name: str) -> list[bytes]:
    """The bytes of each message in capture ``name``, as FreeSWITCH sent them."""
    data = (CAPTURES / name).read_bytes().partition(b"\n## ---\n")[2]
    cut, pieces = 0, []
    for message in FrameParser().feed(data):
        pieces.append(data[cut:cut + message.size])
        cut += message.size
    return pieces


ASYNC_FULL = messages("20-outbound-async-full.txt")
STATIC = messages("21-outbound-static.txt")


def frame(*lines: str, body: bytes = b"") -> bytes:
    return ("\n".join(lines) + "\n\n").encode() + body


def reply(text: str) -> bytes:
    return frame("Content-Type: command/reply", f"Reply-Text: {text}")


def event(name: str, **headers: str) -> bytes:
    inner = ("\n".join([f"Event-Name: {name}", *(f"{k.replace('_', '-')}: {v}" for k, v in headers.items())])
             + "\n\n").encode()
    return frame(f"Content-Length: {len(inner)}", "Content-Type: text/event-plain", body=inner)


class FakeCall:
    """FreeSWITCH's end of one outbound socket: dials the hub, reads commands, writes bytes."""

    async def dial(self, port: int) -> FakeCall:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        return self

    async def command(self) -> str:
        head = (await asyncio.wait_for(self.reader.readuntil(b"\n\n"), 1))[:-2].decode()
        length = re.search(r"(?im)^content-length: (\d+)$", head)
        body = await self.reader.readexactly(int(length.group(1))) if length else b""
        return head + ("\n\n" + body.decode() if body else "")

    async def answer(self, expected: str, *replies: bytes) -> str:
        command = await self.command()
        assert command.startswith(expected), command
        self.writer.write(b"".join(replies))
        return command

    async def handshake(self, connect_reply: bytes = ASYNC_FULL[0], linger: bytes = ASYNC_FULL[3],
                        seconds: int = 5) -> None:
        await self.answer("connect", connect_reply)
        await self.answer("myevents json", reply("+OK Events Enabled"))
        await self.answer("resume", reply("+OK"))
        await self.answer(f"linger {seconds}", linger)

    async def closed(self) -> bool:
        """Whether the hub closed the socket (without sending anything more)."""
        return await asyncio.wait_for(self.reader.read(), 1) == b""


Body = Callable[[OutboundSession], Awaitable[Any]]


class Calls:
    """A handler that runs ``body`` for each call and keeps its outcome for the test."""

    def __init__(self, body: Body) -> None:
        self.body = body
        self.outcomes: asyncio.Queue[Any] = asyncio.Queue()

    async def __call__(self, session: OutboundSession) -> None:
        try:
            await self.outcomes.put(await self.body(session))
        except BaseException as err:
            await self.outcomes.put(err)
            raise

    async def outcome(self) -> Any:
        return await asyncio.wait_for(self.outcomes.get(), 1)


class Bench:
    """The servers and fake calls of one test, all closed after it."""

    def __init__(self) -> None:
        self.servers: list[OutboundServer] = []
        self.calls: list[FakeCall] = []

    async def serve(self, body: Body, **settings: Any) -> tuple[OutboundServer, Calls]:
        calls = Calls(body)
        server = OutboundServer(calls, host="127.0.0.1", port=0, linger=settings.pop("linger", 5),
                                options=settings.pop("options", FAST), **settings)
        await server.start()
        self.servers.append(server)
        return server, calls

    async def dial(self, server: OutboundServer) -> FakeCall:
        call = await FakeCall().dial(server.port)
        self.calls.append(call)
        return call

    async def close(self) -> None:
        for call in self.calls:
            call.writer.close()
        for server in self.servers:
            await server.close()


@pytest.fixture
async def bench() -> AsyncIterator[Bench]:
    started = Bench()
    yield started
    await started.close()


async def everything(session: OutboundSession) -> tuple[list[Event], Exception | None]:
    received = []
    try:
        async for item in session.events:
            received.append(item)
    except ConnectionLost as err:
        return received, err
    return received, None


async def test_a_call_is_taken_with_connect_then_myevents_and_linger(bench: Bench) -> None:
    async def look(session: OutboundSession) -> OutboundSession:
        return session

    server, calls = await bench.serve(look)
    call = await bench.dial(server)
    await call.handshake()
    session = await calls.outcome()
    assert session.uuid == CALL and session.socket_mode == "async" and session.control == "full"
    assert session.lingering and session.channel.get("Caller-Destination-Number") == "sock_async"
    assert session.channel.get("Channel-Call-State") == "RINGING"
    assert await call.closed()  # the handler returned: the hub hangs up its end


async def test_a_whole_call_replayed_from_capture_20(bench: Bench,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    async def ivr(session: OutboundSession) -> dict[str, Any]:
        seen = asyncio.create_task(everything(session))
        found: dict[str, Any] = {"destination": await session.getvar("destination_number"),
                                 "missing": await session.getvar("no_such_variable")}
        await session.command("event plain PLAYBACK_START PLAYBACK_STOP")
        found["exists"] = await session.api("uuid_exists 00000000-0000-0000-0000-000000000000")
        answer = asyncio.create_task(
            session.execute("answer", event_uuid="00000000-aaaa-4000-8000-000000000001"))
        await asyncio.sleep(0)  # both sendmsg go out back to back, as in the capture
        digits = await session.execute(
            "play_and_get_digits",
            r"1 1 1 7000 # silence_stream://7000 silence_stream://250 pagd_digit \d 3000",
            event_uuid="00000000-aaaa-4000-8000-000000000002", event_lock=True)
        found.update(answer=(await answer).get("Application"), digit=digits.get("variable_pagd_digit"),
                     response=digits.get("Application-Response"))
        found["events"], found["end"] = await seen
        found["hungup"] = session.hungup.is_set()
        return found

    server, calls = await bench.serve(ivr)
    call = await bench.dial(server)
    await call.handshake()
    await call.answer("getvar destination_number", ASYNC_FULL[4])
    await call.answer("getvar no_such_variable", ASYNC_FULL[5])
    await call.answer("event plain PLAYBACK_START PLAYBACK_STOP", ASYNC_FULL[6])
    await call.answer("api uuid_exists", ASYNC_FULL[7])
    await call.answer("sendmsg\ncall-command: execute\nexecute-app-name: answer\n", ASYNC_FULL[8])
    sent = await call.answer("sendmsg\ncall-command: execute\nexecute-app-name: play_and_get_digits\n",
                             *ASYNC_FULL[9:])
    assert "execute-app-arg: 1 1 1 7000 # silence_stream://7000" in sent
    found = await calls.outcome()
    assert found["destination"] == "sock_async" and found["missing"] is None and found["exists"] == "false"
    assert (found["answer"], found["digit"], found["response"]) == ("answer", "1", "_none_")
    # The two CHANNEL_EXECUTE_COMPLETE that answered execute() are not streamed again.
    assert [item.name for item in found["events"]] == [
        "CHANNEL_EXECUTE", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_ANSWER", "CHANNEL_EXECUTE", "PLAYBACK_START",
        "DTMF", "PLAYBACK_STOP", "DTMF", "CHANNEL_HANGUP", "CHANNEL_UNPARK", "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_STATE", "CHANNEL_STATE", "CHANNEL_HANGUP_COMPLETE"]
    assert found["events"][-1].get("variable_billsec") is not None
    assert "Disconnected, goodbye" in str(found["end"]) and found["hungup"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_static_single_channel_call_works_without_linger(bench: Bench) -> None:
    async def play(session: OutboundSession) -> tuple[str, str, bool, str]:
        done = await session.execute("playback", "tone_stream://%(1500,0,440)", reply_seconds=0.5)
        return session.socket_mode, session.control, session.lingering, done.get("Application-Response") or ""

    server, calls = await bench.serve(play, linger=10)
    call = await bench.dial(server)
    await call.handshake(STATIC[0], STATIC[6], seconds=10)  # '-ERR command not found': no 'full'
    command = await call.command()
    event_uuid = command.rsplit("Event-UUID: ", 1)[1]
    # Static mode: the app runs before the reply, so its events may come first.
    call.writer.write(event("CHANNEL_EXECUTE_COMPLETE", Application="playback", Application_UUID=event_uuid,
                            Application_Response="FILE%20PLAYED") + reply("+OK"))
    assert await calls.outcome() == ("static", "single-channel", False, "FILE PLAYED")


async def test_an_app_that_never_ran_fails_when_the_call_hangs_up(bench: Bench) -> None:
    async def park(session: OutboundSession) -> Exception | None:
        try:
            await session.execute("playback", "ivr/welcome.wav")
        except ChannelError as err:
            return err
        return None

    server, calls = await bench.serve(park)
    call = await bench.dial(server)
    await call.handshake()
    await call.answer("sendmsg", reply("+OK"), event("CHANNEL_HANGUP", Unique_ID=CALL),
                      event("CHANNEL_HANGUP_COMPLETE", Unique_ID=CALL))
    failure = await calls.outcome()
    assert isinstance(failure, ChannelError) and "hung up before the application ran" in str(failure)


async def test_hangup_asks_for_the_cause_given(bench: Bench) -> None:
    async def refuse(session: OutboundSession) -> None:
        await session.hangup("CALL_REJECTED")

    server, calls = await bench.serve(refuse)
    call = await bench.dial(server)
    await call.handshake()
    assert await call.answer("sendmsg", reply("+OK")) == (
        "sendmsg\ncall-command: hangup\nhangup-cause: CALL_REJECTED")
    assert await calls.outcome() is None


async def test_a_bad_frame_drops_that_call_only_with_one_log_line(
        bench: Bench, caplog: pytest.LogCaptureFixture) -> None:
    async def wait(session: OutboundSession) -> str:
        return await session.api("status")

    server, calls = await bench.serve(wait)
    bad, good = await bench.dial(server), await bench.dial(server)
    await bad.handshake()
    await good.handshake()
    await bad.answer("api status", frame("Content-Type: api/response", "Content-Length: 16777217"))
    assert isinstance(await calls.outcome(), ConnectionLost) and await bad.closed()
    await good.answer("api status", frame("Content-Type: api/response", "Content-Length: 3", body=b"UP\n"))
    assert await calls.outcome() == "UP\n"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "bad frame" in warnings[0] and "over the limit" in warnings[0]


async def test_calls_over_the_limit_are_closed_at_once_and_logged_once(
        bench: Bench, caplog: pytest.LogCaptureFixture) -> None:
    release = asyncio.Event()

    async def hold(session: OutboundSession) -> None:
        await release.wait()

    server, _ = await bench.serve(hold, max_sessions=1)
    first = await bench.dial(server)
    await first.handshake()
    for _ in range(2):
        extra = await bench.dial(server)
        assert await extra.closed()  # no 'connect': FreeSWITCH goes on in the dialplan
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "1 outbound calls at once" in warnings[0]
    release.set()
    assert await first.closed()


async def test_a_peer_that_never_answers_connect_is_dropped(
        bench: Bench, caplog: pytest.LogCaptureFixture) -> None:
    async def never(session: OutboundSession) -> None:
        raise AssertionError("no handshake, no handler")

    server, calls = await bench.serve(never, handshake_seconds=0.1)
    call = await bench.dial(server)
    assert await call.command() == "connect"
    assert await call.closed()
    assert calls.outcomes.empty()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "during the handshake" in warnings[0]
    assert "no reply to 'connect'" in warnings[0]


async def test_a_handler_that_fails_is_logged_and_its_call_closed(
        bench: Bench, caplog: pytest.LogCaptureFixture) -> None:
    async def broken(session: OutboundSession) -> None:
        raise RuntimeError("bug in the IVR")

    server, calls = await bench.serve(broken)
    call = await bench.dial(server)
    await call.handshake()
    assert isinstance(await calls.outcome(), RuntimeError)
    assert await call.closed()
    assert [str(r.exc_info[1]) for r in caplog.records if r.exc_info] == ["bug in the IVR"]


async def test_closing_the_server_ends_the_calls_in_progress(bench: Bench) -> None:
    server, calls = await bench.serve(everything)
    call = await bench.dial(server)
    await call.handshake()
    call.writer.write(event("DTMF", DTMF_Digit="5"))
    await asyncio.sleep(0.05)
    async with asyncio.timeout(1):
        await server.close()
    received, error = await calls.outcome()
    assert [item.get("DTMF-Digit") for item in received] == ["5"] and error is None
    assert await call.closed() and not server.sessions
