"""The ESL wire format: real FreeSWITCH 1.10.12 captures parse exactly as logged, in any chunking.

Each capture in ``captures/`` has a ``##`` log (one ``recv`` line per message, with its
type, reply text or event name, and size) and, after ``## ---``, the bytes FreeSWITCH
sent. Parsing the bytes must give that log back, whether they arrive whole, one byte at a
time or cut at random.
"""

from __future__ import annotations

import ast
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from plugins.voice.esl.errors import FrameError, UnsafeCommand
from plugins.voice.esl.events import Event, channel_data, parse_event
from plugins.voice.esl.frames import Command, FrameParser, Message, hangup, sendmsg

CAPTURES = Path(__file__).parent / "captures"
_RECV = re.compile(r"^##\s+[\d.]+ rx@\d+ recv (\S+)(?: (.*?))? \((\d+) bytes\)$", re.MULTILINE)
_TOTAL = re.compile(r"^## \[[^\]]+\] received (\d+) bytes$", re.MULTILINE)
Logged = tuple[str, str | None, int]
"""A message as a capture's log lists it: type, reply text or event name, bytes."""
_GREETING: Logged = ("auth/request", None, 28)
_NOTICE = ("text/disconnect-notice", None, 124)
_OK, _BYE = ("command/reply", "+OK accepted", 54), ("command/reply", "+OK bye", 49)
_NOT_FOUND = ("command/reply", "-ERR command not found", 64)
UNLOGGED: dict[str, list[Logged]] = {
    # These four log only what was sent; what came back is spelled out here.
    "01-inbound-auth-good.txt": [_GREETING, _OK, _BYE, _NOTICE],
    "02-inbound-auth-bad.txt": [_GREETING, ("command/reply", "-ERR invalid", 54), _NOTICE],
    "03-inbound-cmd-before-auth.txt": [_GREETING, _NOT_FOUND, _NOT_FOUND, _OK, _BYE, _NOTICE],
    "04-inbound-auth-timeout.txt": [_GREETING, _NOTICE],
}


def capture_bytes(name: str) -> bytes:
    return (CAPTURES / name).read_bytes().partition(b"\n## ---\n")[2]


def logged(name: str) -> list[Logged]:
    head = (CAPTURES / name).read_bytes().partition(b"\n## ---\n")[0].decode()
    if name in UNLOGGED:
        return UNLOGGED[name]
    return [(kind, str(ast.literal_eval(detail)) if detail.startswith(("'", '"')) else detail or None,
             int(size)) for kind, detail, size in _RECV.findall(head)]


def total(name: str) -> int:
    match = _TOTAL.search((CAPTURES / name).read_text(errors="replace"))
    assert match, name
    return int(match.group(1))


def describe(message: Message) -> Logged:
    """A message as the capture logs put it."""
    kind = message.content_type
    detail = None
    if kind == "command/reply":
        detail = message.reply_text
    elif kind.startswith("text/event-"):
        event = parse_event(message)
        detail = f"{event.name} {event.subclass}" if event.subclass else event.name
    return kind, detail or None, message.size


def chunks(data: bytes, how: str) -> Iterator[bytes]:
    if how == "whole":
        yield data
    elif how == "bytes":
        yield from (data[i:i + 1] for i in range(len(data)))
    elif how == "lines":
        # Every message boundary and every blank line falls between two chunks.
        yield from data.splitlines(keepends=True)
    else:
        rng = random.Random(f"{how}:{len(data)}")
        i = 0
        while i < len(data):
            step = rng.choice([1, 2, 3, 7, 64, 1000, 4096])
            yield data[i:i + step]
            i += step


def parse_all(data: bytes, how: str = "whole", parser: FrameParser | None = None) -> list[Message]:
    parser = parser or FrameParser()
    messages = [message for chunk in chunks(data, how) for message in parser.feed(chunk)]
    assert parser.buffered == 0
    return messages


def messages_of(name: str) -> list[Message]:
    return parse_all(capture_bytes(name))


def events_of(name: str) -> list[Event]:
    return [parse_event(m) for m in messages_of(name) if m.content_type.startswith("text/event-")]


def frame(*lines: str, body: bytes = b"") -> bytes:
    return ("\n".join(lines) + "\n\n").encode() + body


CAPTURE_NAMES = sorted(path.name for path in CAPTURES.glob("*.txt"))


