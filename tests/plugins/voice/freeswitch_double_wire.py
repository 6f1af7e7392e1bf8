"""Wire format of the FreeSWITCH double: url-encoding, events, message frames, command parsing.

Everything here follows the voice reference (sections 1.1, 1.2, 1.5, 1.10) and the 1.10.12 captures;
where the reference is silent the behaviour of mod_event_socket / switch_event.c is kept and marked.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

# The exact unsafe set of switch_url_encode_opt (reference 1.5), plus every byte < 0x20 or > 0x7E.
URL_UNSAFE = frozenset(b'\r\n #%&+:;<=>?@[\\]^`{|}"')
_HEX_UPPER = b"0123456789ABCDEF"

GOODBYE = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
# not in the reference: the texts below are the ones mod_event_socket passes to kill_listener().
SHUTDOWN_TEXT = "The system is being shut down.\n"
LOST_EVENTS_TEXT = "killed listener because of lost events\n"
AUTH_REQUEST = b"Content-Type: auth/request\n\n"

# switch_event.c EVENT_NAMES, in enum order; ALL last. Used to validate `event`/`nixevent` keywords.
EVENT_NAMES = (
    "CUSTOM", "CLONE", "CHANNEL_CREATE", "CHANNEL_DESTROY", "CHANNEL_STATE", "CHANNEL_CALLSTATE",
    "CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HOLD", "CHANNEL_UNHOLD", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE",
    "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_OUTGOING", "CHANNEL_PARK", "CHANNEL_UNPARK",
    "CHANNEL_APPLICATION", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "API", "LOG", "INBOUND_CHAN",
    "OUTBOUND_CHAN", "STARTUP", "SHUTDOWN", "PUBLISH", "UNPUBLISH", "TALK", "NOTALK", "SESSION_CRASH",
    "MODULE_LOAD", "MODULE_UNLOAD", "DTMF", "MESSAGE", "PRESENCE_IN", "NOTIFY_IN", "PRESENCE_OUT",
    "PRESENCE_PROBE", "MESSAGE_WAITING", "MESSAGE_QUERY", "ROSTER", "CODEC", "BACKGROUND_JOB",
    "DETECTED_SPEECH", "DETECTED_TONE", "PRIVATE_COMMAND", "HEARTBEAT", "TRAP", "ADD_SCHEDULE",
    "DEL_SCHEDULE", "EXE_SCHEDULE", "RE_SCHEDULE", "RELOADXML", "NOTIFY", "PHONE_FEATURE",
    "PHONE_FEATURE_SUBSCRIBE", "SEND_MESSAGE", "RECV_MESSAGE", "REQUEST_PARAMS", "CHANNEL_DATA",
    "GENERAL", "COMMAND", "SESSION_HEARTBEAT", "CLIENT_DISCONNECTED", "SERVER_DISCONNECTED",
    "SEND_INFO", "RECV_INFO", "RECV_RTCP_MESSAGE", "SEND_RTCP_MESSAGE", "CALL_SECURE", "NAT",
    "RECORD_START", "RECORD_STOP", "PLAYBACK_START", "PLAYBACK_STOP", "CALL_UPDATE", "FAILURE",
    "SOCKET_DATA", "MEDIA_BUG_START", "MEDIA_BUG_STOP", "CONFERENCE_DATA_QUERY", "CONFERENCE_DATA",
    "CALL_SETUP_REQ", "CALL_SETUP_RESULT", "CALL_DETAIL", "DEVICE_STATE", "TEXT", "SHUTDOWN_REQUESTED",
    "ALL",
)
_EVENT_LOOKUP = {name.upper(): name for name in EVENT_NAMES}


def event_type(token: str) -> str | None:
    """Canonical event name for a keyword, case-insensitive, like switch_name_event()."""
    upper = token.upper()
    # switch_name_event also accepts the C enum spelling SWITCH_EVENT_<NAME>.
    if upper.startswith("SWITCH_EVENT_"):
        upper = upper[len("SWITCH_EVENT_"):]
    return _EVENT_LOOKUP.get(upper)


def url_encode(value: str) -> str:
    """Encode a header value exactly like switch_url_encode (uppercase hex, no double encoding)."""
    raw = value.encode("utf-8", "surrogateescape")
    out = bytearray()
    last = len(raw) - 1
    for index, byte in enumerate(raw):
        # An existing %XX with two *uppercase* hex digits is copied as is, which makes the encoding lossy.
        already = last - index > 1 and raw[index + 1] in _HEX_UPPER and raw[index + 2] in _HEX_UPPER
        if byte == 0x25 and already:
            out.append(byte)
        elif byte < 0x20 or byte > 0x7E or byte in URL_UNSAFE:
            out += b"%" + bytes((_HEX_UPPER[byte >> 4], _HEX_UPPER[byte & 0x0F]))
        else:
            out.append(byte)
    return out.decode("ascii")


HeaderValue = str | list[str]


@dataclass
class Event:
    """One FreeSWITCH event: ordered headers (duplicates allowed, as in the captures) and a body."""

    headers: list[tuple[str, HeaderValue]] = field(default_factory=list)
    body: str | None = None
    _index: dict[str, str] | None = field(default=None, repr=False, compare=False)
    """Lower-cased name -> first value, built on the first lookup: an event is matched against
    every connection's subscriptions and filters, and a scan per lookup made the double, not
    the hub, the bottleneck of a busy benchmark."""

    def add(self, name: str, value: HeaderValue | int | None) -> None:
        """Append a header; an empty value means "no header" (switch_event_base_add_header)."""
        if value is None or value == "" or value == []:
            return
        self._index = None
        self.headers.append((name, value if isinstance(value, (str, list)) else str(value)))

    def extend(self, pairs: list[tuple[str, HeaderValue]]) -> None:
        """Append several headers in order."""
        for name, value in pairs:
            self.add(name, value)

    def prepend(self, name: str, value: str) -> None:
        """Put a header first, as switch_event_set_subclass_name does with Event-Subclass."""
        self.delete(name)
        if value:
            self._index = None
            self.headers.insert(0, (name, value))

    def get(self, name: str) -> str | None:
        """First value of a header, looked up case-insensitively like switch_event_get_header."""
        if self._index is None:
            index: dict[str, str] = {}
            for key, value in self.headers:
                index.setdefault(key.lower(), _plain_value(value))
            self._index = index
        return self._index.get(name.lower())

    def delete(self, name: str) -> None:
        """Remove every header with that name (case-insensitive)."""
        lowered = name.lower()
        self._index = None
        self.headers = [(k, v) for k, v in self.headers if k.lower() != lowered]

    @property
    def name(self) -> str:
        """The Event-Name header."""
        return self.get("Event-Name") or ""

    def copy(self) -> Event:
        """A shallow copy with its own header list."""
        return Event(list(self.headers), self.body)


def _plain_value(value: HeaderValue) -> str:
    # Array headers go out as one ARRAY:: value with "|:" separators (reference 1.5).
    return value if isinstance(value, str) else "ARRAY::" + "|:".join(value)


def serialize_plain(event: Event) -> bytes:
    """switch_event_serialize(encode=TRUE): url-encoded lines, then inner Content-Length + body."""
    text = "".join(f"{name}: {url_encode(_plain_value(value))}\n" for name, value in event.headers)
    body = (event.body or "").encode("utf-8")
    if body:
        return text.encode("utf-8") + f"Content-Length: {len(body)}\n\n".encode() + body
    return text.encode("utf-8") + b"\n"


def _json_string(value: str) -> str:
    # cJSON escapes the same set as json.dumps: quote, backslash and control bytes; UTF-8 stays raw.
    return json.dumps(value, ensure_ascii=False)


def serialize_json(event: Event) -> bytes:
    """switch_event_serialize_json: one object, headers in order (duplicates kept), no newline."""
    members = []
    for name, value in event.headers:
        if isinstance(value, str):
            rendered = _json_string(value)
        else:
            rendered = "[" + ",".join(map(_json_string, value)) + "]"
        members.append(f"{_json_string(name)}:{rendered}")
    if event.body is not None:
        members.append(f'"Content-Length":"{len(event.body.encode("utf-8"))}"')
        members.append(f'"_body":{_json_string(event.body)}')
    return ("{" + ",".join(members) + "}").encode("utf-8")


def event_frame(event: Event, fmt: str) -> bytes:
    """The outer envelope of a delivered event: Content-Length first, then Content-Type."""
    payload = serialize_json(event) if fmt == "json" else serialize_plain(event)
    return f"Content-Length: {len(payload)}\nContent-Type: text/event-{fmt}\n\n".encode() + payload


def command_reply(text: str) -> bytes:
    """A command/reply with a Reply-Text header."""
    return f"Content-Type: command/reply\nReply-Text: {text}\n\n".encode()


def raw_reply(block: str) -> bytes:
    """A command/reply whose headers are given whole (the '~' replies: bgapi, userauth)."""
    return ("Content-Type: command/reply\n" + block).encode("utf-8")


def api_response(output: str) -> bytes:
    """An api/response; Content-Type comes first here, unlike events."""
    body = output.encode("utf-8")
    return f"Content-Type: api/response\nContent-Length: {len(body)}\n\n".encode() + body


def disconnect_notice(message: str = GOODBYE, session_uuid: str | None = None) -> bytes:
    """send_disconnect(): the generic notice, or the session-bound one with two extra headers."""
    body = message.encode("utf-8")
    if session_uuid:
        head = (f"Content-Type: text/disconnect-notice\nControlled-Session-UUID: {session_uuid}\n"
                f"Content-Disposition: disconnect\nContent-Length: {len(body)}\n\n")
    else:
        head = f"Content-Type: text/disconnect-notice\nContent-Length: {len(body)}\n\n"
    return head.encode() + body


def linger_notice(session_uuid: str, channel_name: str, linger: int) -> bytes:
    """The linger notice; Channel-Name is deliberately not url-encoded (tested 13, 20)."""
    return (f"Content-Type: text/disconnect-notice\nControlled-Session-UUID: {session_uuid}\n"
            f"Content-Disposition: linger\nChannel-Name: {channel_name}\nLinger-Time: {linger}\n"
            "Content-Length: 0\n\n").encode()


def log_frame(text: str, level: int, file: str, func: str, line: int) -> bytes:
    """A log/data message as mod_event_socket writes it (not in the captures)."""
    body = text.encode("utf-8")
    head = (f"Content-Type: log/data\nContent-Length: {len(body)}\nLog-Level: {level}\nText-Channel: 3\n"
            f"Log-File: {file}\nLog-Func: {func}\nLog-Line: {line}\nUser-Data: \n\n")
    return head.encode() + body


def rude_rejection() -> bytes:
    """What an ACL-rejected client gets before the close (reference 1.3)."""
    body = b"Access Denied, go away.\n"
    return f"Content-Type: text/rude-rejection\nContent-Length: {len(body)}\n\n".encode() + body


@dataclass
class Command:
    """One client command: the first line kept whole, header lines, optional body."""

    line: str
    headers: list[tuple[str, str]]
    body: bytes | None = None

    def header(self, name: str) -> str | None:
        """First header value by case-insensitive name."""
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)


class ProtocolError(Exception):
    """A command FreeSWITCH drops together with the connection (bad Content-Length)."""


def c_atoi(text: str) -> int:
    """C atoi(): optional spaces and sign, then digits; anything else stops the number."""
    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match.group(1)) if match else 0


_TERMINATOR = re.compile(rb"\n\r*\n")  # '\r' does not reset read_packet's newline counter
_LINE_BREAKS = re.compile(r"[\r\n]+")
MAX_BODY = 16 * 1024 * 1024


class CommandParser:
    """Incremental read_packet(): blank-line terminated blocks, then Content-Length body bytes."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._waiting: Command | None = None
        self._needed = 0

    def feed(self, data: bytes) -> None:
        """Add received bytes."""
        self._buffer += data

    @property
    def partial(self) -> bool:
        """True once any byte of the next command has arrived (FreeSWITCH then holds events back)."""
        return self._waiting is not None or bool(self._buffer.lstrip(b"\r\n"))

    def next_command(self) -> Command | None:
        """The next complete command, or None; raises ProtocolError for a bad Content-Length."""
        if self._waiting is not None:
            return self._take_body()
        # Blank lines before a command are skipped (tested 12).
        stripped = len(self._buffer) - len(self._buffer.lstrip(b"\r\n"))
        del self._buffer[:stripped]
        found = _TERMINATOR.search(self._buffer)
        if not found:
            return None
        block = bytes(self._buffer[: found.end()]).decode("utf-8", "replace")
        del self._buffer[: found.end()]
        command, length = self._parse_block(block)
        if length <= 0:
            return command
        self._waiting, self._needed = command, length
        return self._take_body()

    def _take_body(self) -> Command | None:
        if len(self._buffer) < self._needed:
            return None
        command = self._waiting
        assert command is not None
        command.body = bytes(self._buffer[: self._needed])
        del self._buffer[: self._needed]
        self._waiting, self._needed = None, 0
        return command

    @staticmethod
    def _parse_block(block: str) -> tuple[Command, int]:
        lines = [line for line in _LINE_BREAKS.split(block) if line]
        command = Command(lines[0] if lines else "", [])
        length = 0
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon or not name:
                continue
            value = value.lstrip(" ")
            if value:
                command.headers.append((name, value))
            if name.lower() == "content-length":
                length = c_atoi(value)
                # not in 1.10.12 source we read; the reference (1.1) documents the 16 MiB cap and close.
                if length < 0 or length > MAX_BODY:
                    raise ProtocolError(f"bad content-length {value!r}")
        return command, length
