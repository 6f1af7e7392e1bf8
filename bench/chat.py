"""Web chat latency and throughput against a real hub process, beside a bare aiohttp relay.

N simulated customers chat over the widget's websocket protocol while M agents, logged in
through the real login form, watch the conversations on /ws/agent. Each customer message
carries its send time; the figure is the time until the agent's socket has it (stored,
committed, fanned out). The same load then runs against bench/relay.py, a websocket relay
with no storage, auth or routing, and the ratio is printed. Finally the run opens as many
agent websocket sessions as asked and checks that each gets a live inbox event.

    python bench/chat.py                      # 1,000 chats, 50 agents, SQLite
    python bench/chat.py --chats 200 --agent-sessions 500 --database-url postgresql+asyncpg://...

Prints a table, then one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@dataclass
class Figures:
    latencies_ms: list[float] = field(default_factory=list)
    sent: int = 0
    seconds: float = 0.0
    expect: int = 0
    last_at: float = 0.0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, started: float) -> None:
        self.last_at = time.perf_counter()
        self.latencies_ms.append((self.last_at - started) * 1000)
        if self.expect and len(self.latencies_ms) >= self.expect:
            self.done.set()

    def row(self) -> dict[str, float]:
        lat = sorted(self.latencies_ms)
        if not lat:
            return {"p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0, "msgs_per_s": 0.0, "delivered": 0}
        return {
            "p50_ms": round(statistics.median(lat), 2),
            "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2),
            "max_ms": round(lat[-1], 2),
            "msgs_per_s": round(len(lat) / self.seconds, 1) if self.seconds else 0.0,
            "delivered": len(lat),
        }


# -- the hub under test ------------------------------------------------------------------

def prepare_hub(data_dir: Path, database_url: str, agents: int) -> None:
    """Migrate and create the bench agents before the hub process starts."""
    code = f"""
import asyncio
import contextlib
from hub.core import create_hub
from hub.db import transaction
from hub.migrate import upgrade
from hub.models import Agent
from hub.settings import load_settings
from hub.web.auth import hash_password

async def main():
    settings = load_settings(data_dir={str(data_dir)!r}, database_url={database_url!r})
    await upgrade(settings.database_url)
    core = create_hub(settings, load_entry_points=False)
    h = hash_password({PASSWORD!r})
    async with transaction(core.sessions) as s:
        for n in range({agents}):
            s.add(Agent(number=f"b{{n:04d}}", name=f"Bench {{n}}", role="agent", password_hash=h))
    await core.engine.dispose()
asyncio.run(main())
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def start_hub(data_dir: Path, database_url: str, port: int) -> subprocess.Popen[bytes]:
    # Every simulated visitor comes from 127.0.0.1, so the per-address limits that protect a
    # real hub from one abusive client are lifted for the run.
    config = data_dir / "bench.toml"
    config.write_text("[plugins.web]\nsessions_per_minute = 1000000\nmessages_per_minute = 100000\n")
    env = dict(os.environ, CONTACTHUB_DATA_DIR=str(data_dir), CONTACTHUB_DATABASE_URL=database_url,
               CONTACTHUB_CONFIG=str(config))
    return subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "run", "--no-demo", "--no-worker", "--port", str(port)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


async def wait_http(url: str, within: float = 30) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {within} s")


class Agent:
    """A logged-in agent with one websocket, recording when watched messages arrive."""

    def __init__(self, base: str, number: str, sent_at: dict[str, float], figures: Figures) -> None:
        self.base = base
        self.number = number
        self.sent_at = sent_at
        self.figures = figures
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.task: asyncio.Task[None] | None = None
        self.inbox_events = 0
        self.csrf = ""

    async def login(self) -> None:
        async with self.http.get(f"{self.base}/login") as resp:
            token = re.search(r'name="_csrf" value="([^"]+)"', await resp.text())
        assert token, "login form has no CSRF field"
        async with self.http.post(f"{self.base}/login", allow_redirects=False, data={
            "number": self.number, "password": PASSWORD, "_csrf": token.group(1)}) as resp:
            assert resp.status == 302, f"login failed: {resp.status} {await resp.text()}"
        async with self.http.get(f"{self.base}/inbox") as resp:
            found = re.search(r'name="csrf-token" content="([^"]+)"', await resp.text())
        assert found, "inbox page has no CSRF token"
        self.csrf = found.group(1)

    async def take(self, interaction_id: int) -> None:
        """Take the conversation, as an agent does before answering it."""
        async with self.http.post(f"{self.base}/api/interactions/{interaction_id}/take",
                                  headers={"X-CSRF-Token": self.csrf}) as resp:
            assert resp.status == 200, f"take failed: {resp.status} {await resp.text()}"

    async def connect(self) -> None:
        self.ws = await self.http.ws_connect(f"{self.base}/ws/agent", origin=self.base, heartbeat=None)
        self.task = asyncio.create_task(self.read())

    async def watch(self, interaction_id: int) -> None:
        assert self.ws is not None
        await self.ws.send_str(json.dumps({"type": "watch", "interaction_id": interaction_id}))

    async def read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            # Every agent gets every inbox event; skip parsing those, so the load generator
            # (on the same machine) does not become what is measured.
            if msg.data.startswith('{"type": "inbox"'):
                self.inbox_events += 1
                continue
            frame = json.loads(msg.data)
            message = frame.get("message") if frame.get("type") == "interaction" else None
            if not message or message.get("direction") != "in":
                continue
            started = self.sent_at.pop(message["text"], None)
            if started is not None:
                self.figures.record(started)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)
        await self.http.close()


