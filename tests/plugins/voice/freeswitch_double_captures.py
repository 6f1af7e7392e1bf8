"""Helpers for the tests of the FreeSWITCH double: the 1.10.12 captures, and ESL spoken by hand.

``capture("08")`` gives the bytes FreeSWITCH sent in ``captures/08-*.txt``; ``parse_stream`` splits
such bytes with Content-Length framing; ``Peer`` is a bare TCP peer (no ESL library) and
``OutboundServer`` the listening side of outbound mode. ``shape``/``summary`` reduce messages to what
two runs must share once UUIDs, dates and counters are normalised.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from dataclasses import dataclass
from pathlib import Path

CAPTURES = Path(__file__).with_name("captures")
UUID_RE = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
UUID_TEXT = re.compile(UUID_RE.pattern.decode())
UPTIME_RE = re.compile(rb"\d+ (year|day|hour|minute|second|millisecond|microsecond)s?")
VARYING = ("Core-UUID", "Event-Date-Local", "Event-Date-GMT", "Event-Date-Timestamp", "Event-Sequence",
           "FreeSWITCH-Hostname", "FreeSWITCH-Switchname", "FreeSWITCH-IPv4", "FreeSWITCH-IPv6")
COUNTERS = ("_body", "Up-Time", "Uptime-msec", "Session-Count", "Session-Per-Sec-Last", "Session-Per-Sec-Max",
            "Session-Per-Sec-FiveMin", "Session-Since-Startup", "Session-Peak-Max", "Session-Peak-FiveMin",
            "Idle-CPU")
GOODBYE = (b"Content-Type: text/disconnect-notice\nContent-Length: 67\n\n"
           b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n")


def capture(prefix: str) -> bytes:
    """The bytes FreeSWITCH sent in a capture file (everything after the '## ---' line)."""
    path = next(CAPTURES.glob(f"{prefix}-*.txt"))
    return path.read_bytes().split(b"## ---\n", 1)[1]


@dataclass
class Message:
    """One ESL message: outer headers in order, and the body."""

    headers: list[tuple[str, str]]
    body: bytes

    def get(self, name: str) -> str | None:
        """First outer header with that name."""
        return next((v for k, v in self.headers if k == name), None)

    @property
    def kind(self) -> str:
        """The Content-Type."""
        return self.get("Content-Type") or ""

    def event(self) -> list[tuple[str, str]]:
        """The event's own headers (plain: inner header block; json: object members)."""
        if self.kind == "text/event-json":
            return [(k, v) for k, v in json.loads(self.body, object_pairs_hook=list)]
        block = self.body.split(b"\n\n", 1)[0].decode()
        return [tuple(line.split(": ", 1)) for line in block.split("\n") if line]  # type: ignore[misc]

    def event_name(self) -> str:
        """Event-Name of an event message, else empty."""
        return dict(self.event()).get("Event-Name", "") if self.kind.startswith("text/event") else ""


def normalise_body(body: bytes) -> bytes:
    """UUIDs and counters out of an api/job body (status numbers, uptime words with their plural)."""
    body = UPTIME_RE.sub(rb"N \1", UUID_RE.sub(b"<uuid>", body))
    return re.sub(rb"\d+", b"N", body)