@pytest.mark.parametrize("how", ["whole", "bytes", "lines", "random-1", "random-2"])
@pytest.mark.parametrize("name", CAPTURE_NAMES)
def test_every_capture_parses_to_the_messages_its_log_lists(name: str, how: str) -> None:
    messages = parse_all(capture_bytes(name), how)
    assert [describe(m) for m in messages] == logged(name)
    assert sum(m.size for m in messages) == total(name) == len(capture_bytes(name))


def test_a_body_with_blank_lines_is_read_by_length_only() -> None:
    body = b"line one\n\nContent-Type: command/reply\nReply-Text: +OK fake\n\nlast"
    data = frame("Content-Type: api/response", f"Content-Length: {len(body)}", body=body) \
        + frame("Content-Type: command/reply", "Reply-Text: +OK real")
    for how in ("whole", "bytes"):
        api, reply = parse_all(data, how)
        assert api.body == body
        assert reply.reply_text == "+OK real"


def test_a_body_without_a_final_newline_is_followed_at_once_by_the_next_message() -> None:
    # 05: uuid_exists answers 'false' with no newline; the next header starts right after.
    api = [m for m in messages_of("05-api-responses.txt") if m.content_type == "api/response"]
    assert [m.text for m in api][3:6] == [
        "false", "-ERR No such channel!\n", "-ERR no reply\n"]


def test_an_event_body_ends_by_its_inner_content_length() -> None:
    jobs = [e for e in events_of("06-bgapi-background-job.txt") if e.name == "BACKGROUND_JOB"]
    assert jobs[1].get("Job-UUID") == "11111111-2222-3333-4444-555555555555"
    assert jobs[1].body == "FreeSWITCH Version 1.10.12-release~64bit ( 64bit)\n"
    assert jobs[2].body == "-ERR No such channel!\n"
    assert jobs[2].get("Job-Command-Arg") == "00000000-0000-0000-0000-000000000000"
    assert "Job-Command-Arg" not in jobs[0].headers  # 'bgapi status' has no argument
    assert jobs[0].body.startswith("UP 0 years") and "\n\n" not in jobs[0].body[-1:]


def test_values_are_url_decoded_once_after_the_lines_are_split() -> None:
    [custom] = [e for e in events_of("17-sendevent-custom-body.txt") if e.name == "CUSTOM"][:1]
    # Sent as 'a+b c:d;e=f%0A100%25 Jörg': FreeSWITCH keeps %0A and %25 as they were.
    assert custom.get("X-Value") == "a+b c:d;e=f\n100% Jörg"
    assert custom.get("FreeSWITCH-IPv6") == "fd00::2"
    assert custom.get("Event-Date-GMT") == "Sun, 22 Nov 2026 04:00:39 GMT"
    assert "X-Empty" not in custom.headers  # an empty header does not exist
    assert next(iter(custom.headers)) == "Event-Subclass"


def test_an_encoded_line_break_never_becomes_a_new_header() -> None:
    body = b"Event-Name: CUSTOM\nX-Trap: a%0AEvent-Name%3A%20FAKE%0A%0Ab\n\n"
    message = Message({"Content-Type": "text/event-plain"}, body)
    event = parse_event(message)
    assert event.name == "CUSTOM"
    assert event.get("X-Trap") == "a\nEvent-Name: FAKE\n\nb"
    assert len(event.headers) == 2


@pytest.mark.parametrize(("wire", "decoded"), [
    ("%2B4930123456", "+4930123456"), ("Jane%20Doe", "Jane Doe"), ("J%C3%B6rg%20M%C3%BCller", "Jörg Müller"),
    ("a+b", "a+b"), ("100%25", "100%"), ("100%2541", "100%41"), ("sofia/external/sipp@127.0.0.1:5072",
                                                                   "sofia/external/sipp@127.0.0.1:5072"),
])
def test_outer_and_event_header_values_decode_like_libesl(wire: str, decoded: str) -> None:
    data = frame("Content-Type: command/reply", f"Reply-Text: {wire}")
    [message] = parse_all(data)
    assert message.reply_text == decoded


def test_the_plain_and_json_forms_of_the_same_events_decode_alike() -> None:
    plain, as_json = events_of("08-sip-call-plain.txt"), events_of("09-sip-call-json.txt")
    assert [e.name for e in plain] == [e.name for e in as_json] and len(plain) == 14
    for one, other in zip(plain, as_json, strict=True):
        assert one.headers == other.headers
    assert plain[0].get("Caller-Caller-ID-Number") == "sipp"


