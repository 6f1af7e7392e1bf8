"""Inbound ESL connections against scripted peers: login, FIFO replies, jobs, liveness, closing.

The peer is a few lines of ``asyncio.start_server`` that reads the client's commands and
writes exact bytes: either replayed from a real capture (at each command the capture
logs as sent, the bytes FreeSWITCH had sent before it) or built here for the cases a
capture does not show (lost peers, bad frames, slow consumers).
"""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest

from hub.errors import AuthFailed, InvalidRequest, NotReady
from plugins.voice.esl.connection import EslConnection, parse_channels
from plugins.voice.esl.errors import CommandError, ConnectionLost, UnsafeCommand
from plugins.voice.esl.events import Event
from plugins.voice.esl.link import Options
from plugins.voice.esl.supervisor import Supervisor

CAPTURES = Path(__file__).parent / "captures"
_SENT = re.compile(r"^##\s+[\d.]+ rx@(\d+) sent (.+)$", re.MULTILINE)
GREETING = b"Content-Type: auth/request\n\n"
GOODBYE = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
FAST = Options(command_seconds=0.5, idle_seconds=None)


def frame(*lines: str, body: bytes = b"") -> bytes:
    return ("\n".join(lines) + "\n\n").encode() + body


def reply(text: str, *extra: str) -> bytes:
    return frame("Content-Type: command/reply", f"Reply-Text: {text}", *extra)


def api_response(output: str) -> bytes:
    body = output.encode()
    return frame("Content-Type: api/response", f"Content-Length: {len(body)}", body=body)


def notice(text: str = GOODBYE, *extra: str) -> bytes:
    return frame("Content-Type: text/disconnect-notice", *extra, f"Content-Length: {len(text.encode())}",
                 body=text.encode())


def event(name: str, body: str = "", **headers: str) -> bytes:
    """A plain event as FreeSWITCH serializes it: url-encoded values, inner Content-Length."""
    lines = [f"Event-Name: {name}", *(f"{key.replace('_', '-')}: {quote(value, safe='')}"
                                      for key, value in headers.items())]
    if body:
        lines.append(f"Content-Length: {len(body.encode())}")
    inner = ("\n".join(lines) + "\n\n" + body).encode()
    return frame(f"Content-Length: {len(inner)}", "Content-Type: text/event-plain", body=inner)


class FakeSwitch:
    """A scripted FreeSWITCH event socket: takes connections, reads commands, writes bytes."""

    def __init__(self) -> None:
        self._accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
        self._writers: list[asyncio.StreamWriter] = []
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        await self._accepted.put((reader, writer))

    async def accept(self) -> None:
        self.reader, self.writer = await asyncio.wait_for(self._accepted.get(), 1)

    async def command(self) -> str:
        """The next command, its headers and body, without the blank line after the headers."""
        head = (await asyncio.wait_for(self.reader.readuntil(b"\n\n"), 1))[:-2].decode()
        length = re.search(r"(?im)^content-length: (\d+)$", head)
        body = await self.reader.readexactly(int(length.group(1))) if length else b""
        return head + ("\n\n" + body.decode() if body else "")

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def close(self) -> None:
        for writer in self._writers:
            writer.close()
        self._server.close()


@pytest.fixture
async def fs() -> AsyncIterator[FakeSwitch]:
    fake = FakeSwitch()
    await fake.start()
    yield fake
    await fake.close()


def connect(fs: FakeSwitch, options: Options = FAST, password: str = "ClueCon"
            ) -> asyncio.Task[EslConnection]:
    return asyncio.create_task(EslConnection.connect("127.0.0.1", fs.port, password, login_seconds=0.5,
                                                     options=options))


async def login(fs: FakeSwitch, options: Options = FAST) -> EslConnection:
    task = connect(fs, options)
    await fs.accept()
    fs.send(GREETING)
    assert await fs.command() == "auth ClueCon"
    fs.send(reply("+OK accepted"))
    assert await fs.command() == "event json BACKGROUND_JOB"
    fs.send(reply("+OK event listener enabled json"))
    return await task


