"""The web chat channel passes the conformance kit, driven by visitors on real websockets."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

import plugins.web
from hub.conformance import ChannelContract
from hub.conformance.fixtures import ConformanceServer
from hub.core import HubCore
from hub.errors import ConfigError
from hub.settings import load_settings

ID_SPACE = uuid.UUID("6f1c7a52-2b8e-4c39-9a51-0d3c1e7f4b10")


@dataclass
class _Tab:
    """One visitor's open widget: its socket, reader, and what the server acknowledged."""

    ws: aiohttp.ClientWebSocketResponse
    welcomed: asyncio.Event = field(default_factory=asyncio.Event)
    acks: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    errors: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    reader: asyncio.Task[None] | None = None


class WidgetDriver:
    """The kit's ``PeerDriver`` for web chat: each customer is a visitor with a signed token
    and a websocket that resumes from its last seen seq, as the widget in the browser does."""

    def __init__(self, url: str, hub: HubCore) -> None:
        self.url = url
        self.signer = hub.facade("web").signer("visitor")
        self.http = aiohttp.ClientSession()
        self.tabs: dict[str, _Tab] = {}
        self.position: dict[str, tuple[int | None, int]] = {}
        self.received: dict[tuple[int, int], str] = {}

    def sender_for(self, n: int) -> str:
        return f"v_conformance_{n}"

    async def inject(self, text: str, sender: str, external_id: str) -> None:
        tab = await self._tab(sender)
        client_msg_id = str(uuid.uuid5(ID_SPACE, external_id))  # the same id on a retry
        ack = tab.acks.setdefault(client_msg_id, asyncio.get_running_loop().create_future())
        await tab.ws.send_str(json.dumps({"type": "message", "client_msg_id": client_msg_id, "text": text}))
        await asyncio.wait_for(asyncio.shield(ack), 10)
        tab.acks.pop(client_msg_id, None)

    async def inject_bad(self) -> None:
        tab = await self._tab(self.sender_for(1))
        await tab.ws.send_str("{this is not json")
        error = await asyncio.wait_for(tab.errors.get(), 10)
        assert error["code"] == "bad_json"

    async def sent(self) -> list[str]:
        return [self.received[key] for key in sorted(self.received)]

    async def disconnect(self) -> None:
        """The visitors close their tabs: nothing reaches them until they come back."""
        for tab in list(self.tabs.values()):
            await tab.ws.close()
            if tab.reader is not None:
                await tab.reader
        self.tabs.clear()

    async def reconnect(self) -> None:
        for sender in list(self.position):
            await self._tab(sender)

    async def close(self) -> None:
        await self.disconnect()
        await self.http.close()

    async def _tab(self, sender: str) -> _Tab:
        tab = self.tabs.get(sender)
        if tab is not None and not tab.ws.closed:
            return tab
        ws = await self.http.ws_connect(f"{self.url}/channels/web/ws", origin=self.url)
        tab = self.tabs[sender] = _Tab(ws)
        conversation, last_seq = self.position.get(sender, (None, 0))
        await ws.send_str(json.dumps({"type": "hello", "token": self.signer.dumps({"v": sender}),
                                      "conversation_id": conversation, "last_seq": last_seq}))
        tab.reader = asyncio.create_task(self._read(sender, tab))
        await asyncio.wait_for(tab.welcomed.wait(), 10)
        return tab

    async def _read(self, sender: str, tab: _Tab) -> None:
        async for msg in tab.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            conversation, last_seq = self.position.get(sender, (None, 0))
            if frame["type"] == "welcome":
                self.position[sender] = (frame["conversation_id"], frame["last_seq"])
                tab.welcomed.set()
            elif frame["type"] == "message":
                if frame["author"]["type"] == "agent" and conversation is not None:
                    self.received[(conversation, frame["seq"])] = frame["text"]
                self.position[sender] = (conversation, max(last_seq, frame["seq"]))
            elif frame["type"] == "ack" and frame["client_msg_id"] in tab.acks:
                tab.acks[frame["client_msg_id"]].set_result(frame)
            elif frame["type"] == "error":
                tab.errors.put_nowait(frame)


@pytest.fixture
def channel_plugin() -> object:
    return plugins.web


@pytest.fixture
async def peer(
    conformance_server: ConformanceServer, conformance_hub: HubCore
) -> AsyncIterator[WidgetDriver]:
    driver = WidgetDriver(conformance_server.url, conformance_hub)
    try:
        yield driver
    finally:
        with contextlib.suppress(Exception):
            await driver.close()


class TestWebChatChannel(ChannelContract):
    """Every contract but two that do not apply to a browser peer."""

    supports_offline_inbound = False
    """A visitor whose tab is closed sends nothing: there is no store at the peer."""
    health_follows_peer = False
    """Visitors come and go; a quiet widget is not a channel that is down."""
    outage_send_wait = 1.0
    """A reply to a visitor who closed the tab is sent at once, stored for the widget to fetch
    when it comes back: it never turns failed, so the default five seconds would only wait."""


def test_a_bad_setting_stops_start_up_with_one_line(tmp_path: Any) -> None:
    from hub.core import create_hub

    settings = load_settings(data_dir=tmp_path, plugins={"web": {"allowed_origins": ["https://x.test/path"]}})
    with pytest.raises(ConfigError) as err:
        create_hub(settings, plugins=[plugins.web], load_entry_points=False)
    assert "[plugins.web] allowed_origins" in str(err.value) and "\n" not in str(err.value)