def test_a_json_event_body_is_its_body_member() -> None:
    [job, heartbeat] = [e for e in events_of("16-event-json-bgjob-heartbeat.txt")][:2]
    assert job.name == "BACKGROUND_JOB" and job.body.startswith("UP 0 years")
    assert "_body" not in job.headers and job.get("Content-Length") == str(len(job.body.encode()))
    assert heartbeat.name == "HEARTBEAT" and heartbeat.get("Event-Info") == "System Ready"
    json_custom = [e for e in events_of("17-sendevent-custom-body.txt")][1]
    assert json_custom.subclass == "verify::test"
    assert json_custom.body == "line one\n\nline three: 100%\n"


def test_heartbeats_decode_alike_in_both_formats() -> None:
    beats = [e for e in events_of("16-event-json-bgjob-heartbeat.txt") if e.name == "HEARTBEAT"]
    assert len(beats) == 2
    assert list(beats[0].headers)[-14:] == list(beats[1].headers)[-14:]
    assert beats[1].get("Idle-CPU") is not None


def test_array_values_become_lists_in_both_formats() -> None:
    plain = Message({"Content-Type": "text/event-plain"},
                    b"Event-Name: CUSTOM\nvariable_list: ARRAY%3A%3Aa%7C%3Ab%20c\n\n")
    as_json = Message({"Content-Type": "text/event-json"},
                      json.dumps({"Event-Name": "CUSTOM", "variable_list": ["a", "b c"]}).encode())
    assert parse_event(plain).arrays == parse_event(as_json).arrays == {"variable_list": ["a", "b c"]}
    assert parse_event(plain).get("variable_list") is None


def test_the_outbound_connect_reply_is_channel_data() -> None:
    connect = messages_of("20-outbound-async-full.txt")[0]
    assert connect.content_type == "command/reply" and connect.reply_text == "+OK\n"
    assert connect.header("Socket-Mode") == "async" and connect.header("control") == "full"
    channel = channel_data(connect)
    assert channel.name == "CHANNEL_DATA" and channel.unique_id == "72544812-38a6-49ec-9523-d2af03ff4927"
    assert channel.get("Channel-Channel-Name") == "sofia/external/sipp@127.0.0.1:5072"
    assert channel.get("variable_current_application_data") == "127.0.0.1:8084 async full"
    assert "Reply-Text" not in channel.headers
    # 143 header lines, of which the last four are the reply's, not channel data.
    assert len(connect.headers) == 143 and len(channel.headers) == 139


def test_disconnect_notices_keep_their_disposition() -> None:
    linger, goodbye = messages_of("13-inbound-myevents-linger.txt")[-2:]
    assert linger.header("Content-Disposition") == "linger" and linger.body == b""
    assert linger.header("Channel-Name") == "loopback/9196-a"
    assert goodbye.header("Content-Disposition") == "disconnect"
    assert goodbye.text.startswith("Disconnected, goodbye.")


def test_blank_lines_between_messages_are_skipped() -> None:
    data = b"\n\n" + frame("Content-Type: auth/request") + b"\n" + frame("Content-Type: command/reply")
    assert [m.content_type for m in parse_all(data, "bytes")] == ["auth/request", "command/reply"]


@pytest.mark.parametrize("length", ["-1", "abc", "12x", "1e3", " ", "99999999999999"])
def test_a_content_length_that_is_not_a_byte_count_is_a_frame_error(length: str) -> None:
    with pytest.raises(FrameError, match="Content-Length"):
        parse_all(frame("Content-Type: api/response", f"Content-Length: {length}"))


def test_a_content_length_over_the_limit_is_refused_before_the_body_arrives() -> None:
    parser = FrameParser(max_body_bytes=1000)
    with pytest.raises(FrameError, match="over the limit"):
        list(parser.feed(frame("Content-Type: api/response", "Content-Length: 1001")))
    assert list(FrameParser(max_body_bytes=1000).feed(
        frame("Content-Type: api/response", "Content-Length: 1000", body=b"x" * 1000)))


def test_two_different_content_lengths_are_a_frame_error() -> None:
    with pytest.raises(FrameError, match="conflicting"):
        parse_all(frame("Content-Length: 1", "Content-Type: api/response", "content-length: 2", body=b"xx"))


def test_a_header_line_without_a_colon_is_a_frame_error() -> None:
    with pytest.raises(FrameError, match="Name:"):
        parse_all(frame("Content-Type: command/reply", "Reply-Text +OK"))


@pytest.mark.parametrize("how", ["whole", "bytes"])
def test_an_overlong_header_block_is_a_frame_error_even_unfinished(how: str) -> None:
    parser = FrameParser(max_header_bytes=100)
    with pytest.raises(FrameError, match="header block"):
        for chunk in chunks(b"X-Long: " + b"a" * 200, how):
            list(parser.feed(chunk))


