"""ESL framing: the incremental parser for FreeSWITCH's messages, and command encoding.

FreeSWITCH -> client: ``Name: value`` lines ended by an empty line; when they include
``Content-Length: N``, exactly N bytes of body follow, with no terminator. The end of a
body is found by that length only, never by a blank line: api output and serialized
events routinely contain blank lines (reference 1.1). Header values are url-decoded after
the block is split into lines, so an encoded ``%0A`` stays inside its value.

Client -> FreeSWITCH: a command line, ``Header: value`` lines, an empty line, then a body
counted by ``content-length``. A CR, LF or NUL in the line or a header would end the
command early and start another one, so ``Command.encode`` refuses them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from plugins.voice.esl.errors import FrameError, UnsafeCommand

MAX_HEADER_BYTES = 64 * 1024
"""Largest header block accepted; the biggest real one (the outbound ``connect`` reply)
is about 6 KB."""
MAX_BODY_BYTES = 16 * 1024 * 1024
"""Largest Content-Length accepted: FreeSWITCH's own limit for commands."""
LONG_ARGUMENT = 1024
"""Application arguments longer than this travel in a sendmsg body, not a header."""

_BYTE_COUNT = re.compile(r"[0-9]{1,12}")
_UNSAFE = re.compile(r"[\r\n\x00]")
_SECRET_COMMANDS = ("auth ", "userauth ")


@dataclass(frozen=True, slots=True)
class Message:
    """One message from FreeSWITCH: url-decoded headers in wire order, raw body, wire size."""

    headers: dict[str, str]
    body: bytes = b""
    size: int = 0
    """Bytes the message took on the wire, header block and body."""

    def header(self, name: str) -> str | None:
        """The value of ``name``, matched case-insensitively as libesl does."""
        return lookup(self.headers, name)

    @property
    def content_type(self) -> str:
        return self.header("Content-Type") or ""

    @property
    def reply_text(self) -> str:
        return self.header("Reply-Text") or ""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def lookup(headers: dict[str, str], name: str) -> str | None:
    """``headers[name]``, falling back to a case-insensitive match."""
    if name in headers:
        return headers[name]
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def url_decode(raw: bytes) -> str:
    """One level of %XX decoding; ``+`` stays ``+`` (FreeSWITCH encodes it as ``%2B``)."""
    return unquote_to_bytes(raw).decode("utf-8", "replace")


def header_lines(block: bytes) -> list[tuple[str, str]]:
    """The (name, decoded value) pairs of a header block without its final blank line."""
    pairs = []
    for line in block.split(b"\n"):
        name, colon, value = line.partition(b":")
        if not colon or not name.strip():
            raise FrameError(f"header line without 'Name:': {line[:80]!r}")
        pairs.append((name.decode("utf-8", "replace"), url_decode(value.lstrip(b" "))))
    return pairs


def content_length(pairs: list[tuple[str, str]], limit: int) -> int:
    """The body length a header block announces; 0 without a Content-Length."""
    values = {value.strip() for name, value in pairs if name.lower() == "content-length"}
    if len(values) > 1:
        raise FrameError(f"conflicting Content-Length headers: {sorted(values)}")
    if not values:
        return 0
    value = values.pop()
    if not _BYTE_COUNT.fullmatch(value):
        raise FrameError(f"Content-Length {value[:40]!r} is not a byte count")
    if int(value) > limit:
        raise FrameError(f"Content-Length {value} is over the limit of {limit} bytes")
    return int(value)


