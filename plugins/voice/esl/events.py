"""FreeSWITCH events, plain or JSON on the wire, decoded to one ``Event`` type.

Plain (reference 1.5): the message body is itself a block of url-encoded ``Name: value``
lines and an empty line; an event with a body of its own (BACKGROUND_JOB output, a
``sendevent`` body) ends that block with ``Content-Length: M`` and the M bytes follow.
Array values are one header ``ARRAY::a|:b``. JSON: one object of strings, arrays as JSON
arrays, the body as ``_body``. Both give the same ``Event``, so the voice channel never
cares which format a connection uses.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from plugins.voice.esl.errors import FrameError
from plugins.voice.esl.frames import Message, header_lines, lookup

_ARRAY = "ARRAY::"
_REPLY_HEADERS = frozenset({"Content-Type", "Reply-Text", "Socket-Mode", "Control"})
"""The headers of the outbound ``connect`` reply that are not channel data."""


@dataclass(frozen=True, slots=True)
class Event:
    """One FreeSWITCH event, whichever format it came in."""

    name: str
    headers: dict[str, str]
    """Single-valued headers, decoded, in wire order."""
    body: str = ""
    arrays: dict[str, list[str]] = field(default_factory=dict)
    """Array-valued headers (``ARRAY::`` in plain, JSON arrays in JSON)."""
    subclass: str | None = None
    """``Event-Subclass`` of a CUSTOM event, e.g. ``callcenter::info``."""

    def get(self, name: str, default: str | None = None) -> str | None:
        """A header's value, matched case-insensitively as FreeSWITCH does."""
        value = lookup(self.headers, name)
        return default if value is None else value

    @property
    def unique_id(self) -> str | None:
        return self.get("Unique-ID")


def parse_event(message: Message) -> Event:
    """The event a ``text/event-plain`` or ``text/event-json`` message carries."""
    if message.content_type == "text/event-plain":
        return _plain(message.body)
    if message.content_type == "text/event-json":
        return _json(message.body)
    raise FrameError(f"{message.content_type or 'a message without Content-Type'} is not an event")


def channel_data(message: Message) -> Event:
    """The channel data of an outbound ``connect`` reply: a url-encoded CHANNEL_DATA event
    serialized as the headers of a command/reply, with no body (reference 1.9)."""
    pairs = [(name, value) for name, value in message.headers.items() if name not in _REPLY_HEADERS]
    return _event(_split_arrays(pairs))


def _plain(body: bytes) -> Event:
    end = body.find(b"\n\n")
    if end < 0:
        raise FrameError("plain event without the empty line that ends its headers")
    pairs = header_lines(body[:end])
    rest = body[end + 2:]
    # The serializer writes its own Content-Length last; a sendevent may carry the
    # sender's lower-case copy earlier.
    declared = [value.strip() for name, value in pairs if name.lower() == "content-length"]
    expected = declared[-1] if declared else "0"
    if expected != str(len(rest)):
        raise FrameError(f"plain event body is {len(rest)} bytes, its Content-Length says {expected!r}")
    return _event(_split_arrays(pairs), rest.decode("utf-8", "replace"))


def _json(body: bytes) -> Event:
    try:
        decoded = json.loads(body)
    except ValueError as err:
        raise FrameError(f"JSON event is not JSON: {err}") from err
    if not isinstance(decoded, dict):
        raise FrameError(f"JSON event is a {type(decoded).__name__}, not an object")
    text = decoded.pop("_body", "")
    pairs = [(str(name), [str(item) for item in value] if isinstance(value, list) else str(value))
             for name, value in decoded.items()]
    return _event(pairs, str(text))


def _split_arrays(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str | list[str]]]:
    return [(name, value[len(_ARRAY):].split("|:") if value.startswith(_ARRAY) else value)
            for name, value in pairs]


def _event(pairs: Iterable[tuple[str, str | list[str]]], body: str = "") -> Event:
    headers: dict[str, str] = {}
    arrays: dict[str, list[str]] = {}
    for header, value in pairs:
        if isinstance(value, list):
            arrays[header] = value
        else:
            headers[header] = value
    name = lookup(headers, "Event-Name")
    if not name:
        raise FrameError("event without Event-Name")
    return Event(name, headers, body, arrays, lookup(headers, "Event-Subclass"))