class Customer:
    """A visitor speaking the widget protocol: session, hello, messages with client ids."""

    def __init__(self, base: str, http: aiohttp.ClientSession, sent_at: dict[str, float]) -> None:
        self.base = base
        self.http = http
        self.sent_at = sent_at
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.conversation_id: int | None = None
        self.acks: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        async with self.http.post(f"{self.base}/channels/web/session", json={},
                                  headers={"Origin": self.base}) as resp:
            token = (await resp.json())["token"]
        self.ws = await self.http.ws_connect(f"{self.base}/channels/web/ws", origin=self.base,
                                             heartbeat=None)
        await self.ws.send_str(json.dumps({"type": "hello", "token": token, "last_seq": 0}))
        self.task = asyncio.create_task(self.read())

    async def read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            if msg.data.startswith(('{"type": "ack"', '{"type": "error"')):
                await self.acks.put(json.loads(msg.data))

    async def say(self, text: str) -> dict[str, Any]:
        assert self.ws is not None
        self.sent_at[text] = time.perf_counter()
        await self.ws.send_str(json.dumps({"type": "message", "client_msg_id": str(uuid.uuid4()),
                                           "text": text}))
        ack = await asyncio.wait_for(self.acks.get(), 30)
        if ack.get("type") == "error":
            raise RuntimeError(f"hub refused a message: {ack}")
        self.conversation_id = ack["conversation_id"]
        return ack

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)


async def run_hub_load(
    base: str, chats: int, agents: int, messages: int, rate: float
) -> tuple[Figures, Figures]:
    sent_at: dict[str, float] = {}
    # Warm-up deliveries (each chat's first message) land here; both_phases swaps in its own.
    staff = [Agent(base, f"b{n:04d}", sent_at, Figures()) for n in range(agents)]
    for agent in staff:
        await agent.login()
        await agent.connect()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        customers = [Customer(base, http, sent_at) for _ in range(chats)]
        await gather_limited([c.connect() for c in customers], 100)
        # Each chat's first message opens its interaction; its agent takes it and watches it.
        await gather_limited([c.say(f"hello {i}") for i, c in enumerate(customers)], 100)
        for i, c in enumerate(customers):
            await staff[i % agents].take(int(c.conversation_id or 0))
            await staff[i % agents].watch(int(c.conversation_id or 0))
        figures, burst = await both_phases(customers, staff, messages, rate, sent_at, settle=1.0)
        await gather_limited([c.close() for c in customers], 200)
    for agent in staff:
        await agent.close()
    return figures, burst


async def converse(customers: list[Any], messages: int, rate: float) -> float:
    """Every customer sends ``messages`` messages at ``rate`` per second, spread at random."""
    async def one(i: int, c: Any) -> None:
        await asyncio.sleep(random.uniform(0, 1 / rate))
        for n in range(messages):
            await c.say(f"m {i} {n} {uuid.uuid4().hex[:8]}")
            await asyncio.sleep(random.expovariate(rate))
    started = time.perf_counter()
    await asyncio.gather(*(one(i, c) for i, c in enumerate(customers)))
    return time.perf_counter() - started


async def both_phases(customers: list[Any], receivers: list[Any], messages: int, rate: float,
                      sent_at: dict[str, float], settle: float) -> tuple[Figures, Figures]:
    """The same two phases for the hub and the relay: latency at the offered load, then
    throughput with every chat sending back to back."""
    figures = Figures()
    for receiver in receivers:
        receiver.figures = figures
    await asyncio.sleep(settle)
    sent_at.clear()
    figures.seconds = await converse(customers, messages, rate)
    await asyncio.sleep(settle)
    figures.sent = len(customers) * messages
    return figures, await flood(customers, receivers, messages, sent_at)


