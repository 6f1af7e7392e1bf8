"""The idle-chat close job, called directly: what it closes, what it leaves, and how a worker's
hub hands the closing message to the web process that holds the visitor's connection."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select, update

from hub import Capabilities, Channel, Health, SendResult, hookimpl
from hub import tasks as hub_tasks
from hub.channel import DeliveryStatus
from hub.core import HubCore, create_hub
from hub.db import transaction
from hub.errors import ConfigError
from hub.events import RelayEventBus, relay_signature
from hub.facade import Hub
from hub.inbox import close_row
from hub.ingest import ingest
from hub.messages import InboundMessage, OutboundMessage
from hub.models import Interaction, Message, utcnow
from hub.settings import Settings, load_settings
from hub.tasks import close_if_idle, idle_chat_ids
from hub.web.app import create_app
from hub.web.internal import MAX_RELAY_BYTES

IDLE_TEXT = "Closed for inactivity."
IDLE = {"chat_idle_close_minutes": 0.02, "chat_idle_close_text": IDLE_TEXT}


class Live(Channel):
    """A realtime channel (like web chat) that keeps what it is asked to send."""

    name = "live"
    capabilities = Capabilities(realtime=True)

    def __init__(self, hub: Hub) -> None:
        super().__init__(hub)
        self.sent: list[OutboundMessage] = []

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, out: OutboundMessage) -> SendResult:
        self.sent.append(out)
        return SendResult(DeliveryStatus.DELIVERED)

    async def health(self) -> Health:
        return Health()


class Letters(Live):
    """A channel that is not realtime (email-like): the idle job never touches it."""

    name = "letters"
    capabilities = Capabilities(realtime=False)


class Channels:
    @hookimpl
    def hub_register_channels(self, register: Any) -> None:
        register(Live)
        register(Letters)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def chat(core: HubCore, n: int, *, visitor: str = "v1", channel: str = "live") -> int:
    """The customer writes message ``n``; the interaction id."""
    result = await ingest(core, InboundMessage(channel=channel, external_id=f"{visitor}:{n}",
                                               sender=visitor, thread_key=visitor, text=f"hello {n}"))
    return result.interaction_id


async def go_quiet(core: HubCore, interaction_id: int, minutes: float = 5) -> None:
    """Make the chat look as if nothing happened in it for ``minutes``."""
    async with transaction(core.sessions) as s:
        await s.execute(update(Interaction).where(Interaction.id == interaction_id)
                        .values(updated_at=utcnow() - timedelta(minutes=minutes)))


async def interaction(core: HubCore, interaction_id: int) -> Interaction:
    async with core.sessions() as s:
        found = await s.get(Interaction, interaction_id)
    assert found is not None
    return found


async def messages(core: HubCore, interaction_id: int) -> list[Message]:
    async with core.sessions() as s:
        return list((await s.execute(select(Message).where(Message.interaction_id == interaction_id)
                                     .order_by(Message.seq))).scalars())


async def closings(core: HubCore, interaction_id: int) -> list[Message]:
    return [m for m in await messages(core, interaction_id) if m.author_type == "system"]


async def eventually(check: Any, within: float = 5.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.02)


@pytest.fixture
async def core(database_url: str, make_hub: Any) -> HubCore:
    return await make_hub(database_url=database_url, plugins=[Channels()], **IDLE)  # type: ignore[no-any-return]


async def test_an_idle_chat_gets_the_closing_message_once_and_is_closed(core: HubCore) -> None:
    iid = await chat(core, 1)
    await go_quiet(core, iid)

    assert await idle_chat_ids(core) == [iid]
    assert await close_if_idle(core, iid) is True

    closed = await interaction(core, iid)
    assert closed.status == "closed" and closed.closed_at is not None
    assert closed.disposition == "timeout"
    [closing] = await closings(core, iid)
    assert (closing.direction, closing.text, closing.seq) == ("out", IDLE_TEXT, 2)
    assert closed.last_seq == closing.seq
    live = core.channels["live"]
    assert await eventually(lambda: asyncio.sleep(0, [o.text for o in live.sent]))  # type: ignore[attr-defined]
    assert [o.text for o in live.sent] == [IDLE_TEXT]  # type: ignore[attr-defined]
    assert await idle_chat_ids(core) == []


async def test_a_retried_close_stores_one_closing_message_and_closes_once(core: HubCore) -> None:
    iid = await chat(core, 1)
    await go_quiet(core, iid)
    events: list[dict[str, Any]] = []

    async def listen(_topic: str, payload: dict[str, Any]) -> None:
        events.append(payload)

    core.bus.subscribe(f"interaction:{iid}", listen)

    assert await close_if_idle(core, iid) is True
    assert await close_if_idle(core, iid) is False

    assert len(await closings(core, iid)) == 1
    assert [e["kind"] for e in events if e["event"] == "InteractionEvent"] == ["closed"]
    assert (await interaction(core, iid)).disposition == "timeout"


async def test_a_task_that_died_after_the_closing_message_closes_on_retry(
    core: HubCore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    iid = await chat(core, 1)
    await go_quiet(core, iid)

    async def crash(*_args: Any) -> None:
        raise ConnectionError("worker lost the database")

    with monkeypatch.context() as m:
        m.setattr(hub_tasks, "close_row", crash)
        with pytest.raises(ConnectionError):
            await close_if_idle(core, iid)
    assert (await interaction(core, iid)).closed_at is None
    assert len(await closings(core, iid)) == 1

    # acks_late: the broker hands the same task out again at once, long before the next idle period.
    assert await close_if_idle(core, iid) is True

    assert len(await closings(core, iid)) == 1
    assert (await interaction(core, iid)).disposition == "timeout"


async def test_a_chat_with_a_fresh_message_is_left_open(core: HubCore) -> None:
    iid = await chat(core, 1)

    assert await idle_chat_ids(core) == []
    assert await close_if_idle(core, iid) is False

    assert (await interaction(core, iid)).closed_at is None
    assert await closings(core, iid) == []


async def test_a_customer_who_writes_after_the_closing_message_keeps_the_chat_open(
    core: HubCore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    iid = await chat(core, 1)
    await go_quiet(core, iid)
    real_send = hub_tasks.send_message

    async def send_then_customer_writes(*args: Any, **kwargs: Any) -> int:
        message_id = await real_send(*args, **kwargs)
        await chat(core, 2)  # lands right after the closing message, before the close
        return message_id

    with monkeypatch.context() as m:
        m.setattr(hub_tasks, "send_message", send_then_customer_writes)
        assert await close_if_idle(core, iid) is False

    still = await interaction(core, iid)
    assert still.closed_at is None and still.status != "closed"
    assert [(m.author_type, m.seq) for m in await messages(core, iid)] == [
        ("customer", 1), ("system", 2), ("customer", 3)]

    # The chat goes quiet again later: it gets a closing message of its own and is closed.
    await go_quiet(core, iid)
    assert await close_if_idle(core, iid) is True
    assert [(m.author_type, m.seq) for m in await messages(core, iid)] == [
        ("customer", 1), ("system", 2), ("customer", 3), ("system", 4)]
    assert (await interaction(core, iid)).disposition == "timeout"


async def test_only_open_chats_on_realtime_channels_are_idle(core: HubCore) -> None:
    web = await chat(core, 1, visitor="v1")
    letter = await chat(core, 1, visitor="someone@example.com", channel="letters")
    done = await chat(core, 1, visitor="v2")
    fresh = await chat(core, 1, visitor="v3")
    for iid in (web, letter, done):
        await go_quiet(core, iid)
    async with transaction(core.sessions) as s:
        row = await s.get(Interaction, done)
        assert row is not None
        await close_row(s, row, "consult", "")
    await go_quiet(core, done)

    assert await idle_chat_ids(core) == [web]
    assert fresh not in await idle_chat_ids(core)
    assert await close_if_idle(core, done) is False
    assert (await interaction(core, done)).disposition == "consult"


async def test_a_missing_interaction_is_nothing_to_do(core: HubCore) -> None:
    assert await close_if_idle(core, 999_999) is False


# --- worker hub -> relay -> web process ------------------------------------------------------


@pytest.fixture
async def web_process(database_url: str, make_hub: Any) -> AsyncIterator[HubCore]:
    """The web process: a hub serving channels behind a real aiohttp server on its own port."""
    port = free_port()
    core: HubCore = await make_hub(database_url=database_url, plugins=[Channels()], port=port, **IDLE)
    server = TestServer(create_app(core, manage_core=False), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        yield core
    finally:
        await server.close()


class WorkerHub:
    """A Celery worker's hub: same database and secret, no channel connections, relay bus.

    On a thread and event loop of its own, as in a process of its own: two hubs on one loop
    stall each other on SQLite's write lock (a statement waiting for the lock blocks the loop
    of the hub that holds it) until the busy timeout, which two processes never do."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def __aenter__(self) -> WorkerHub:
        self.thread.start()
        self.core: HubCore = await self.call(self._start)
        return self

    async def _start(self) -> HubCore:
        core = create_hub(self.settings, plugins=[Channels()], load_entry_points=False, serves_channels=False)
        await core.start()
        return core

    async def call(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """``await fn(*args)`` on the worker's loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(fn(*args), self.loop))

    async def __aexit__(self, *_exc: object) -> None:
        if hasattr(self, "core"):
            await self.call(self.core.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        await asyncio.to_thread(self.thread.join)
        self.loop.close()


@pytest.fixture
async def worker_hub(web_process: HubCore, tmp_path: Path) -> AsyncIterator[WorkerHub]:
    settings = load_settings(data_dir=tmp_path / "worker", database_url=web_process.settings.database_url,
                             port=web_process.settings.port, secret_key=web_process.settings.secret_key,
                             redis_url="", **IDLE)
    async with WorkerHub(settings) as worker:
        yield worker


async def test_the_worker_asks_the_web_process_to_deliver_the_closing_message(
    web_process: HubCore, worker_hub: WorkerHub,
) -> None:
    assert isinstance(worker_hub.core.bus, RelayEventBus)
    iid = await chat(web_process, 1)
    await go_quiet(web_process, iid)
    seen: list[dict[str, Any]] = []

    async def screen(_topic: str, payload: dict[str, Any]) -> None:
        seen.append(payload)

    web_process.bus.subscribe(f"interaction:{iid}", screen)

    assert await worker_hub.call(close_if_idle, worker_hub.core, iid) is True

    web_live = web_process.channels["live"]
    assert await eventually(lambda: asyncio.sleep(0, web_live.sent))  # type: ignore[attr-defined]
    assert [o.text for o in web_live.sent] == [IDLE_TEXT]  # type: ignore[attr-defined]
    assert worker_hub.core.channels["live"].sent == []  # type: ignore[attr-defined]
    [closing] = await closings(web_process, iid)
    assert await eventually(lambda: asyncio.sleep(0, [
        e for e in seen if e.get("kind") == "delivery" and e.get("status") == DeliveryStatus.DELIVERED]))
    kinds = [(e["event"], e["kind"]) for e in seen]
    assert ("MessageEvent", "outbound") in kinds and ("InteractionEvent", "closed") in kinds
    outbound = next(e for e in seen if e["kind"] == "outbound")
    assert outbound["message"]["text"] == IDLE_TEXT and outbound["message_id"] == closing.id
    async with web_process.sessions() as s:
        status = (await s.execute(
            select(Message.delivery_status).where(Message.id == closing.id))).scalar_one()
    assert status == DeliveryStatus.DELIVERED


async def test_relayed_events_reach_the_web_process_subscribers(
    web_process: HubCore, worker_hub: WorkerHub,
) -> None:
    got: list[tuple[str, dict[str, Any]]] = []

    async def listener(topic: str, payload: dict[str, Any]) -> None:
        got.append((topic, payload))

    web_process.bus.subscribe("inbox", listener)
    await worker_hub.call(worker_hub.core.bus.publish, "inbox", {"event": "Test", "n": 1, "text": "你好"})
    await worker_hub.call(worker_hub.core.bus.publish, "elsewhere", {"n": 2})

    assert got == [("inbox", {"event": "Test", "n": 1, "text": "你好"})]


async def test_the_relay_refuses_what_it_cannot_trust(web_process: HubCore) -> None:
    url = f"{web_process.settings.internal_url}/internal/events"
    secret = web_process.settings.secret_key.encode()
    got: list[dict[str, Any]] = []

    async def listener(_topic: str, payload: dict[str, Any]) -> None:
        got.append(payload)

    web_process.bus.subscribe("inbox", listener)
    good = json.dumps({"topic": "inbox", "payload": {"n": 1}}).encode()

    async def post(body: bytes, signature: str | None = None) -> int:
        headers = {"X-Relay-Signature": relay_signature(secret, body) if signature is None else signature}
        async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as resp:
            return resp.status

    assert await post(good, signature="0" * 64) == 403
    assert await post(good, signature="") == 403
    assert await post(good, signature=relay_signature(b"another hub's key", good)) == 403
    assert await post(b"x" * (MAX_RELAY_BYTES + 10)) == 413
    assert await post(b"{not json") == 400
    assert await post(b"[1, 2]") == 400
    assert await post(json.dumps({"topic": "inbox"}).encode()) == 400
    assert await post(json.dumps({"topic": "inbox", "payload": "text"}).encode()) == 400
    assert got == []
    assert await post(good) == 204
    assert got == [{"n": 1}]

    # A big event arrives in many TCP segments: it is read whole, not cut at the first one.
    big = json.dumps({"topic": "inbox", "payload": {"text": "長" * 150_000}}).encode()
    assert len(big) < MAX_RELAY_BYTES
    assert await post(big) == 204
    assert got[-1] == {"text": "長" * 150_000}

    # Without a Content-Length (chunked), the limit still holds while reading.
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 65536

    async with aiohttp.ClientSession() as http, http.post(
            url, data=chunks(), headers={"X-Relay-Signature": "0" * 64}) as resp:
        assert resp.status == 413

    # A worker with the wrong key is refused too, and only logs it: publishing never raises.
    before = len(got)
    wrong = RelayEventBus(web_process.settings.internal_url, "not the key")
    try:
        await wrong.publish("inbox", {"n": 2})
    finally:
        await wrong.stop()
    assert len(got) == before


async def test_a_relay_to_a_web_process_that_is_down_does_not_raise() -> None:
    bus = RelayEventBus(f"http://127.0.0.1:{free_port()}", "key")
    try:
        await bus.publish("inbox", {"n": 1})
    finally:
        await bus.stop()


async def test_the_idle_settings_take_decimals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTACTHUB_CHAT_IDLE_CLOSE_MINUTES", "0.02")
    monkeypatch.setenv("CONTACTHUB_CHAT_IDLE_SWEEP_SECONDS", "1.5")
    settings = load_settings(data_dir=tmp_path)
    assert (settings.chat_idle_close_minutes, settings.chat_idle_sweep_seconds) == (0.02, 1.5)
    app = hub_tasks.celery_app(settings)
    assert app.conf.beat_schedule["close-idle-chats"]["schedule"] == 1.5
    monkeypatch.delenv("CONTACTHUB_CHAT_IDLE_SWEEP_SECONDS")
    assert load_settings(data_dir=tmp_path).chat_idle_sweep_seconds == 60
    monkeypatch.setenv("CONTACTHUB_CHAT_IDLE_CLOSE_MINUTES", "0")
    with pytest.raises(ConfigError, match="chat_idle_close_minutes"):
        load_settings(data_dir=tmp_path)