@pytest.fixture
async def conn(fs: FakeSwitch) -> AsyncIterator[EslConnection]:
    connection = await login(fs)
    yield connection
    await connection.close()


# Replaying captures -------------------------------------------------------------------

UNLOGGED = {"event json BACKGROUND_JOB": reply("+OK event listener enabled json")}
"""Commands our client sends that the capture sessions did not, answered as FreeSWITCH would."""


def capture(name: str) -> tuple[list[tuple[int, str]], bytes]:
    head, _, data = (CAPTURES / name).read_bytes().partition(b"\n## ---\n")
    sent = [(int(rx), ast.literal_eval(text)) for rx, text in _SENT.findall(head.decode())]
    return sent, data


def replay(fs: FakeSwitch, name: str) -> asyncio.Task[None]:
    """Play capture ``name`` to the client: before each command it logs as sent, the bytes
    FreeSWITCH had sent by then; then that command must come; at the end, the rest."""
    async def play() -> None:
        sent, data = capture(name)
        await fs.accept()
        position = 0
        for received, text in sent:
            fs.send(data[position:received])
            position = received
            command = await fs.command()
            while command in UNLOGGED:
                fs.send(UNLOGGED[command])
                command = await fs.command()
            assert command.partition("\n")[0] == text.partition("\n")[0]
        fs.send(data[position:])
    return asyncio.create_task(play())


async def drain(connection: EslConnection) -> tuple[list[Event], Exception | None]:
    """Every streamed event, and the error that ended the stream."""
    received = []
    try:
        async with asyncio.timeout(1):
            async for item in connection.events:
                received.append(item)
    except ConnectionLost as err:
        return received, err
    return received, None


async def test_a_good_login_and_exit_replayed_from_capture_01(fs: FakeSwitch) -> None:
    player = replay(fs, "01-inbound-auth-good.txt")
    connection = await connect(fs)
    assert await connection.command("exit") == "+OK bye"
    await player
    events, error = await drain(connection)
    assert events == [] and connection.closed
    assert connection.notice == "Disconnected, goodbye. See you at ClueCon! http://www.cluecon.com/"
    assert isinstance(error, ConnectionLost) and "Disconnected, goodbye." in str(error)


async def test_a_wrong_password_is_auth_failed_replayed_from_capture_02(fs: FakeSwitch) -> None:
    player = replay(fs, "02-inbound-auth-bad.txt")
    with pytest.raises(AuthFailed, match="refused the event socket password") as caught:
        await connect(fs, password="wrongpassword")
    await player
    assert "-ERR invalid" in str(caught.value) and "wrongpassword" not in str(caught.value)


async def test_a_greeting_then_a_goodbye_is_not_ready_replayed_from_capture_04(fs: FakeSwitch) -> None:
    player = replay(fs, "04-inbound-auth-timeout.txt")
    with pytest.raises(NotReady, match="Disconnected, goodbye"):
        await connect(fs)
    await player


async def test_api_outputs_replayed_from_capture_05(fs: FakeSwitch) -> None:
    player = replay(fs, "05-api-responses.txt")
    connection = await connect(fs)
    assert (await connection.api("status")).startswith("UP 0 years")
    assert "FreeSWITCH Version 1.10.12" in await connection.api("version")
    with pytest.raises(CommandError, match="Command not found"):
        await connection.api("no_such_command")
    assert await connection.api("uuid_exists 00000000-0000-0000-0000-000000000000") == "false"
    with pytest.raises(CommandError) as caught:
        await connection.api("uuid_kill 00000000-0000-0000-0000-000000000000")
    assert caught.value.reason == "No such channel!"
    with pytest.raises(CommandError, match="no reply"):
        await connection.api("global_getvar no_such_var_xyz")
    assert "total." in await connection.api("show channels count")
    assert await connection.command("exit") == "+OK bye"
    await player


