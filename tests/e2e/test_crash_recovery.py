"""Kill -9 the hub mid-conversation and start it again: nothing it acknowledged is lost,
nothing appears twice, and visitors and agents resume where they were.

The hub is a real ``contacthub run`` process on SQLite; the visitors speak the widget protocol
over websockets, as the widget does: they keep every unacknowledged message and send it again,
with the same client message id, after reconnecting with the last seq they saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hub_process import HubProcess, free_port

pytestmark = pytest.mark.slow

VISITORS = 20
BURST = 30
PASSWORD = "correct horse 1"
TIMEOUT = 15


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    """A hub process (not started) with agent 1001; always killed at the end."""
    config = tmp_path / "contacthub.toml"
    # Every simulated visitor comes from 127.0.0.1: the per-address limits would refuse them.
    config.write_text("[plugins.web]\nsessions_per_minute = 10000\nmessages_per_minute = 10000\n")
    process = HubProcess(tmp_path / "var", free_port(), config)
    process.cli("agent", "add", "1001", "--name", "Ann", "--password-stdin", stdin=PASSWORD + "\n")
    try:
        yield process
    finally:
        process.kill()


@dataclass
class Visitor:
    """One widget: its token, what it sent, what the server acknowledged, what it was shown."""

    http: aiohttp.ClientSession
    hub: HubProcess
    token: str
    sent: list[tuple[str, str]] = field(default_factory=list)
    acked: dict[str, int] = field(default_factory=dict)
    conversation_id: int | None = None
    last_seq: int = 0
    streams: list[list[dict[str, Any]]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    ws: aiohttp.ClientWebSocketResponse | None = None
    reader: asyncio.Task[None] | None = None
    on_ack: Callable[[], None] | None = None
    """Called as each acknowledgement is read, before anything else runs."""

    @classmethod
    async def new(cls, http: aiohttp.ClientSession, hub: HubProcess) -> Visitor:
        async with http.post(hub.url + "/channels/web/session", json={},
                             headers={"Origin": hub.url}) as resp:
            assert resp.status == 200, await resp.text()
            return cls(http, hub, (await resp.json())["token"])

    async def connect(self) -> dict[str, Any]:
        """Open a socket, say hello with what we have, and read the welcome."""
        self.ws = await self.http.ws_connect(self.hub.url + "/channels/web/ws", origin=self.hub.url,
                                             timeout=aiohttp.ClientWSTimeout(ws_close=2))
        await self.ws.send_str(json.dumps({"type": "hello", "token": self.token, "last_seq": self.last_seq,
                                           "conversation_id": self.conversation_id}))
        msg = await self.ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        welcome = json.loads(msg.data)
        assert welcome["type"] == "welcome", welcome
        self.streams.append([])
        self.reader = asyncio.create_task(self._read(self.ws, self.streams[-1]))
        return dict(welcome)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, stream: list[dict[str, Any]]) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            frame = json.loads(msg.data)
            if frame["type"] == "ack":
                self.acked[frame["client_msg_id"]] = frame["seq"]
                self.conversation_id = frame["conversation_id"]
                if self.on_ack is not None:
                    self.on_ack()
            elif frame["type"] == "message":
                stream.append(frame)
                self.last_seq = max(self.last_seq, frame["seq"])
            elif frame["type"] == "welcome":
                # The first message opened the conversation: the socket now follows it.
                self.conversation_id = frame["conversation_id"]
            elif frame["type"] == "error":
                self.errors.append(frame)

    async def say(self, text: str, client_msg_id: str | None = None) -> str:
        """Send without waiting for the ack; remembered until acknowledged."""
        assert self.ws is not None
        if client_msg_id is None:
            client_msg_id = str(uuid.uuid4())
            self.sent.append((client_msg_id, text))
        with contextlib.suppress(ConnectionError):
            await self.ws.send_str(json.dumps({"type": "message", "client_msg_id": client_msg_id,
                                               "text": text}))
        return client_msg_id

    def unacked(self) -> list[tuple[str, str]]:
        return [(cid, text) for cid, text in self.sent if cid not in self.acked]

    async def dropped(self) -> None:
        """Wait until the socket has gone (the hub died): every frame it got is read."""
        if self.reader is not None:
            await asyncio.wait_for(self.reader, TIMEOUT)
        if self.ws is not None:
            await self.ws.close()

    def seen(self) -> list[int]:
        return [f["seq"] for stream in self.streams for f in stream]


async def until(check: Any, what: str, timeout: float = TIMEOUT) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def rows(hub: HubProcess, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(hub.database, timeout=10)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


async def test_kill_9_during_a_burst_loses_and_doubles_nothing(hub: HubProcess) -> None:
    hub.start()
    async with aiohttp.ClientSession() as http:
        visitors = [await Visitor.new(http, hub) for _ in range(VISITORS)]
        for v in visitors:
            await v.connect()

        # Everyone fires a burst without waiting for acks; the hub dies part-way through.
        async def burst(n: int, v: Visitor) -> None:
            for i in range(BURST):
                await v.say(f"visitor {n} message {i}")

        total = VISITORS * BURST

        def kill_at_a_quarter() -> None:
            # From the reader, as the ack comes in: a test that polled for it could see the
            # whole burst through on a busy machine before it looked again.
            if sum(len(v.acked) for v in visitors) >= total // 4:
                hub.kill()
                for v in visitors:
                    v.on_ack = None

        for v in visitors:
            v.on_ack = kill_at_a_quarter
        senders = [asyncio.create_task(burst(n, v)) for n, v in enumerate(visitors)]
        await until(lambda: visitors[0].on_ack is None, "a quarter of the acks")
        await asyncio.gather(*senders)
        for v in visitors:
            await v.dropped()
        acked_before = {cid: seq for v in visitors for cid, seq in v.acked.items()}
        last_seen = [v.last_seq for v in visitors]
        assert len(acked_before) < total, "the burst was over before the kill: nothing was tested"

        # Each connection showed its conversation from seq 1, in order, each message once.
        for v in visitors:
            assert v.seen() == list(range(1, v.last_seq + 1))
            assert not v.errors, v.errors

        # What the dead hub had committed (read before it starts again).
        at_kill = {ext.split(":", 1)[1]: seq for ext, seq in rows(
            hub, "SELECT external_id, seq FROM message WHERE channel = 'web'")}
        assert acked_before.items() <= at_kill.items(), "an acknowledged message was not committed"

        # Same port, same data directory; each widget comes back with its last seq and sends
        # again everything not acknowledged, with the same client message ids.
        hub.start()
        for v in visitors:
            known = v.conversation_id
            welcome = await v.connect()
            if known is not None:
                assert welcome["conversation_id"] == known
                assert welcome["last_seq"] == v.last_seq
            for cid, text in v.unacked():
                await v.say(text, cid)
        await until(lambda: all(not v.unacked() for v in visitors), "every message acknowledged")
        await until(lambda: all(v.last_seq == max(v.acked.values()) for v in visitors),
                    "every message shown back")
        for v in visitors:
            assert not v.errors, v.errors
            await v.ws.close()  # type: ignore[union-attr]
    hub.stop()

    stored = rows(hub, "SELECT interaction_id, seq, external_id, text FROM message "
                       "WHERE channel = 'web' ORDER BY interaction_id, seq")
    assert len(stored) == total, f"{len(stored)} messages stored for {total} sent"
    by_client_id = {external_id.split(":", 1)[1]: (iid, seq) for iid, seq, external_id, _ in stored}
    assert len(by_client_id) == total, "a client message id was stored twice"
    # Nothing acknowledged before the kill was lost, and it kept its seq.
    for cid, seq in acked_before.items():
        assert cid in by_client_id, f"acknowledged message {cid} lost"
        assert by_client_id[cid][1] == seq
    # What was committed before the kill kept its seq; nothing was stored again.
    assert all(by_client_id[cid][1] == seq for cid, seq in at_kill.items())
    last_seqs = dict(rows(hub, "SELECT id, last_seq FROM interaction WHERE channel = 'web'"))
    for n, v in enumerate(visitors):
        conversation = [(seq, ext.split(":", 1)[1], text) for iid, seq, ext, text in stored
                        if iid == v.conversation_id]
        # Seq 1..N without a gap, and the messages in the order the visitor wrote them.
        assert [seq for seq, _, _ in conversation] == list(range(1, BURST + 1))
        assert [(cid, text) for _, cid, text in conversation] == v.sent
        assert last_seqs[v.conversation_id] == BURST
        assert {cid: seq for seq, cid, _ in conversation} == v.acked
        # After the restart the visitor was shown exactly what it had missed, in order.
        after = v.streams[-1]
        assert [f["seq"] for f in after] == list(range(last_seen[n] + 1, BURST + 1))
        assert [f["text"] for f in after] == [text for _, text in v.sent[last_seen[n]:]]
    print(f"\nacknowledged before the kill: {len(acked_before)}/{total}; committed but not "
          f"acknowledged: {len(at_kill) - len(acked_before)}")


async def log_in(http: aiohttp.ClientSession, hub: HubProcess) -> str:
    """Log in through the login form as agent 1001; the inbox page's CSRF token."""
    async with http.get(hub.url + "/login") as resp:
        form_token = re.search(r'name="_csrf" value="([^"]+)"', await resp.text())
    assert form_token is not None
    async with http.post(hub.url + "/login", data={"_csrf": form_token[1], "number": "1001",
                                                   "password": PASSWORD}) as resp:
        assert resp.status == 200 and resp.url.path == "/inbox", resp.status
        return await inbox_csrf(http, hub)