def test_the_messages_before_a_bad_frame_are_delivered_and_the_parser_stays_failed() -> None:
    parser = FrameParser()
    received = []
    with pytest.raises(FrameError):
        for message in parser.feed(frame("Content-Type: auth/request") + frame("garbage")):
            received.append(message)
    assert [m.content_type for m in received] == ["auth/request"]
    with pytest.raises(FrameError, match="already failed"):
        parser.feed(frame("Content-Type: auth/request"))


@pytest.mark.parametrize("body", [
    b"Event-Name: CUSTOM\nContent-Length: 5\n\nabc",  # shorter than announced
    b"Event-Name: CUSTOM\n\nstray bytes",  # a body with no Content-Length
    b"Event-Name: CUSTOM\n",  # no empty line after the headers
    b"Core-UUID: x\n\n",  # no Event-Name
])
def test_a_malformed_plain_event_is_a_frame_error(body: bytes) -> None:
    with pytest.raises(FrameError):
        parse_event(Message({"Content-Type": "text/event-plain"}, body))


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", "{\"Event-Name\": \"\u00e9\"".encode("latin-1")])
def test_a_malformed_json_event_is_a_frame_error(body: bytes) -> None:
    with pytest.raises(FrameError):
        parse_event(Message({"Content-Type": "text/event-json"}, body))


def test_a_command_is_a_line_headers_a_blank_line_and_a_counted_body() -> None:
    assert Command("api status").encode() == b"api status\n\n"
    assert Command("bgapi version", (("Job-UUID", "1111"),)).encode() == b"bgapi version\nJob-UUID: 1111\n\n"
    body = "line one\n\nline three: 100%\n"
    encoded = Command("sendevent CUSTOM", (("Event-Subclass", "verify::test"),), body).encode()
    assert encoded == (b"sendevent CUSTOM\nEvent-Subclass: verify::test\ncontent-length: 27\n\n"
                       + body.encode())


def test_sendmsg_is_encoded_byte_for_byte_as_in_the_capture() -> None:
    uuid = "aaaaaaaa-0000-4000-8000-000000000012"
    playback = sendmsg("playback", "tone_stream://%(1000,0,440)", uuid=uuid,
                       event_uuid="5d0c7e12-7b7f-4c35-9b6a-000000000001", event_lock=True)
    assert playback.encode() == (
        f"sendmsg {uuid}\ncall-command: execute\nexecute-app-name: playback\n"
        "execute-app-arg: tone_stream://%(1000,0,440)\nevent-lock: true\n"
        "Event-UUID: 5d0c7e12-7b7f-4c35-9b6a-000000000001\n\n").encode()
    assert hangup(uuid=uuid).encode() == (
        f"sendmsg {uuid}\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING\n\n").encode()


def test_a_multi_line_or_long_argument_travels_in_the_body() -> None:
    multi = sendmsg("set", "verify_body=a b\nc d", uuid="u").encode()
    assert multi == (b"sendmsg u\ncall-command: execute\nexecute-app-name: set\n"
                     b"content-type: text/plain\ncontent-length: 19\n\nverify_body=a b\nc d")
    long = sendmsg("set", "x=" + "y" * 2000).encode()
    assert b"execute-app-arg" not in long and long.endswith(b"\n\nx=" + b"y" * 2000)


@pytest.mark.parametrize("command", [
    Command("api status\n\napi fsctl shutdown"), Command("api status\r"), Command(""), Command("  "),
    Command("api status\x00"), Command("sendmsg", (("call-command", "execute\nexecute-app-name: hangup"),)),
    Command("sendmsg", (("Evil\nHeader", "x"),)), Command("sendmsg", (("A: B", "x"),)),
    Command("sendevent X", (("Content-Length", "5"),), "abc"),
])
def test_line_breaks_that_would_inject_a_command_are_refused(command: Command) -> None:
    with pytest.raises(UnsafeCommand) as caught:
        command.encode()
    assert caught.value.error_id == "esl_unsafe_command" and caught.value.status == 400


def test_an_argument_with_a_nul_byte_is_refused_even_as_a_body() -> None:
    with pytest.raises(UnsafeCommand):
        sendmsg("set", "a\nb\x00c")


def test_a_password_never_reaches_a_label() -> None:
    assert Command("auth ClueCon").label == "auth ********"
    with pytest.raises(UnsafeCommand) as caught:
        Command("auth Clue\nCon").encode()
    assert "Clue" not in str(caught.value)