class FrameParser:
    """Turns bytes from FreeSWITCH, cut anywhere, into complete ``Message``s.

    ``feed`` keeps what it is given and returns an iterator of the messages now complete;
    a bad frame raises ``FrameError`` at the point where it starts, after the good
    messages before it. After an error the parser stays failed: the stream cannot be
    trusted to resynchronise."""

    def __init__(self, max_header_bytes: int = MAX_HEADER_BYTES,
                 max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self._buffer = bytearray()
        self._scanned = 0
        """Where the search for the blank line resumes, so each byte is looked at once
        even when the bytes come one at a time."""
        self._head: tuple[dict[str, str], int, int] | None = None
        """Headers, body length and header size of a message whose body is still due."""
        self._failed: FrameError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a returned message."""
        return len(self._buffer)

    def feed(self, data: bytes) -> Iterator[Message]:
        if self._failed is not None:
            raise FrameError(f"the stream already failed: {self._failed}")
        self._buffer += data
        return self._messages()

    def _messages(self) -> Iterator[Message]:
        try:
            while (message := self._next()) is not None:
                yield message
        except FrameError as err:
            self._failed = err
            raise

    def _next(self) -> Message | None:
        if self._head is None and not self._read_head():
            return None
        assert self._head is not None
        headers, length, head_size = self._head
        if len(self._buffer) < length:
            return None
        body = bytes(self._buffer[:length])
        del self._buffer[:length]
        self._head = None
        return Message(headers, body, head_size + length)

    def _read_head(self) -> bool:
        self._skip_blank_lines()
        end = self._buffer.find(b"\n\n", self._scanned)
        if end < 0:
            self._scanned = max(0, len(self._buffer) - 1)
            end = len(self._buffer)
        if end > self.max_header_bytes:
            raise FrameError(f"header block over {self.max_header_bytes} bytes")
        if end == len(self._buffer):
            return False
        pairs = header_lines(bytes(self._buffer[:end]))
        self._head = (dict(pairs), content_length(pairs, self.max_body_bytes), end + 2)
        del self._buffer[:end + 2]
        self._scanned = 0
        return True

    def _skip_blank_lines(self) -> None:
        # FreeSWITCH never sends them, but they carry nothing and cost nothing to skip.
        if self._buffer[:1] != b"\n":
            return
        blank = len(self._buffer) - len(self._buffer.lstrip(b"\n"))
        if blank:
            del self._buffer[:blank]
            self._scanned = max(0, self._scanned - blank)


@dataclass(frozen=True, slots=True)
class Command:
    """One command to FreeSWITCH: its line, header lines and optional body."""

    line: str
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""

    @property
    def label(self) -> str:
        """The command line for logs and errors, without a password."""
        if self.line.startswith(_SECRET_COMMANDS):
            return self.line.split(" ", 1)[0] + " ********"
        return self.line

    def encode(self) -> bytes:
        """The bytes to send; ``UnsafeCommand`` if any part would break the framing."""
        if not self.line.strip() or _UNSAFE.search(self.line):
            raise UnsafeCommand(f"command line {self.label[:80]!r} is empty or has CR, LF or NUL")
        lines = [self.line, *(_header_line(name, value) for name, value in self.headers)]
        body = self.body.encode()
        if body:
            lines.append(f"content-length: {len(body)}")
        return ("\n".join(lines) + "\n\n").encode() + body


def _header_line(name: str, value: str) -> str:
    if not name.strip() or ":" in name or _UNSAFE.search(name) or name.lower() == "content-length":
        raise UnsafeCommand(f"header name {name[:80]!r} is not allowed in a command")
    if _UNSAFE.search(value):
        raise UnsafeCommand(f"header {name} has CR, LF or NUL in its value; send it as a body")
    return f"{name}: {value}"


def sendmsg(app: str, arg: str | None = None, *, uuid: str | None = None, event_uuid: str | None = None,
            event_lock: bool = False) -> Command:
    """``sendmsg [uuid]`` executing ``app`` (1.8). A multi-line or long ``arg`` goes in a
    text/plain body, which FreeSWITCH takes as the argument; ``event_uuid`` comes back as
    ``Application-UUID`` on CHANNEL_EXECUTE(_COMPLETE)."""
    headers = [("call-command", "execute"), ("execute-app-name", app)]
    body = ""
    if arg is not None and (_UNSAFE.search(arg) or len(arg) > LONG_ARGUMENT):
        if "\x00" in arg:
            raise UnsafeCommand(f"the argument of {app} has a NUL byte")
        headers.append(("content-type", "text/plain"))
        body = arg
    elif arg:
        headers.append(("execute-app-arg", arg))
    if event_lock:
        headers.append(("event-lock", "true"))
    if event_uuid:
        headers.append(("Event-UUID", event_uuid))
    return Command(f"sendmsg {uuid}" if uuid else "sendmsg", tuple(headers), body)


def hangup(cause: str = "NORMAL_CLEARING", *, uuid: str | None = None) -> Command:
    """``sendmsg [uuid]`` hanging the channel up with ``cause``."""
    headers = (("call-command", "hangup"), ("hangup-cause", cause))
    return Command(f"sendmsg {uuid}" if uuid else "sendmsg", headers)