async def inbox_csrf(http: aiohttp.ClientSession, hub: HubProcess) -> str:
    async with http.get(hub.url + "/inbox") as resp:
        assert resp.status == 200 and resp.url.path == "/inbox", resp.url
        meta = re.search(r'<meta name="csrf-token" content="([^"]+)"', await resp.text())
    assert meta is not None
    return meta[1]


async def api(http: aiohttp.ClientSession, hub: HubProcess, csrf: str, path: str,
              body: dict[str, Any] | None = None) -> dict[str, Any]:
    async with http.post(hub.url + path, json=body or {}, headers={"X-CSRF-Token": csrf}) as resp:
        assert resp.status in (200, 201), f"{path}: {resp.status} {await resp.text()}"
        return dict(await resp.json())


async def test_a_reply_sent_just_before_the_kill_reaches_the_visitor_once(hub: HubProcess) -> None:
    hub.start()
    jar = aiohttp.CookieJar(unsafe=True)  # the hub is at an IP address
    async with aiohttp.ClientSession() as http, aiohttp.ClientSession(cookie_jar=jar) as agent:
        # Two visitors write; one is still on the page when the agent answers, one has left.
        here, away = await Visitor.new(http, hub), await Visitor.new(http, hub)
        for v in (here, away):
            await v.connect()
            await v.say("is anyone there?")
            await until(lambda v=v: v.last_seq == 1 and v.acked, "the first message")
        await away.ws.close()  # type: ignore[union-attr]
        await away.dropped()

        csrf = await log_in(agent, hub)
        replies = {}
        for v in (away, here):
            await api(agent, hub, csrf, f"/api/interactions/{v.conversation_id}/take")
        for v in (away, here):
            reply = {"text": f"yes, Ann here for {v.conversation_id}", "client_id": uuid.uuid4().hex}
            stored = await api(agent, hub, csrf, f"/api/interactions/{v.conversation_id}/messages", reply)
            replies[v.conversation_id] = stored["id"]
        hub.kill()
        await here.dropped()
        at_kill = dict(rows(hub, "SELECT id, delivery_status FROM message WHERE direction = 'out'"))

        hub.start()
        # Stored but unsent replies are handed to the channel again at start; then nothing is pending.
        deadline = time.monotonic() + TIMEOUT
        while rows(hub, "SELECT id FROM message WHERE direction = 'out' AND delivery_status = 'pending'"):
            assert time.monotonic() < deadline, "a reply stayed pending after the restart"
            await asyncio.sleep(0.05)
        for v in (here, away):
            welcome = await v.connect()
            assert welcome["conversation_id"] == v.conversation_id
        await until(lambda: here.last_seq == 2 and away.last_seq == 2, "both replies")
        # The agent's login survived the restart too: answer once more, live.
        csrf = await inbox_csrf(agent, hub)
        await api(agent, hub, csrf, f"/api/interactions/{here.conversation_id}/messages",
                  {"text": "still here", "client_id": uuid.uuid4().hex})
        await until(lambda: here.last_seq == 3, "the reply after the restart")
        await asyncio.sleep(0.3)  # a late duplicate would arrive now
        for v in (here, away):
            texts = [f["text"] for stream in v.streams for f in stream]
            assert texts.count(f"yes, Ann here for {v.conversation_id}") == 1, (texts, at_kill)
            assert v.seen() == sorted(set(v.seen())), v.streams
            assert v.seen()[-1] == v.last_seq
            assert not v.errors, v.errors
        assert here.seen() == [1, 2, 3]
        assert away.seen() == [1, 2]
        for v in (here, away):
            await v.ws.close()  # type: ignore[union-attr]
    hub.stop()
    # A reply still pending at the kill was handed over again at start, before the visitor was
    # back: "sent" (stored for the widget to fetch by seq); one handed over before stays as it was.
    after = dict(rows(hub, "SELECT id, delivery_status FROM message WHERE direction = 'out'"))
    for message_id in replies.values():
        assert after[message_id] == ("sent" if at_kill[message_id] == "pending" else at_kill[message_id])
    assert at_kill[replies[away.conversation_id]] in ("pending", "sent")
    assert at_kill[replies[here.conversation_id]] in ("pending", "delivered")
    assert list(after.values()).count("delivered") >= 1  # "still here" went to a live socket
    print(f"\nreply statuses at the kill: {at_kill}, after the restart: {after}")
