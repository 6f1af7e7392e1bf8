"""What the web chat tests share: the hub under test and a visitor speaking the widget protocol."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from hub.core import HubCore
from hub.models import Message

SHOP = "https://shop.example.com"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Chat:
    """The hub under test and an HTTP client pointed at it."""

    core: HubCore
    client: TestClient
    origin: str

    @property
    def channel(self) -> Any:
        return self.core.channel("web")

    async def token(self, **prechat: str) -> str:
        resp = await self.client.post("/channels/web/session", json=prechat, headers={"Origin": self.origin})
        assert resp.status == 200, await resp.text()
        return str((await resp.json())["token"])

    async def visitor(self, **prechat: str) -> Visitor:
        return Visitor(self, await self.token(**prechat))

    async def count(self, direction: str = "in") -> int:
        async with self.core.sessions() as s:
            return int((await s.execute(select(func.count()).select_from(Message).where(
                Message.channel == "web", Message.direction == direction))).scalar_one())


@dataclass
class Visitor:
    """One visitor's websocket, speaking the widget protocol."""

    chat: Chat
    token: str
    ws: aiohttp.ClientWebSocketResponse | None = None
    seen: list[dict[str, Any]] = field(default_factory=list)
    welcome: dict[str, Any] = field(default_factory=dict)

    async def open(self, origin: str | None = None) -> aiohttp.ClientWebSocketResponse:
        self.ws = await self.chat.client.ws_connect("/channels/web/ws", origin=origin or self.chat.origin)
        return self.ws

    async def connect(self, last_seq: int = 0, conversation_id: int | None = None) -> dict[str, Any]:
        await self.open()
        await self.send({"type": "hello", "token": self.token, "last_seq": last_seq,
                         "conversation_id": conversation_id})
        self.welcome = await self.expect("welcome")
        return self.welcome

    async def send(self, frame: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send_str(json.dumps(frame))

    async def next(self, timeout: float = 5) -> dict[str, Any]:  # noqa: ASYNC109
        assert self.ws is not None
        msg = await self.ws.receive(timeout=timeout)
        assert msg.type == aiohttp.WSMsgType.TEXT, f"expected a frame, got {msg.type} {msg.data!r}"
        frame = json.loads(msg.data)
        self.seen.append(frame)
        return dict(frame)

    async def expect(self, kind: str, timeout: float = 5) -> dict[str, Any]:  # noqa: ASYNC109
        """The next frame of type ``kind``; frames of other types are kept in ``seen``."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.next(timeout)
                if frame["type"] == kind:
                    return frame

    async def say(self, text: str, client_msg_id: str | None = None) -> dict[str, Any]:
        client_msg_id = client_msg_id or str(uuid.uuid4())
        await self.send({"type": "message", "client_msg_id": client_msg_id, "text": text})
        ack = await self.expect("ack")
        assert ack["client_msg_id"] == client_msg_id
        return ack

    async def closed(self, timeout: float = 5) -> int:  # noqa: ASYNC109
        """Wait for the server to close the socket; its close code."""
        assert self.ws is not None
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.ws.receive()
                if msg.type == aiohttp.WSMsgType.TEXT:
                    self.seen.append(json.loads(msg.data))
                elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                  aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):
                    break
        return int(self.ws.close_code or 0)

    def messages(self) -> list[dict[str, Any]]:
        return [f for f in self.seen if f["type"] == "message"]

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