def normalise_event(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Event headers with the per-run values (dates, sequence, host, UUIDs, uptime counters) blanked."""
    out = []
    for key, value in pairs:
        if key in VARYING:
            value = "*"
        elif key in COUNTERS:
            value = normalise_body(value.replace("%20", " ").encode()).decode()
        out.append((key, UUID_TEXT.sub("<uuid>", value)))
    return out


def shape(message: Message) -> tuple[object, ...]:
    """What must match a capture: header names, reply text, event headers and body, normalised."""
    names = tuple(k for k, _ in message.headers)
    reply = UUID_TEXT.sub("<uuid>", message.get("Reply-Text") or "")
    if message.kind.startswith("text/event"):
        event = message.event()
        body = message.body.split(b"\n\n", 1)[1] if message.kind == "text/event-plain" else b""
        length = dict(event).get("Content-Length")
        framed = length is None or int(length) == len(body) or message.kind == "text/event-json"
        pairs = [(k, "*" if k == "Content-Length" else v) for k, v in normalise_event(event)]
        return names, reply, tuple(pairs), normalise_body(body), framed
    return names, reply, normalise_body(message.body)


def parse_stream(data: bytes) -> list[Message]:
    """Split a byte stream with Content-Length framing (never by looking for blank lines in bodies)."""
    messages, pos = [], 0
    while pos < len(data):
        end = data.index(b"\n\n", pos)
        headers = [tuple(line.split(": ", 1)) for line in data[pos:end].decode().split("\n")]
        pos = end + 2
        length = int(dict(headers).get("Content-Length", 0))
        messages.append(Message(headers, data[pos:pos + length]))  # type: ignore[arg-type]
        pos += length
    return messages


class Peer:
    """A bare TCP peer that speaks ESL by hand."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.buffer = b""
        self.skipped: list[Message] = []  # events command() read past while waiting for a reply

    @classmethod
    async def connect(cls, port: int, rcvbuf: int | None = None) -> Peer:
        """Connect to 127.0.0.1:port, optionally with a small receive buffer (slow consumer)."""
        if rcvbuf is None:
            return cls(*await asyncio.open_connection("127.0.0.1", port))
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        return cls(*await asyncio.open_connection(sock=sock))

    def send(self, data: bytes | str) -> None:
        """Write raw bytes (or text)."""
        self.writer.write(data.encode() if isinstance(data, str) else data)

    async def _fill(self, within: float) -> bool:
        chunk = await asyncio.wait_for(self.reader.read(65536), within)
        self.buffer += chunk
        return bool(chunk)

    async def message(self, within: float = 1.0) -> Message:
        """The next message, framed by Content-Length only."""
        while b"\n\n" not in self.buffer:
            if not await self._fill(within):
                raise EOFError(self.buffer)
        end = self.buffer.index(b"\n\n")
        headers = [tuple(line.split(": ", 1)) for line in self.buffer[:end].decode().split("\n")]
        length = int(dict(headers).get("Content-Length", 0))
        while len(self.buffer) < end + 2 + length:
            if not await self._fill(within):
                raise EOFError(self.buffer)
        body = self.buffer[end + 2:end + 2 + length]
        self.buffer = self.buffer[end + 2 + length:]
        return Message(headers, body)  # type: ignore[arg-type]

    async def command(self, text: str, within: float = 1.0) -> Message:
        """Send a command and return the next reply, skipping events that arrive before it."""
        self.send(text + "\n\n")
        while True:
            message = await self.message(within)
            if not message.kind.startswith("text/event"):
                return message
            self.skipped.append(message)

    async def exchange(self, text: str, quiet: float = 0.03) -> list[Message]:
        """Send a command; everything up to its reply, then whatever follows until it goes quiet."""
        self.send(text + "\n\n")
        got = []
        while not got or got[-1].kind.startswith("text/event"):
            got.append(await self.message())
        return got + await self.events(quiet=quiet)

    async def until_eof(self, within: float = 1.0) -> bytes:
        """Everything until the other side closes."""
        while await self._fill(within):
            pass
        data, self.buffer = self.buffer, b""
        return data

    async def events(self, names: set[str] | None = None, quiet: float = 0.08) -> list[Message]:
        """Events until nothing arrives for ``quiet`` seconds."""
        out = []
        while True:
            try:
                message = await self.message(quiet)
            except (TimeoutError, EOFError):
                return out
            if message.kind.startswith("text/event") and (names is None or message.event_name() in names):
                out.append(message)

    async def login(self, events: str | None = None) -> None:
        """Greeting, auth, and optionally one `event` subscription."""
        assert (await self.message()).kind == "auth/request"
        assert (await self.command("auth ClueCon")).get("Reply-Text") == "+OK accepted"
        if events:
            reply = await self.command(f"event {events}")
            assert reply.get("Reply-Text") == f"+OK event listener enabled {events.split()[0]}"

    def close(self) -> None:
        """Close our side."""
        self.writer.close()


def summary(message: Message, roles: dict[str, str] | None = None) -> tuple[str, ...]:
    """A compact view for call scenarios: reply text / api body, or event name, leg role, application."""
    if message.kind.startswith("text/event"):
        event = dict(message.event())
        uuid = event.get("Unique-ID", "")
        role = (roles or {}).get(uuid, "<uuid>" if uuid else "")
        return event["Event-Name"], role, event.get("Application", "")
    if message.kind == "api/response":
        return ("api", UUID_TEXT.sub("<uuid>", message.body.decode()))
    return (message.kind, UUID_TEXT.sub("<uuid>", message.get("Reply-Text") or ""))


def header_names(message: Message) -> list[str]:
    """The event's header names in order, without the variables (their set depends on the call)."""
    return [k for k, _ in message.event() if not k.startswith("variable_")] if message.kind.startswith(
        "text/event") else [k for k, _ in message.headers]


def roles_by_name(messages: list[Message]) -> dict[str, str]:
    """Name each leg by its Channel-Name pattern, so two runs can be compared leg by leg."""
    roles = {}
    for message in messages:
        if message.kind.startswith("text/event"):
            event = dict(message.event())
            name = event.get("Channel-Name", "")
            if "Unique-ID" in event and name:
                role = name.rsplit("-", 1)[1] if name.startswith("loopback/") else name.split("/")[0]
                roles.setdefault(event["Unique-ID"], role)
    return roles


class OutboundServer:
    """Our side of outbound mode: a listening socket the double's socket application dials."""

    def __init__(self) -> None:
        self.peers: asyncio.Queue[Peer] = asyncio.Queue()
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> OutboundServer:
        self.server = await asyncio.start_server(
            lambda r, w: self.peers.put_nowait(Peer(r, w)), "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def port(self) -> int:
        """The port the double's socket application should dial."""
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]
