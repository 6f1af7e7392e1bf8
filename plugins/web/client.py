"""Visitor connections: one writer per socket, seq-ordered push, and the registry of them all."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from plugins.web import protocol
from plugins.web.visitors import Visitor

if TYPE_CHECKING:
    from hub.facade import Hub

log = logging.getLogger("contacthub.channel.web")


@dataclass(frozen=True, slots=True)
class _Close:
    code: int
    reason: str


class VisitorConnection:
    """One visitor's live socket: frames leave through a bounded queue and one writer task,
    and messages leave strictly in ``seq`` order, each once, whatever order events arrive in."""

    def __init__(self, ws: web.WebSocketResponse, hub: Hub, visitor: Visitor, queue_size: int) -> None:
        self.ws = ws
        self.hub = hub
        self.visitor = visitor
        self.interaction_id: int | None = None
        self.sent_seq = 0
        self.closing = False
        self._queue: asyncio.Queue[dict[str, Any] | _Close] = asyncio.Queue(queue_size)
        self._writer = asyncio.create_task(self._write(), name=f"web-visitor-{visitor.id}")
        self._unsubscribe: Callable[[], None] | None = None
        self._catch_up: asyncio.Task[None] | None = None
        self._dirty = False
        self._noted: set[str] = set()
        self.bad_frames = 0
        self.read_seq = 0
        self.typing_at = 0.0

    def push(self, frame: dict[str, Any]) -> bool:
        """Queue a frame; a visitor too slow to take it is closed with 1013 to resume later."""
        if self.closing:
            return False
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.note("slow_client", "visitor %s is too slow; closing with 1013", self.visitor.id)
            self._abort(protocol.CLOSE_TRY_LATER, "too slow, resume")
            return False
        return True

    def close(self, code: int, reason: str) -> None:
        """Close after the frames already queued (an error frame first, then the close)."""
        if self.closing:
            return
        try:
            self._queue.put_nowait(_Close(code, reason))
            self.closing = True
        except asyncio.QueueFull:
            self._abort(code, reason)

    def _abort(self, code: int, reason: str) -> None:
        """Close now, dropping what is queued: the client resumes from its last seq anyway."""
        self.closing = True
        self._writer.cancel()
        task = asyncio.ensure_future(self.ws.close(code=code, message=reason.encode()[:120]))
        _background.add(task)
        task.add_done_callback(_background.discard)

    def note(self, code: str, msg: str, *args: Any, level: int = logging.WARNING) -> None:
        """Log one kind of trouble once per connection: a misbehaving client makes no storm."""
        if code not in self._noted:
            self._noted.add(code)
            log.log(level, msg, *args)

    async def bind(self, interaction_id: int | None, after_seq: int) -> None:
        """Follow ``interaction_id`` live, then send every message after ``after_seq``."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.interaction_id = interaction_id
        self.sent_seq = after_seq
        self.push({"type": "welcome", "conversation_id": interaction_id, "last_seq": after_seq,
                   "agents_online": self.hub.agents_online() > 0})
        if interaction_id is None:
            return
        # Subscribe before reading the backlog, so nothing falls between the two.
        self._unsubscribe = self.hub.subscribe(f"interaction:{interaction_id}", self._on_event)
        interaction = await self.hub.latest_interaction(self.visitor.id)
        closed = interaction is not None and interaction["id"] == interaction_id and interaction["closed_at"]
        self.push({"type": "status", "state": "closed" if closed else "open"})
        self._schedule_catch_up()
        if self._catch_up is not None:
            await asyncio.shield(self._catch_up)

    def offer(self, message: dict[str, Any]) -> bool:
        """Send a stored message of the bound interaction unless the visitor has it already."""
        if self.closing:
            return False
        seq = int(message["seq"])
        if seq <= self.sent_seq:
            return True
        if seq == self.sent_seq + 1 and self._catch_up is None:
            self.sent_seq = seq
            return self.push(protocol.message_frame(message))
        # A gap (an event missed or overtaken): read the rest from the database, in order.
        self._schedule_catch_up()
        return True

    def _schedule_catch_up(self) -> None:
        if self._catch_up is not None:
            self._dirty = True
            return
        self._catch_up = asyncio.create_task(self._read_backlog())

    async def _read_backlog(self) -> None:
        try:
            self._dirty = True
            while self._dirty and not self.closing and self.interaction_id is not None:
                self._dirty = False
                interaction_id = self.interaction_id
                for message in await self.hub.messages_since(interaction_id, self.sent_seq):
                    if interaction_id != self.interaction_id or message["seq"] <= self.sent_seq:
                        continue
                    self.sent_seq = message["seq"]
                    self.push(protocol.message_frame(message))
                    self._dirty = True
        except Exception:
            self.note("backlog", "reading the backlog for visitor %s failed", self.visitor.id)
            self.close(protocol.CLOSE_TRY_LATER, "try again")
        finally:
            self._catch_up = None

    async def _on_event(self, _topic: str, payload: dict[str, Any]) -> None:
        event = payload.get("event")
        if event == "MessageEvent" and payload.get("kind") in ("inbound", "outbound"):
            if payload.get("message"):
                self.offer(payload["message"])
            else:
                self._schedule_catch_up()
        elif event == "typing" and payload.get("by") == "agent":
            self.push({"type": "typing", "by": "agent", "state": payload.get("state", "off"),
                       "name": payload.get("name", "")})
        elif event == "read" and payload.get("by") == "agent":
            self.push({"type": "read", "by": "agent", "up_to_seq": payload.get("up_to_seq", 0)})
        elif event == "InteractionEvent" and payload.get("kind") in ("closed", "assigned", "followup"):
            self.push({"type": "status", "state": "closed" if payload["kind"] == "closed" else "open"})

    async def _write(self) -> None:
        try:
            while True:
                item = await self._queue.get()
                if isinstance(item, _Close):
                    await self.ws.close(code=item.code, message=item.reason.encode()[:120])
                    return
                await self.ws.send_str(json.dumps(item, ensure_ascii=False))
        except ConnectionError:
            # The visitor vanished mid-write; the reading side sees the close and cleans up.
            self.closing = True

    async def finish(self) -> None:
        """Stop following the conversation and stop the writer; safe to call twice."""
        self.closing = True
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for task in (self._writer, self._catch_up):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


_background: set[asyncio.Task[Any]] = set()
"""Fire-and-forget closes, referenced until done so they are not garbage-collected mid-way."""


class VisitorRegistry:
    """Every live visitor socket in this process, by visitor id."""

    def __init__(self) -> None:
        self._by_visitor: dict[str, set[VisitorConnection]] = defaultdict(set)

    def add(self, conn: VisitorConnection) -> None:
        self._by_visitor[conn.visitor.id].add(conn)

    def remove(self, conn: VisitorConnection) -> None:
        conns = self._by_visitor.get(conn.visitor.id)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self._by_visitor[conn.visitor.id]

    def of(self, visitor_id: str) -> list[VisitorConnection]:
        return list(self._by_visitor.get(visitor_id, ()))

    def __iter__(self) -> Iterator[VisitorConnection]:
        return (c for conns in list(self._by_visitor.values()) for c in list(conns))

    def __len__(self) -> int:
        return sum(len(conns) for conns in self._by_visitor.values())

    async def close_all(self, code: int = protocol.CLOSE_GOING_AWAY) -> None:
        """Close every socket (server shutdown: the widgets reconnect and resume)."""
        for conn in list(self):
            await conn.finish()
            with contextlib.suppress(Exception):
                await conn.ws.close(code=code, message=b"server shutting down")