async def test_bgapi_jobs_resolve_from_their_events_replayed_from_capture_06(fs: FakeSwitch) -> None:
    player = replay(fs, "06-bgapi-background-job.txt")
    connection = await connect(fs)
    await connection.command("event plain BACKGROUND_JOB")
    status = await connection.bgapi("status", job_uuid="4008ddc1-57db-46c4-84e3-f3e78a0d0107")
    assert (await status).startswith("UP 0 years")
    version = await connection.bgapi("version", job_uuid="11111111-2222-3333-4444-555555555555")
    assert await version == "FreeSWITCH Version 1.10.12-release~64bit ( 64bit)\n"
    kill = await connection.bgapi("uuid_kill 00000000-0000-0000-0000-000000000000",
                                  job_uuid="b69f2b14-74f1-449a-a556-b17318f0e940")
    with pytest.raises(CommandError, match="No such channel"):
        await kill
    call = await connection.bgapi("originate {origination_uuid=aaaaaaaa-0000-4000-8000-000000000001}"
                                  "loopback/9196/public &park()",
                                  job_uuid="905fb8f1-92e8-4308-8c42-f48ac98a1c55")
    assert await call == "+OK aaaaaaaa-0000-4000-8000-000000000001\n"
    failed = await connection.bgapi("originate loopback/no_such_exten/public &park()",
                                    job_uuid="e1a0d18c-151b-4ecb-86dc-358927da9263")
    with pytest.raises(CommandError) as caught:
        await failed
    assert caught.value.reason == "NORMAL_CLEARING"
    hangup = await connection.bgapi("uuid_kill aaaaaaaa-0000-4000-8000-000000000001",
                                    job_uuid="19291dee-2905-4d5b-8d06-8b23174d33d5")
    assert await hangup == "+OK\n"
    await connection.command("exit")
    await player
    assert await drain(connection) == ([], connection.error)  # every job event answered its job


async def test_replies_stay_in_order_while_events_interleave_replayed_from_capture_07(fs: FakeSwitch) -> None:
    player = replay(fs, "07-event-plain-all.txt")
    connection = await connect(fs)
    await connection.subscribe("ALL", format="plain")
    # Sent back to back: FreeSWITCH holds the call's events until the api/response.
    call = asyncio.create_task(connection.bgapi(
        "originate {origination_uuid=aaaaaaaa-0000-4000-8000-000000000007}loopback/9196/public &park()",
        job_uuid="570dbbe0-37bd-4b3c-bfc5-783ab231bb7f"))
    await asyncio.sleep(0)  # the bgapi is written in its task's first step
    assert await connection.api("msleep 1000") == "+OK"  # no newline: the next header follows at once
    assert await (await call) == "+OK aaaaaaaa-0000-4000-8000-000000000007\n"
    kill = asyncio.create_task(connection.bgapi("uuid_kill aaaaaaaa-0000-4000-8000-000000000007",
                                                job_uuid="026690e5-4240-4f7c-a157-a0ee91820901"))
    await asyncio.sleep(0)
    uptimes = [await connection.api("uptime") for _ in range(5)]
    assert await (await kill) == "+OK\n"
    assert uptimes == ["81\n"] * 5
    assert await connection.command("noevents") == "+OK no longer listening for events"
    await connection.command("exit")
    await player
    events, error = await drain(connection)
    logged = [line.split()[-3] for line in (CAPTURES / "07-event-plain-all.txt").read_text(
        errors="replace").splitlines() if " recv text/event-plain " in line]
    assert [item.name for item in events] == [name for name in logged if name != "BACKGROUND_JOB"]
    assert len(events) == 57 and isinstance(error, ConnectionLost)


async def test_inbound_myevents_and_linger_replayed_from_capture_13(fs: FakeSwitch) -> None:
    player = replay(fs, "13-inbound-myevents-linger.txt")
    connection = await connect(fs)
    uuid = "aaaaaaaa-0000-4000-8000-000000000013"
    assert await connection.command(f"myevents {uuid} plain") == "+OK Events Enabled"
    with pytest.raises(CommandError, match="aready enabled"):
        await connection.command(f"myevents {uuid} plain")
    assert await connection.command("linger 3") == "+OK will linger 3 seconds"
    assert await connection.command("getvar uuid") == uuid
    await player
    events, error = await drain(connection)
    assert [item.name for item in events][-1] == "CHANNEL_HANGUP_COMPLETE" and len(events) == 6
    assert {item.unique_id for item in events} == {uuid}
    assert "Disconnected, goodbye" in str(error)  # the linger notice before it ended nothing