async def flood(customers: list[Any], receivers: list[Any], per_chat: int,
                sent_at: dict[str, float]) -> Figures:
    """Throughput: every customer sends ``per_chat`` messages back to back (each waits
    for the previous one's ack); the figure is messages on agents' screens per second."""
    figures = Figures(expect=len(customers) * per_chat)
    for receiver in receivers:
        receiver.figures = figures
    sent_at.clear()
    started = time.perf_counter()

    async def one(i: int, c: Any) -> None:
        for n in range(per_chat):
            await c.say(f"f {i} {n} {uuid.uuid4().hex[:8]}")
    await asyncio.gather(*(one(i, c) for i, c in enumerate(customers)))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(figures.done.wait(), 30)
    figures.seconds = figures.last_at - started
    figures.sent = len(customers) * per_chat
    return figures


async def gather_limited(coros: list[Any], limit: int) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def run(coro: Any) -> Any:
        async with gate:
            return await coro
    return await asyncio.gather(*(run(c) for c in coros))


# -- the bare relay ----------------------------------------------------------------------

class RelayAgent:
    def __init__(self, base: str, n: int, sent_at: dict[str, float], figures: Figures) -> None:
        self.base, self.n, self.sent_at, self.figures = base, n, sent_at, figures
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.task: asyncio.Task[None] | None = None

    async def connect(self, http: aiohttp.ClientSession) -> None:
        self.ws = await http.ws_connect(f"{self.base}/agent/{self.n}")
        self.task = asyncio.create_task(self.read())

    async def read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            started = self.sent_at.pop(json.loads(msg.data)["text"], None)
            if started is not None:
                self.figures.record(started)


class RelayCustomer:
    def __init__(self, base: str, n: int, http: aiohttp.ClientSession, sent_at: dict[str, float]) -> None:
        self.base, self.n, self.http, self.sent_at = base, n, http, sent_at
        self.ws: aiohttp.ClientWebSocketResponse | None = None

    async def connect(self) -> None:
        self.ws = await self.http.ws_connect(f"{self.base}/chat/{self.n}")

    async def say(self, text: str) -> None:
        assert self.ws is not None
        self.sent_at[text] = time.perf_counter()
        await self.ws.send_str(json.dumps({"type": "message", "text": text}))
        await self.ws.receive()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


async def run_relay_load(
    base: str, chats: int, agents: int, messages: int, rate: float
) -> tuple[Figures, Figures]:
    sent_at: dict[str, float] = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        staff = [RelayAgent(base, n, sent_at, Figures()) for n in range(agents)]
        for agent in staff:
            await agent.connect(http)
        customers = [RelayCustomer(base, i, http, sent_at) for i in range(chats)]
        await gather_limited([c.connect() for c in customers], 100)
        for i in range(chats):
            assert staff[i % agents].ws is not None
            await staff[i % agents].ws.send_str(f"watch:{i}")  # type: ignore[union-attr]
        figures, burst = await both_phases(customers, staff, messages, rate, sent_at, settle=0.5)
        await gather_limited([c.close() for c in customers], 200)
        for agent in staff:
            if agent.ws is not None:
                await agent.ws.close()
    return figures, burst


# -- how many agent sessions one process holds ---------------------------------------------

async def hold_agent_sessions(base: str, sessions: int) -> dict[str, Any]:
    """Open ``sessions`` agent websockets (one login, many screens) and check that a new
    conversation reaches every one of them live."""
    sent_at: dict[str, float] = {}
    agent = Agent(base, "b0000", sent_at, Figures())
    await agent.login()
    cookies = agent.http.cookie_jar
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(cookie_jar=cookies, connector=connector) as http:
        screens: list[aiohttp.ClientWebSocketResponse] = await gather_limited(
            [http.ws_connect(f"{base}/ws/agent", origin=base, heartbeat=None) for _ in range(sessions)],
            100)
        for ws in screens:
            await ws.receive_json(timeout=30)  # hello
        customer = Customer(base, http, sent_at)
        await customer.connect()
        started = time.perf_counter()
        await customer.say("a new conversation for everyone")

        async def first_inbox(ws: aiohttp.ClientWebSocketResponse) -> bool:
            while True:
                frame = await ws.receive_json(timeout=60)
                if frame.get("type") == "inbox":
                    return True
        reached = sum(await asyncio.gather(*(first_inbox(ws) for ws in screens)))
        fan_out_ms = (time.perf_counter() - started) * 1000
        await customer.close()
        await gather_limited([ws.close() for ws in screens], 200)
    await agent.http.close()
    return {"agent_sessions": sessions, "reached": reached, "fan_out_ms": round(fan_out_ms, 1)}


