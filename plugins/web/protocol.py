"""The widget's websocket protocol: client frames checked field by field, server frames built."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

# RFC 6455 leaves 4000-4999 to applications; the widget knows these.
CLOSE_SESSION = 4001
"""The visitor token is forged or expired: make a new session, then reconnect."""
CLOSE_POLICY = 1008
CLOSE_UNSUPPORTED = 1003
CLOSE_TRY_LATER = 1013
CLOSE_GOING_AWAY = 1001


class FrameError(Exception):
    """A client frame the server refuses; answered with an ``error`` frame, nothing stored."""

    def __init__(self, code: str, message: str, client_msg_id: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.client_msg_id = client_msg_id

    def frame(self) -> dict[str, Any]:
        return error_frame(self.code, self.message, self.client_msg_id)


@dataclass(frozen=True, slots=True)
class Hello:
    token: str
    last_seq: int
    conversation_id: int | None


@dataclass(frozen=True, slots=True)
class Message:
    client_msg_id: str
    text: str


@dataclass(frozen=True, slots=True)
class Typing:
    on: bool


@dataclass(frozen=True, slots=True)
class Read:
    up_to_seq: int


@dataclass(frozen=True, slots=True)
class Ping:
    pass


Frame = Hello | Message | Typing | Read | Ping


def parse(raw: str, max_text: int) -> Frame:
    """One client frame, or ``FrameError`` saying exactly what is wrong with it."""
    try:
        data = json.loads(raw)
    except ValueError as err:
        raise FrameError("bad_json", "the frame is not valid JSON") from err
    if not isinstance(data, dict):
        raise FrameError("bad_frame", "a frame is a JSON object")
    kind = data.get("type")
    if kind == "hello":
        return Hello(data.get("token"), _count(data, "last_seq"), _optional_id(data))  # type: ignore[arg-type]
    if kind == "message":
        client_msg_id = client_message_id(data.get("client_msg_id"))
        return Message(client_msg_id, message_text(data.get("text"), max_text, client_msg_id))
    if kind == "typing":
        if data.get("state") not in ("on", "off"):
            raise FrameError("bad_field", "typing.state is on or off")
        return Typing(data["state"] == "on")
    if kind == "read":
        return Read(_count(data, "up_to_seq"))
    if kind == "ping":
        return Ping()
    raise FrameError("unknown_type", f"unknown frame type {str(kind)[:40]!r}")


def client_message_id(value: Any) -> str:
    """The canonical form of a client message id, which must be a UUID."""
    try:
        return str(uuid.UUID(value)) if isinstance(value, str) and len(value) <= 40 else _bad_id()
    except ValueError:
        return _bad_id()


def _bad_id() -> str:
    raise FrameError("bad_field", "client_msg_id must be a UUID")


def message_text(value: Any, max_text: int, client_msg_id: str = "") -> str:
    """Text as the visitor wrote it; stored as given, since escaping is each renderer's job."""
    if not isinstance(value, str) or not value.strip():
        raise FrameError("empty_message", "write a message first", client_msg_id)
    if len(value) > max_text:
        raise FrameError("text_too_long", f"a message has at most {max_text} characters", client_msg_id)
    if "\x00" in value:
        # PostgreSQL refuses NUL in text; refuse it here rather than fail in ingest.
        raise FrameError("bad_text", "the message contains a NUL character", client_msg_id)
    return value


def _count(data: dict[str, Any], key: str) -> int:
    value = data.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**53:
        raise FrameError("bad_field", f"{key} must be a whole number >= 0")
    return value


def _optional_id(data: dict[str, Any]) -> int | None:
    value = data.get("conversation_id")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise FrameError("bad_field", "conversation_id must be a number or null")
    return value


def error_frame(code: str, message: str, client_msg_id: str = "") -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if client_msg_id:
        frame["client_msg_id"] = client_msg_id
    return frame


def message_frame(message: dict[str, Any]) -> dict[str, Any]:
    """A stored message (``hub.history.message_dict`` shape) as the widget sees it."""
    author_type = message.get("author_type", "agent")
    client_id = str(message.get("client_id") or "")
    return {
        "type": "message",
        "seq": message["seq"],
        # Inbound external ids are "<visitor>:<client_msg_id>"; the widget knows only the latter.
        "client_msg_id": client_id.rpartition(":")[2] if client_id else "",
        "author": {"type": "visitor" if author_type == "customer" else author_type,
                   "name": message.get("author_name", "")},
        "text": message.get("text", ""),
        "attachments": [
            {k: a.get(k) for k in ("sha256", "filename", "content_type", "size")}
            for a in message.get("attachments", [])
        ],
        "created_at": message.get("created_at", ""),
    }