async def test_json_jobs_and_heartbeats_replayed_from_capture_16(fs: FakeSwitch) -> None:
    player = replay(fs, "16-event-json-bgjob-heartbeat.txt")
    connection = await connect(fs)
    await connection.subscribe("BACKGROUND_JOB", "HEARTBEAT")
    job = await connection.bgapi("status", job_uuid="d35a81c9-d7e9-426d-ac11-1347fbd9f1b6")
    assert "34 session(s) since startup" in await job
    beat = await anext(connection.events)
    assert beat.name == "HEARTBEAT" and beat.get("FreeSWITCH-Version") == "1.10.12-release~64bit"
    await connection.subscribe("HEARTBEAT", format="plain")
    plain = await anext(connection.events)
    assert plain.name == "HEARTBEAT" and list(plain.headers) == list(beat.headers)
    await connection.command("exit")
    await player


# Built for what the captures do not show --------------------------------------------

async def test_replies_are_matched_to_commands_in_the_order_sent(fs: FakeSwitch, conn: EslConnection) -> None:
    first = asyncio.create_task(conn.api("uuid_getvar a x"))
    second = asyncio.create_task(conn.api("uuid_getvar b x"))
    assert await fs.command() == "api uuid_getvar a x"
    assert await fs.command() == "api uuid_getvar b x"
    fs.send(event("CHANNEL_CREATE", Unique_ID="a") + api_response("one") + event("DTMF")
            + api_response("two"))
    assert (await first, await second) == ("one", "two")


async def test_events_between_a_command_and_its_reply_are_streamed(
        fs: FakeSwitch, conn: EslConnection) -> None:
    pending = asyncio.create_task(conn.api("status"))
    await fs.command()
    fs.send(event("CHANNEL_CREATE", Unique_ID="u1") + event("CHANNEL_ANSWER", Unique_ID="u1"))
    fs.send(api_response("UP\n") + event("CHANNEL_HANGUP", Unique_ID="u1"))
    assert await pending == "UP\n"
    names = [(await anext(conn.events)).name for _ in range(3)]
    assert names == ["CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP"]


async def test_a_job_event_that_comes_before_its_reply_still_resolves_the_job(
        fs: FakeSwitch, conn: EslConnection) -> None:
    # FreeSWITCH writes the reply first on the issuing connection; nothing here relies on it.
    pending = asyncio.create_task(conn.bgapi("status"))
    command = await fs.command()
    job_uuid = command.split("Job-UUID: ")[1]
    fs.send(event("BACKGROUND_JOB", "+OK done\n", Job_UUID=job_uuid)
            + reply(f"+OK Job-UUID: {job_uuid}", f"Job-UUID: {job_uuid}"))
    assert await (await pending) == "+OK done\n"
    assert len(conn.events) == 0


async def test_other_clients_jobs_are_streamed_only_when_subscribed(
        fs: FakeSwitch, conn: EslConnection) -> None:
    pending = asyncio.create_task(conn.api("status"))
    await fs.command()
    fs.send(event("BACKGROUND_JOB", "+OK theirs\n", Job_UUID="someone-else") + api_response("UP\n"))
    assert await pending == "UP\n"
    assert len(conn.events) == 0  # only there for our own jobs, and this one is not ours
    subscribing = asyncio.create_task(conn.subscribe("BACKGROUND_JOB"))
    await fs.command()
    fs.send(reply("+OK event listener enabled json"))
    await subscribing
    fs.send(event("BACKGROUND_JOB", "+OK theirs\n", Job_UUID="someone-else"))
    assert (await anext(conn.events)).body == "+OK theirs\n"