# -- main --------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chats", type=int, default=1000, help="live chats (default 1000)")
    parser.add_argument("--agents", type=int, default=50, help="agents watching them (default 50)")
    parser.add_argument("--messages", type=int, default=5, help="messages per chat (default 5)")
    parser.add_argument("--rate", type=float, default=0.2,
                        help="messages per second per chat (default 0.2: one every 5 s)")
    parser.add_argument("--agent-sessions", type=int, default=2000,
                        help="agent websockets to hold open at once (default 2000)")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary directory")
    args = parser.parse_args()
    raise_fd_limit()
    result = run(args)
    print_table(result)
    print(json.dumps(result))


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start each server as its own process, load it from this one, stop it."""
    with tempfile.TemporaryDirectory(prefix="contacthub-bench-") as tmp:
        data_dir = Path(tmp)
        database_url = args.database_url or f"sqlite+aiosqlite:///{data_dir / 'bench.sqlite'}"
        prepare_hub(data_dir, database_url, args.agents)
        port = free_port()
        hub = start_hub(data_dir, database_url, port)
        try:
            hub_figures, hub_burst, sessions = asyncio.run(load_hub(f"http://127.0.0.1:{port}", args))
        finally:
            hub.terminate()
            hub.wait(timeout=20)
    relay_port = free_port()
    relay = subprocess.Popen([sys.executable, str(ROOT / "bench" / "relay.py"), str(relay_port)])
    try:
        relay_figures, relay_burst = asyncio.run(load_relay(f"http://127.0.0.1:{relay_port}", args))
    finally:
        relay.terminate()
        relay.wait(timeout=20)
    hub_row, relay_row = hub_figures.row(), relay_figures.row()
    return {
        "bench": "chat",
        "database": "postgresql" if args.database_url.startswith("postgresql") else "sqlite",
        "chats": args.chats, "agents": args.agents, "messages_per_chat": args.messages,
        "rate_per_chat": args.rate, "sent": hub_figures.sent,
        "hub": hub_row, "relay": relay_row,
        "hub_burst": hub_burst.row(), "relay_burst": relay_burst.row(),
        "p99_ratio": round(hub_row["p99_ms"] / relay_row["p99_ms"], 2) if relay_row["p99_ms"] else None,
        "p50_ratio": round(hub_row["p50_ms"] / relay_row["p50_ms"], 2) if relay_row["p50_ms"] else None,
        **sessions,
    }


async def load_hub(base: str, args: argparse.Namespace) -> tuple[Figures, Figures, dict[str, Any]]:
    await wait_http(f"{base}/api/openapi.json")
    figures, burst = await run_hub_load(base, args.chats, args.agents, args.messages, args.rate)
    return figures, burst, await hold_agent_sessions(base, args.agent_sessions)


async def load_relay(base: str, args: argparse.Namespace) -> tuple[Figures, Figures]:
    await wait_http(f"{base}/missing")
    return await run_relay_load(base, args.chats, args.agents, args.messages, args.rate)


def print_table(r: dict[str, Any]) -> None:
    print(f"\nweb chat, {r['chats']} live chats, {r['agents']} agents, {r['messages_per_chat']} messages "
          f"each at {r['rate_per_chat']}/s per chat, database {r['database']}")
    print("latency at the offered load (msgs/s here is the load, not the capacity)")
    print(f"{'':18}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'msgs/s':>10}{'delivered':>11}")
    for name in ("hub", "relay"):
        row = r[name]
        print(f"{name:18}{row['p50_ms']:>10}{row['p99_ms']:>10}{row['max_ms']:>10}"
              f"{row['msgs_per_s']:>10}{row['delivered']:>11}")
    print(f"{'hub / relay':18}{r['p50_ratio']!s:>10}{r['p99_ratio']!s:>10}")
    print("\nthroughput: every chat sends back to back (each message waits for its ack)")
    print(f"{'':18}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'msgs/s':>10}{'delivered':>11}")
    for name in ("hub_burst", "relay_burst"):
        row = r[name]
        print(f"{name.replace('_burst', ''):18}{row['p50_ms']:>10}{row['p99_ms']:>10}{row['max_ms']:>10}"
              f"{row['msgs_per_s']:>10}{row['delivered']:>11}")
    print(f"agent websocket sessions held: {r['reached']} of {r['agent_sessions']} got a live event "
          f"(fan-out to all in {r['fan_out_ms']} ms)\n")


if __name__ == "__main__":
    main()
