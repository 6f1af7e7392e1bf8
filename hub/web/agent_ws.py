"""The agents' websocket: live inbox updates, the conversations they watch, typing and read."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from sqlalchemy import select

from hub import inbox
from hub.errors import InvalidRequest
from hub.models import Agent, AgentUnit
from hub.routing.topics import agent_topic
from hub.tickets.org import centre
from hub.web.access import require
from hub.web.keys import CORE, INBOX, SOCKETS

log = logging.getLogger("contacthub.web.agent_ws")
MAX_FRAME = 16 * 1024
QUEUE_LIMIT = 2000
TRY_AGAIN_LATER = 1013


def same_origin(request: web.Request) -> bool:
    """Browsers send Origin on the upgrade and CORS does not protect websockets: check it."""
    origin = request.headers.get("Origin")
    allowed = {f"{request.scheme}://{request.host}",
               request.app[CORE].settings.public_url.rstrip("/")}
    return origin in allowed


class InboxFanout:
    """The inbox topic, shared by every agent screen: each event is serialised once and the
    same text queued on the screens that need it. Only ids and kinds travel here, never
    content; a screen fetches what it may see over REST or by watching a conversation.

    Interaction events go to every screen (the waiting list changes for all). A message in a
    waiting conversation does too (its preview and wait change); a message in an assigned
    one goes only to its agent and to supervisors, so a busy centre does not wake every
    screen for every line of every chat. Who holds what is learnt from the assigned events;
    an interaction not seen yet (after a restart) is treated as waiting.
    """

    FIELDS = ("event", "kind", "interaction_id", "channel", "queue", "agent_id", "seq", "status")

    def __init__(self) -> None:
        self.sockets: set[AgentSocket] = set()
        self.holder: dict[int, int] = {}

    async def on_event(self, _topic: str, payload: dict[str, Any]) -> None:
        text = json.dumps({"type": "inbox", **{k: payload[k] for k in self.FIELDS if k in payload}})
        interaction_id = int(payload.get("interaction_id") or 0)
        if payload.get("event") == "MessageEvent" and interaction_id in self.holder:
            self._to_holder(interaction_id, text)
            return
        self._track(payload.get("kind"), interaction_id, payload.get("agent_id"))
        for conn in list(self.sockets):
            conn.push_text(text)
            if payload.get("kind") == "assigned":
                conn.on_assigned(interaction_id, payload.get("agent_id"))

    def _to_holder(self, interaction_id: int, text: str) -> None:
        holder = self.holder[interaction_id]
        for conn in list(self.sockets):
            if conn.agent.id == holder or inbox.is_supervisor(conn.agent):
                conn.push_text(text)

    async def on_state(self, _topic: str, payload: dict[str, Any]) -> None:
        """An agent's state changed: their own screens and supervisors' screens hear of it."""
        text = json.dumps({"type": "agent_state", **payload})
        for conn in list(self.sockets):
            if conn.agent.id == payload.get("agent_id") or inbox.is_supervisor(conn.agent):
                conn.push_text(text)

    async def to_everyone(self, _topic: str, payload: dict[str, Any]) -> None:
        """News for every screen (an outage's banner): serialised once, queued on each."""
        text = json.dumps(payload)
        for conn in list(self.sockets):
            conn.push_text(text)

    async def to_supervisors(self, _topic: str, payload: dict[str, Any]) -> None:
        """Wallboards and alerts about agents, for supervisors' screens only."""
        text = json.dumps(payload if "type" in payload else {"type": _topic, **payload})
        for conn in list(self.sockets):
            if inbox.is_supervisor(conn.agent):
                conn.push_text(text)

    def _track(self, kind: Any, interaction_id: int, agent_id: Any) -> None:
        if kind == "assigned" and isinstance(agent_id, int):
            self.holder[interaction_id] = agent_id
        elif kind in ("closed", "followup", "opened"):
            self.holder.pop(interaction_id, None)


class AgentSocket:
    """One agent's connection: a bounded outgoing queue drained by a single writer."""

    def __init__(self, request: web.Request, ws: web.WebSocketResponse, agent: Agent) -> None:
        self.core = request.app[CORE]
        self.ws = ws
        self.agent = agent
        self.queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_LIMIT)
        self.watching: dict[int, Callable[[], None]] = {}
        self.personal: Callable[[], None] | None = self.core.bus.subscribe(
            agent_topic(int(agent.id or 0)), self.on_personal)
        self.unit: Callable[[], None] | None = None

    def push(self, frame: dict[str, Any]) -> None:
        self.push_text(json.dumps(frame))

    def push_text(self, text: str) -> None:
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            # A screen that cannot keep up reconnects and catches up from the database.
            self.core.spawn(self.ws.close(code=TRY_AGAIN_LATER, message=b"too slow"))

    async def writer(self) -> None:
        while True:
            await self.ws.send_str(await self.queue.get())

    def on_assigned(self, interaction_id: int, agent_id: int | None) -> None:
        if agent_id != self.agent.id and not inbox.is_supervisor(self.agent):
            self.unwatch(interaction_id, revoked=True)

    async def on_personal(self, _topic: str, payload: dict[str, Any]) -> None:
        """Offers, offer ends and alerts for this agent (``agent:<id>``): forwarded as they are."""
        self.push(payload)

    async def on_interaction(self, _topic: str, payload: dict[str, Any]) -> None:
        self.push({"type": "interaction", **payload})

    async def handle(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        interaction_id = frame.get("interaction_id")
        if kind == "ping":
            self.push({"type": "pong"})
            return
        if not isinstance(interaction_id, int):
            raise InvalidRequest("bad_frame", "interaction_id must be a number")
        if kind == "watch":
            await self.watch(interaction_id)
        elif kind == "unwatch":
            self.unwatch(interaction_id)
        elif kind == "typing":
            await self.typing(interaction_id, frame.get("state") == "on")
        else:
            raise InvalidRequest("unknown_type", f"unknown frame type {kind!r}")

    async def watch(self, interaction_id: int) -> None:
        await inbox.get_interaction(self.core, self.agent, interaction_id)
        if interaction_id not in self.watching:
            self.watching[interaction_id] = self.core.bus.subscribe(
                f"interaction:{interaction_id}", self.on_interaction)
        self.push({"type": "watching", "interaction_id": interaction_id})

    def unwatch(self, interaction_id: int, revoked: bool = False) -> None:
        unsubscribe = self.watching.pop(interaction_id, None)
        if unsubscribe is not None:
            unsubscribe()
            if revoked:
                self.push({"type": "revoked", "interaction_id": interaction_id})

    async def typing(self, interaction_id: int, on: bool) -> None:
        interaction = await inbox.get_interaction(self.core, self.agent, interaction_id)
        if not inbox.may_write(self.agent, interaction):
            raise InvalidRequest("forbidden", "take the conversation first", status=403)
        await self.core.bus.publish(f"interaction:{interaction_id}", {
            "event": "typing", "by": "agent", "state": "on" if on else "off",
            "interaction_id": interaction_id, "name": self.agent.name,
        })

    async def follow_unit(self) -> None:
        """Ticket changes in the agent's unit's queue (``unit:<id>``) reach this screen."""
        async with self.core.sessions() as s:
            unit_id = (await s.execute(select(AgentUnit.unit_id).where(
                AgentUnit.agent_id == self.agent.id))).scalar_one_or_none()
        if unit_id is None:
            async with self.core.sessions() as s:
                unit_id = (await centre(s)).id
        self.unit = self.core.bus.subscribe(f"unit:{unit_id}", self.on_personal)

    def close(self) -> None:
        for unsubscribe in self.watching.values():
            unsubscribe()
        self.watching.clear()
        if self.personal is not None:
            self.personal()
        if self.unit is not None:
            self.unit()


async def agent_socket(request: web.Request) -> web.WebSocketResponse:
    """GET /ws/agent: needs a logged-in agent and this site's Origin, checked before upgrading."""
    agent = require(request)
    if not same_origin(request):
        raise web.HTTPForbidden(text="websocket from a foreign origin refused")
    ws = web.WebSocketResponse(heartbeat=25, max_msg_size=MAX_FRAME)
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    conn = AgentSocket(request, ws, agent)
    presence = conn.core.presence
    presence[agent.id or 0] = presence.get(agent.id or 0, 0) + 1
    fanout = request.app[INBOX]
    fanout.sockets.add(conn)
    writer = asyncio.create_task(conn.writer())
    await conn.follow_unit()
    conn.push({"type": "hello", "agent": {"id": agent.id, "name": agent.name, "role": agent.role},
               "counts": await inbox.counts(conn.core, agent)})
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                conn.push({"type": "error", "code": "bad_frame", "message": "send JSON text frames"})
                continue
            await _dispatch(conn, msg.data)
    finally:
        left = presence.get(agent.id or 0, 1) - 1
        if left > 0:
            presence[agent.id or 0] = left
        else:
            presence.pop(agent.id or 0, None)
        fanout.sockets.discard(conn)
        conn.close()
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
    return ws


async def _dispatch(conn: AgentSocket, data: str) -> None:
    try:
        frame = json.loads(data)
        if not isinstance(frame, dict):
            raise InvalidRequest("bad_frame", "a frame is a JSON object")
        await conn.handle(frame)
    except json.JSONDecodeError:
        conn.push({"type": "error", "code": "bad_json", "message": "frame is not valid JSON"})
    except InvalidRequest as err:
        conn.push({"type": "error", "code": err.error_id, "message": err.message,
                   "interaction_id": frame.get("interaction_id") if isinstance(frame, dict) else None})


async def close_sockets(app: web.Application) -> None:
    for ws in list(app[SOCKETS]):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