async def test_a_disconnect_notice_fails_every_pending_command_and_job(
        fs: FakeSwitch, conn: EslConnection) -> None:
    job_start = asyncio.create_task(conn.bgapi("originate user/1001 &park()"))
    job_uuid = (await fs.command()).split("Job-UUID: ")[1]
    fs.send(reply(f"+OK Job-UUID: {job_uuid}"))
    job = await job_start
    pending = asyncio.create_task(conn.api("status"))
    await fs.command()
    fs.send(event("CHANNEL_CREATE") + notice("killed listener because of lost events\n"))
    for waiting in (pending, job):
        with pytest.raises(ConnectionLost, match="killed listener because of lost events"):
            await waiting
    events, error = await drain(conn)
    assert [item.name for item in events] == ["CHANNEL_CREATE"] and error is conn.error
    with pytest.raises(ConnectionLost, match="is closed"):
        await conn.api("status")


async def test_a_linger_notice_does_not_close_the_connection(fs: FakeSwitch, conn: EslConnection) -> None:
    fs.send(frame("Content-Type: text/disconnect-notice", "Controlled-Session-UUID: u",
                  "Content-Disposition: linger", "Channel-Name: loopback/9196-a", "Linger-Time: 3",
                  "Content-Length: 0"))
    pending = asyncio.create_task(conn.api("status"))
    await fs.command()
    fs.send(api_response("UP\n"))
    assert await pending == "UP\n" and not conn.closed


async def test_messages_cut_into_single_bytes_with_pauses_are_reassembled(
        fs: FakeSwitch, conn: EslConnection) -> None:
    pending = asyncio.create_task(conn.api("status"))
    await fs.command()
    data = event("CHANNEL_ANSWER", "body\n\nwith: blank lines\n", Unique_ID="u2") + api_response("a\n\nb\n")
    for index in range(len(data)):
        fs.send(data[index:index + 1])
        if index % 50 == 0:
            await fs.writer.drain()
            await asyncio.sleep(0.001)
    assert await pending == "a\n\nb\n"
    answered = await anext(conn.events)
    assert answered.unique_id == "u2" and answered.body == "body\n\nwith: blank lines\n"


async def test_a_silent_peer_is_found_by_the_probe_and_dropped(fs: FakeSwitch) -> None:
    connection = await login(fs, Options(idle_seconds=0.1, probe_seconds=0.1))
    assert await fs.command() == "api status"  # the probe, after 0.1 s of silence
    async with asyncio.timeout(1):
        await connection.wait_closed()
    assert "no reply to 'api status'" in str(connection.error)
    await connection.close()


async def test_a_peer_that_answers_the_probe_stays_connected(fs: FakeSwitch) -> None:
    connection = await login(fs, Options(idle_seconds=0.05, probe_seconds=0.2))
    for _ in range(3):
        assert await fs.command() == "api status"
        fs.send(api_response("UP\n"))
    assert not connection.closed
    await connection.close()


async def test_a_reply_that_never_comes_drops_the_connection(fs: FakeSwitch, conn: EslConnection) -> None:
    other = asyncio.create_task(conn.api("status"))
    with pytest.raises(ConnectionLost, match=r"no reply to 'api uuid_exists x' .* within 0\.1 s"):
        await conn.api("uuid_exists x", reply_seconds=0.1)
    # A late reply would be taken for the next command's: everything after it fails too.
    with pytest.raises(ConnectionLost):
        await other
    assert conn.closed


async def test_a_slow_consumer_gets_what_was_held_then_the_connection_is_dropped(
        fs: FakeSwitch, caplog: pytest.LogCaptureFixture) -> None:
    connection = await login(fs, Options(command_seconds=0.5, idle_seconds=None, max_events=3))
    fs.send(b"".join(event("DTMF", DTMF_Digit=str(digit)) for digit in range(6)))
    async with asyncio.timeout(1):
        await connection.wait_closed()
    events, error = await drain(connection)
    assert [item.get("DTMF-Digit") for item in events] == ["0", "1", "2"]
    assert "not consumed fast enough" in str(error)
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    await connection.close()


