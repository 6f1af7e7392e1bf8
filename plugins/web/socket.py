"""The visitor websocket: Origin checked before upgrading, hello first, then frames served."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from plugins.web import protocol
from plugins.web.client import VisitorConnection
from plugins.web.protocol import FrameError
from plugins.web.visitors import TokenRefused, Visitor, verify

if TYPE_CHECKING:
    from plugins.web.channel import WebChatChannel

log = logging.getLogger("contacthub.channel.web")
TYPING_EVERY = 1.0
"""Seconds between two "typing on" the server passes on for one socket."""


class VisitorSocket:
    """``GET /channels/web/ws``: one instance serves every visitor socket of the channel."""

    def __init__(self, channel: WebChatChannel) -> None:
        self.channel = channel
        self.config = channel.config

    async def handle(self, request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin", "").lower()
        if origin != self.channel.own_origin:
            # Cross-site websocket hijacking: CORS does not cover websockets, so refuse here.
            log.info("visitor websocket from origin %r refused", origin[:100])
            return web.json_response({"error": "origin_refused", "message": "foreign origin"}, status=403)
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=self.config.max_frame_bytes)
        await ws.prepare(request)
        hello = await self._hello(ws)
        if hello is None:
            return ws
        visitor, frame = hello
        conn = VisitorConnection(ws, self.channel.hub, visitor, self.config.send_queue)
        self.channel.registry.add(conn)
        try:
            latest = await self.channel.hub.latest_interaction(visitor.id)
            interaction_id = latest["id"] if latest else None
            # A client that knew another conversation (or none) gets this one from the start.
            same = interaction_id is not None and frame.conversation_id == interaction_id
            resume = frame.last_seq if same else 0
            await conn.bind(interaction_id, resume)
            await self._serve(conn)
        finally:
            self.channel.registry.remove(conn)
            await conn.finish()
        return ws

    async def _hello(self, ws: web.WebSocketResponse) -> tuple[Visitor, protocol.Hello] | None:
        """The first frame must be a hello with a token we signed; otherwise say why and close."""
        try:
            msg = await ws.receive(timeout=self.config.hello_timeout)
        except TimeoutError:
            return await _refuse(ws, "hello_timeout", "send hello first", protocol.CLOSE_POLICY)
        if msg.type != WSMsgType.TEXT:
            if msg.type == WSMsgType.BINARY:
                return await _refuse(ws, "bad_frame", "frames are JSON text", protocol.CLOSE_UNSUPPORTED)
            return None
        try:
            frame = protocol.parse(msg.data, self.config.max_text)
        except FrameError as err:
            return await _refuse(ws, err.code, err.message, protocol.CLOSE_POLICY)
        if not isinstance(frame, protocol.Hello):
            return await _refuse(ws, "hello_required", "the first frame must be hello", protocol.CLOSE_POLICY)
        try:
            visitor = verify(self.channel.hub.signer("visitor"), frame.token, self.config.token_max_age)
        except TokenRefused as err:
            return await _refuse(ws, err.code, err.message, protocol.CLOSE_SESSION)
        return visitor, frame

    async def _serve(self, conn: VisitorConnection) -> None:
        async for msg in conn.ws:
            if conn.closing:
                continue  # the close is on its way; later frames are not served
            if msg.type == WSMsgType.TEXT:
                await self._frame(conn, msg.data)
            elif msg.type == WSMsgType.BINARY:
                conn.note("binary", "visitor %s sent a binary frame", conn.visitor.id, level=logging.INFO)
                conn.push(protocol.error_frame("bad_frame", "frames are JSON text"))
                conn.close(protocol.CLOSE_UNSUPPORTED, "frames are JSON text")
            elif msg.type == WSMsgType.ERROR:
                # aiohttp has already closed the socket (1009 for a frame over max_msg_size).
                conn.note("ws_error", "visitor %s socket error: %s", conn.visitor.id, msg.data,
                          level=logging.INFO)

    async def _frame(self, conn: VisitorConnection, raw: str) -> None:
        frame: protocol.Frame | None = None
        try:
            frame = protocol.parse(raw, self.config.max_text)
            await self._dispatch(conn, frame)
        except FrameError as err:
            conn.bad_frames += 1
            conn.note(err.code, "visitor %s: refused a frame: %s", conn.visitor.id, err.message,
                      level=logging.INFO)
            conn.push(err.frame())
            if conn.bad_frames >= self.config.max_bad_frames:
                conn.close(protocol.CLOSE_POLICY, "too many bad frames")
        except Exception as err:
            # The database or the core failed: the client keeps the message and resends it.
            conn.note("unavailable", "visitor %s: serving a frame failed: %r", conn.visitor.id, err)
            client_msg_id = frame.client_msg_id if isinstance(frame, protocol.Message) else ""
            conn.push(protocol.error_frame("unavailable", "please try again shortly", client_msg_id))

    async def _dispatch(self, conn: VisitorConnection, frame: protocol.Frame) -> None:
        if isinstance(frame, protocol.Message):
            await self._message(conn, frame)
        elif isinstance(frame, protocol.Typing):
            await self._typing(conn, frame.on)
        elif isinstance(frame, protocol.Read):
            if conn.interaction_id is not None and frame.up_to_seq > conn.read_seq:
                conn.read_seq = frame.up_to_seq
                await self.channel.hub.mark_read_by_customer(conn.interaction_id, frame.up_to_seq)
        elif isinstance(frame, protocol.Ping):
            conn.push({"type": "pong"})
        else:
            raise FrameError("bad_frame", "hello was already sent")

    async def _message(self, conn: VisitorConnection, frame: protocol.Message) -> None:
        if not self.channel.message_limit.allow(conn.visitor.id):
            raise FrameError("rate_limited", "you are sending messages too fast", frame.client_msg_id)
        result = await self.channel.accept(conn.visitor, frame.client_msg_id, frame.text)
        # Acknowledged only now: ingest has committed, so the client may forget its copy.
        conn.push({"type": "ack", "client_msg_id": frame.client_msg_id, "seq": result.seq,
                   "conversation_id": result.interaction_id})

    async def _typing(self, conn: VisitorConnection, on: bool) -> None:
        now = time.monotonic()
        if conn.interaction_id is None or (on and now - conn.typing_at < TYPING_EVERY):
            return
        conn.typing_at = now if on else 0.0
        await self.channel.hub.publish(f"interaction:{conn.interaction_id}", {
            "event": "typing", "by": "customer", "state": "on" if on else "off",
            "interaction_id": conn.interaction_id,
        })


async def _refuse(ws: web.WebSocketResponse, code: str, message: str, close_code: int) -> None:
    log.info("visitor websocket refused: %s", code)
    try:
        await ws.send_json(protocol.error_frame(code, message))
        await ws.close(code=close_code, message=message.encode()[:120])
    except (ConnectionError, RuntimeError):
        pass
    return None
