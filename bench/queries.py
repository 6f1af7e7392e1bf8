"""Agent-screen queries at scale: a million customers and a million interactions in SQLite.

Builds the embedded database through the real migrations, fills it in bulk, then times the
queries an agent's screen and an inbound contact make, through the hub's own functions:
identifying a customer by phone number, the caller lookup an IVR branches on
(``Hub.caller``: customer, tier, VIP, blocklist, region, outages), the waiting list, "mine",
the customer panel, a
transcript, and storing a message into an existing conversation. For the identification it
also times the same lookup with its index ignored (a naive scan), and prints the ratio.

    python bench/queries.py                    # 1,000,000 customers and interactions
    python bench/queries.py --rows 100000      # quicker

Prints a table, then one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from hub.cli import calm_garbage_collector
from hub.core import create_hub
from hub.history import customer_panel, messages_after
from hub.inbox import list_interactions
from hub.ingest import ingest
from hub.messages import InboundMessage
from hub.migrate import upgrade
from hub.models import Agent, CustomerIdentity
from hub.settings import load_settings

WAITING = 200
AGENTS = 50


def phone(n: int) -> str:
    return f"1380{n:07d}"


def fill(path: Path, rows: int) -> None:
    """Bulk rows straight through sqlite3: the point is the queries, not the loading."""
    db = sqlite3.connect(path)
    now = datetime.now(UTC)
    stamp = (now - timedelta(days=365)).strftime("%Y-%m-%d %H:%M:%S.%f")
    db.executemany("INSERT INTO agent (id, number, name, password_hash, role, locale, active, is_demo,"
                   " created_at) VALUES (?, ?, ?, 'x', 'agent', '', 1, 0, ?)",
                   [(a, f"a{a}", f"Agent {a}", stamp) for a in range(1, AGENTS + 1)])
    db.executemany("INSERT INTO customer (id, name, tier, region, created_at, is_demo) VALUES (?,?,?,?,?,0)",
                   ((n, f"Customer {n}", random.choice(("ordinary", "silver", "gold")), "GD", stamp)
                    for n in range(1, rows + 1)))
    db.executemany("INSERT INTO customer_identity (customer_id, kind, address, created_at) VALUES (?,?,?,?)",
                   ((n, "phone", phone(n), stamp) for n in range(1, rows + 1)))
    db.executemany(
        "INSERT INTO interaction (id, customer_id, channel, thread_key, status, queue, agent_id, subject,"
        " disposition, close_note, last_seq, customer_read_seq, agent_read_seq, created_at, updated_at,"
        " closed_at) VALUES (?,?,?,?,?, 'default', ?, '', ?, '', 2, 0, 0, ?, ?, ?)",
        (_interaction(n, rows, now) for n in range(1, rows + 1)))
    db.executemany(
        "INSERT INTO message (interaction_id, channel, external_id, seq, direction, author_type,"
        " author_name, text, delivery_status, delivery_error, provider_id, created_at)"
        " VALUES (?,?,?,?,?,?, '', ?, '', '', '', ?)",
        (row for n in range(1, rows + 1) for row in _messages(n, stamp)))
    db.commit()
    db.execute("ANALYZE")
    db.close()


def _interaction(n: int, rows: int, now: datetime) -> tuple[Any, ...]:
    channel = ("voice", "email", "web", "sms")[n % 4]
    open_ = n > rows - WAITING - AGENTS * 5
    agent = None if n > rows - WAITING or not open_ else 1 + n % AGENTS
    status = "closed" if not open_ else ("queued" if agent is None else "assigned")
    at = (now - timedelta(minutes=rows - n)).strftime("%Y-%m-%d %H:%M:%S.%f")
    return (n, 1 + (n * 7919) % rows, channel, f"t{n}", status, agent,
            "" if open_ else "consult", at, at, None if open_ else at)


def _messages(n: int, stamp: str) -> list[tuple[Any, ...]]:
    channel = ("voice", "email", "web", "sms")[n % 4]
    return [(n, channel, f"m{n}-1", 1, "in", "customer", "my line is down", stamp),
            (n, channel, f"m{n}-2", 2, "out", "agent", "we are on it", stamp)]


async def timed(fn: Callable[[], Awaitable[Any]], times: int) -> dict[str, float]:
    lat = []
    for _ in range(times):
        started = time.perf_counter()
        await fn()
        lat.append((time.perf_counter() - started) * 1000)
    lat.sort()
    return {"p50_ms": round(statistics.median(lat), 3), "p99_ms": round(lat[int(len(lat) * 0.99) - 1], 3)}


async def measure(data_dir: Path, rows: int, times: int) -> dict[str, Any]:
    settings = load_settings(data_dir=data_dir)
    core = create_hub(settings, load_entry_points=False)
    await core.start()
    calm_garbage_collector()  # as `contacthub run` does
    try:
        async with core.sessions() as s:
            agent = (await s.execute(select(Agent).where(Agent.id == 1))).scalar_one()

        async def identify() -> None:
            async with core.sessions() as s:
                number = phone(random.randint(1, rows))
                found = (await s.execute(select(CustomerIdentity.customer_id).where(
                    CustomerIdentity.kind == "phone", CustomerIdentity.address == number))).scalar_one()
                assert found

        voice = core.facade("voice")

        async def caller() -> None:
            # What the IVR asks before its first prompt: customer, tier, VIP, blocklist,
            # region and outages, in the number's stored form or another (+86, 0086, none).
            n = random.randint(1, rows)
            number = phone(n) if n % 2 else "+86" + phone(n)
            assert (await voice.caller(number))["customer_id"] is not None

        async def identify_naive() -> None:
            async with core.sessions() as s:
                number = phone(random.randint(1, rows))
                found = (await s.execute(text(
                    "SELECT customer_id FROM customer_identity NOT INDEXED WHERE kind = 'phone' "
                    "AND address = :a"), {"a": number})).scalar_one()
                assert found

        async def panel() -> None:
            async with core.sessions() as s:
                assert await customer_panel(s, random.randint(1, rows), unmasked=False)

        async def transcript() -> None:
            async with core.sessions() as s:
                assert await messages_after(s, random.randint(1, rows), 0)

        async def waiting() -> None:
            assert len(await list_interactions(core, agent, "waiting")) == WAITING

        async def mine() -> None:
            assert await list_interactions(core, agent, "mine")

        seq = iter(range(10**9))

        async def store() -> None:
            n = rows - WAITING + random.randint(1, WAITING)
            result = await ingest(core, InboundMessage(
                channel=("voice", "email", "web", "sms")[n % 4], external_id=f"bench-{next(seq)}",
                sender=phone(n), thread_key=f"t{n}", text="still down"))
            assert result.created

        figures = {name: await timed(fn, times) for name, fn in (
            ("identify by phone", identify), ("caller for the IVR", caller), ("waiting list", waiting),
            ("mine", mine),
            ("customer panel", panel), ("transcript", transcript), ("store a message", store),
        )}
        figures["identify by phone, naive scan"] = await timed(identify_naive, max(5, times // 20))
        return figures
    finally:
        await core.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="customers, and interactions (default 1,000,000)")
    parser.add_argument("--times", type=int, default=200, help="runs of each query (default 200)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="contacthub-queries-") as tmp:
        data_dir = Path(tmp)
        database = data_dir / "contacthub.sqlite"
        asyncio.run(upgrade(f"sqlite+aiosqlite:///{database}"))
        started = time.perf_counter()
        fill(database, args.rows)
        loaded = time.perf_counter() - started
        figures = asyncio.run(measure(data_dir, args.rows, args.times))
    naive = figures["identify by phone, naive scan"]["p50_ms"]
    ratio = round(naive / figures["identify by phone"]["p50_ms"], 1)
    print(f"\nagent-screen queries, SQLite, {args.rows:,} customers / interactions / "
          f"{2 * args.rows:,} messages (loaded in {loaded:.0f} s), {args.times} runs each")
    print(f"{'query':34}{'p50 ms':>10}{'p99 ms':>10}")
    for name, row in figures.items():
        print(f"{name:34}{row['p50_ms']:>10}{row['p99_ms']:>10}")
    print(f"identify: indexed lookup is {ratio}x faster than the naive scan\n")
    print(json.dumps({"bench": "queries", "database": "sqlite", "rows": args.rows,
                      "figures": figures, "identify_vs_naive": ratio}))


if __name__ == "__main__":
    main()