@pytest.mark.parametrize("garbage", [
    frame("Content-Type: api/response", "Content-Length: -1"),
    frame("Content-Type: api/response", "Content-Length: 99999999999"),
    frame("Content-Type: command/reply", "Reply-Text +OK"),
    frame("Content-Length: 9", "Content-Type: text/event-json", body=b"[1, 2, 3]"),
    reply("+OK nobody asked"),
])
async def test_a_bad_frame_drops_the_connection_with_a_clear_error(
        fs: FakeSwitch, conn: EslConnection, garbage: bytes) -> None:
    pending = asyncio.create_task(conn.api("status")) if b"nobody" not in garbage else None
    if pending:
        await fs.command()
    fs.send(garbage)
    async with asyncio.timeout(1):
        await conn.wait_closed()
    assert "sent a bad frame" in str(conn.error)
    if pending:
        with pytest.raises(ConnectionLost, match="bad frame"):
            await pending


async def test_closing_fails_pending_commands_and_ends_the_stream_cleanly(
        fs: FakeSwitch, conn: EslConnection) -> None:
    pending = asyncio.create_task(conn.api("status"))
    await fs.command()
    fs.send(event("CHANNEL_CREATE"))
    await asyncio.sleep(0.05)
    await conn.close()
    with pytest.raises(ConnectionLost, match="closed"):
        await pending
    assert [item.name async for item in conn.events] == ["CHANNEL_CREATE"]
    assert conn.error is None and all(task.done() for task in conn._tasks)


async def test_subscribe_puts_the_custom_subclasses_last(fs: FakeSwitch, conn: EslConnection) -> None:
    pending = asyncio.create_task(conn.subscribe("channel_create", "HEARTBEAT", format="plain",
                                                 custom=["callcenter::info", "spandsp::rxfaxresult"]))
    assert await fs.command() == ("event plain CHANNEL_CREATE HEARTBEAT "
                                  "CUSTOM callcenter::info spandsp::rxfaxresult")
    fs.send(reply("-ERR no keywords supplied"))
    with pytest.raises(CommandError, match="no keywords"):
        await pending
    with pytest.raises(InvalidRequest):
        await conn.subscribe("CHANNEL_CREATE", format="xml")  # type: ignore[arg-type]


async def test_the_first_filter_also_lets_background_jobs_through(
        fs: FakeSwitch, conn: EslConnection) -> None:
    pending = asyncio.create_task(conn.add_filter("Unique-ID", "u3"))
    assert await fs.command() == "filter Event-Name BACKGROUND_JOB"
    fs.send(reply("+OK filter added. [Event-Name]=[BACKGROUND_JOB]"))
    assert await fs.command() == "filter Unique-ID u3"
    fs.send(reply("+OK filter added. [Unique-ID]=[u3]"))
    await pending
    deleting = asyncio.create_task(conn.delete_filter())
    assert await fs.command() == "filter delete all"
    fs.send(reply("+OK filter deleted. [all][]"))
    await deleting


async def test_sendmsg_names_the_channel_and_returns_its_event_uuid(
        fs: FakeSwitch, conn: EslConnection) -> None:
    pending = asyncio.create_task(conn.sendmsg("u4", "playback", "ivr/welcome.wav", event_lock=True))
    command = await fs.command()
    fs.send(reply("+OK"))
    event_uuid = await pending
    assert command == ("sendmsg u4\ncall-command: execute\nexecute-app-name: playback\n"
                       f"execute-app-arg: ivr/welcome.wav\nevent-lock: true\nEvent-UUID: {event_uuid}")
    missing = asyncio.create_task(conn.sendmsg("0000", "answer"))
    await fs.command()
    fs.send(reply("-ERR invalid session id [0000]"))
    with pytest.raises(CommandError, match="invalid session id"):
        await missing


async def test_an_injected_line_break_is_refused_and_nothing_is_sent(
        fs: FakeSwitch, conn: EslConnection) -> None:
    with pytest.raises(UnsafeCommand):
        await conn.api("uuid_getvar u x\n\napi fsctl shutdown")
    with pytest.raises(UnsafeCommand):
        await conn.sendmsg("u\nexecute-app-name: hangup", "answer")
    with pytest.raises(InvalidRequest, match="bgapi"):
        await conn.api("originate user/1001 &park()")
    pending = asyncio.create_task(conn.api("status"))
    assert await fs.command() == "api status"  # the first thing that reached the wire
    fs.send(api_response("UP\n"))
    assert await pending == "UP\n" and not conn.closed


async def test_channels_lists_the_rows_of_show_channels(fs: FakeSwitch, conn: EslConnection) -> None:
    pending = asyncio.create_task(conn.channels())
    assert await fs.command() == "api show channels as json"
    fs.send(api_response('{"row_count":0}\n'))
    assert await pending == []
    rows = {"row_count": 1,
            "rows": [{"uuid": "u5", "direction": "inbound", "cid_num": "+4930", "ip_addr": None}]}
    assert parse_channels(json.dumps(rows)) == [
        {"uuid": "u5", "direction": "inbound", "cid_num": "+4930", "ip_addr": ""}]


async def test_an_unreachable_server_is_not_ready(fs: FakeSwitch) -> None:
    port = fs.port
    await fs.close()
    await asyncio.sleep(0.01)
    with pytest.raises(NotReady, match="unreachable"):
        await EslConnection.connect("127.0.0.1", port, login_seconds=0.5)


async def test_a_server_that_never_greets_is_not_ready(fs: FakeSwitch) -> None:
    pending = asyncio.create_task(EslConnection.connect("127.0.0.1", fs.port, login_seconds=0.1))
    await fs.accept()
    with pytest.raises(NotReady, match=r"no auth/request within 0\.1 s"):
        await pending


async def test_an_acl_rejection_is_auth_failed(fs: FakeSwitch) -> None:
    pending = connect(fs)
    await fs.accept()
    fs.send(frame("Content-Type: text/rude-rejection", "Content-Length: 24",
                  body=b"Access Denied, go away.\n"))
    with pytest.raises(AuthFailed, match="Access Denied"):
        await pending


# The supervisor ------------------------------------------------------------------------

async def test_the_supervisor_reconnects_and_logs_down_and_back_once(
        fs: FakeSwitch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, "contacthub.channel.voice.esl")
    attempts: list[str] = []
    connected: asyncio.Queue[EslConnection] = asyncio.Queue()

    async def dial() -> EslConnection:
        attempts.append("dial")
        if len(attempts) in (2, 3):  # the switch is down for two attempts after the loss
            raise NotReady("FreeSWITCH at test is unreachable: refused")
        return await EslConnection.connect("127.0.0.1", fs.port, login_seconds=0.5, options=FAST)

    supervisor = Supervisor(dial, connected.put, first_delay=0.01, max_delay=0.05)
    running = asyncio.create_task(supervisor.run())
    for round_ in range(2):
        await fs.accept()
        fs.send(GREETING)
        await fs.command()
        fs.send(reply("+OK accepted"))
        await fs.command()
        fs.send(reply("+OK event listener enabled json"))
        connection = await asyncio.wait_for(connected.get(), 1)
        assert supervisor.connection is connection and supervisor.up.is_set()
        if round_ == 0:
            fs.send(notice())
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(attempts) == 4
    assert len(warnings) == 1 and "is down" in warnings[0] and "Disconnected, goodbye" in warnings[0]
    assert infos == ["voice: FreeSWITCH is back"]
    assert connection.closed


async def test_the_supervisor_backs_off_to_the_longest_delay_after_a_refused_password() -> None:
    attempts: list[float] = []

    async def dial() -> EslConnection:
        attempts.append(asyncio.get_running_loop().time())
        raise AuthFailed("FreeSWITCH at test refused the event socket password (-ERR invalid)")

    async def never(_: EslConnection) -> None:
        raise AssertionError("never connected")

    supervisor = Supervisor(dial, never, first_delay=0.01, max_delay=0.2)
    running = asyncio.create_task(supervisor.run())
    await asyncio.sleep(0.15)
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    assert len(attempts) == 1 and isinstance(supervisor.error, AuthFailed)
