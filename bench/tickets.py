"""Ticket search at scale: a million work orders, searched by the filters agents combine.

Builds the schema through the real migrations, fills it in bulk (customers with phone
identities, 50 units in a province / city / county tree, 500 handlers, 6 types, one ticket
in five open, two years of creation dates), then times ``hub.tickets.search.search_tickets``
(query and search-log row, one transaction) for each common filter with varied values. The
naive baseline is the same search after the ticket table's secondary indexes are dropped
from the throwaway database: the ratio is what the indexes buy.

    python bench/tickets.py                                  # SQLite, 1,000,000 tickets
    python bench/tickets.py --rows 100000                    # quicker
    python bench/tickets.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres

With a PostgreSQL URL a fresh database named contacthub_bench_<random> is made on that
server and dropped afterwards. Prints a table, then one JSON object as the last line.
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
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from scratch_database import scratch_database
from sqlalchemy import make_url, text

from hub.cli import calm_garbage_collector
from hub.db import create_engine, session_factory
from hub.migrate import upgrade
from hub.tickets.search import search_tickets
from hub.tickets.search_filters import TicketFilters

TYPES = ("complaint", "appeal", "suggestion", "fault", "business", "callback")
CITIES = ("shenzhen", "guangzhou", "dongguan", "foshan", "zhuhai", "shantou", "huizhou")
COUNTIES = 6  # per city: 1 + 7 + 42 = 50 units
HANDLERS_PER_UNIT = 10
TITLES = ("no signal indoors", "billing disagreement", "broadband down", "slow mobile data",
          "refund not received", "package change", "roaming charges", "number porting")
NOW = datetime.now(UTC).replace(microsecond=0)
SPAN = timedelta(days=730)
LIMIT = 50
TARGET_P99_MS = 50.0
# The ticket indexes the naive run drops (the unique number index is a constraint and stays).
INDEXES = ("ix_ticket_customer_created", "ix_ticket_owner_open", "ix_ticket_handler_open",
           "ix_ticket_type_status_created", "ix_ticket_region_created", "ix_ticket_status_step_due",
           "ix_ticket_created", "ix_ticket_outage_id", "ix_ticket_phone_created",
           "ix_ticket_owner_status_created")


def phone(customer: int) -> str:
    return f"139{customer:08d}"


def units() -> list[tuple[int, int | None, str, str]]:
    """(id, parent_id, kind, region) for the province, its cities and their counties."""
    rows: list[tuple[int, int | None, str, str]] = [(1, None, "province", "guangdong")]
    for c, city in enumerate(CITIES):
        city_id = 2 + c * (COUNTIES + 1)
        rows.append((city_id, 1, "city", f"guangdong/{city}"))
        rows += [(city_id + k, city_id, "county", f"guangdong/{city}/d{k}") for k in range(1, COUNTIES + 1)]
    return rows


UNITS = units()
COUNTY_IDS = [u[0] for u in UNITS if u[2] == "county"]
REGION_OF = {u[0]: u[3] for u in UNITS}


def created_at(n: int, rows: int) -> datetime:
    """Ticket ``n`` of ``rows``: evenly over two years, oldest first, as ids grow in life."""
    return NOW - SPAN + SPAN * (n / rows) - timedelta(seconds=n % 97)


def number(n: int, rows: int) -> str:
    return f"T{created_at(n, rows):%Y%m%d}{n:07d}"


def ticket(n: int, rows: int, customers: int, rnd: random.Random) -> tuple[Any, ...]:
    """One ticket row in the column order of ``TICKET_COLUMNS``."""
    at = created_at(n, rows)
    unit = rnd.choice(COUNTY_IDS) if rnd.random() < 0.9 else rnd.choice((1, 2, 9, 16))
    customer = rnd.randint(1, customers) if rnd.random() < 0.9 else None
    is_open = rnd.random() < 0.2
    due = (NOW + timedelta(hours=rnd.uniform(-72, 72))) if is_open else at + timedelta(days=2)
    title = rnd.choice(TITLES)
    return (n, number(n, rows), TYPES[n % 6], "", "", "", title, f"customer reports: {title}",
            customer, phone(customer) if customer else f"137{n:08d}", "voice", REGION_OF[unit],
            "open" if is_open else "closed", "handle" if is_open else "done", unit,
            unit * HANDLERS_PER_UNIT - rnd.randrange(HANDLERS_PER_UNIT), at, at, at, due, at + SPAN / 100,
            None if is_open else at + timedelta(days=1), rnd.randrange(3), False, 1)


TICKET_COLUMNS = ("id", "number", "type", "level", "kind", "source", "title", "description",
                  "customer_id", "phone", "channel", "region", "status", "step", "owner_unit_id",
                  "handler_id", "created_at", "updated_at", "step_started_at", "step_due_at", "due_at",
                  "closed_at", "urge_count", "is_case", "version")


def tables(rows: int) -> Iterator[tuple[str, tuple[str, ...], Iterator[tuple[Any, ...]]]]:
    """(table, columns, rows) in foreign-key order: everything the tickets point at first."""
    customers = max(rows // 4, 1)
    then = NOW - SPAN
    yield ("workflow_template", ("code", "name_en", "name_zh_cn", "steps", "updated_at"),
           iter([("basic", "Basic", "", "[]", then)]))
    yield ("ticket_type", ("code", "name_en", "name_zh_cn", "template", "fields", "links", "active"),
           iter([(t, t, "", "basic", "{}", "", True) for t in TYPES]))
    yield ("org_unit", ("id", "parent_id", "kind", "code", "name", "region", "active"),
           iter([(i, p, k, f"u{i}", f"Unit {i}", r, True) for i, p, k, r in UNITS]))
    yield ("agent", ("id", "number", "name", "password_hash", "role", "locale", "active", "is_demo",
                     "created_at"),
           iter([(a, f"a{a}", f"Agent {a}", "x", "agent", "", True, False, then)
                 for a in range(1, len(UNITS) * HANDLERS_PER_UNIT + 1)]))
    yield ("customer", ("id", "name", "tier", "region", "created_at", "is_demo"),
           ((c, f"Customer {c}", "ordinary", "guangdong", then, False) for c in range(1, customers + 1)))
    yield ("customer_identity", ("customer_id", "kind", "address", "created_at"),
           ((c, "phone", phone(c), then) for c in range(1, customers + 1)))
    rnd = random.Random(7)
    yield "ticket", TICKET_COLUMNS, (ticket(n, rows, customers, rnd) for n in range(1, rows + 1))


def fill_sqlite(path: Path, rows: int) -> None:
    """Bulk rows straight through sqlite3: the point is the searches, not the loading."""
    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return value

    db = sqlite3.connect(path)
    for table, columns, values in tables(rows):
        marks = ", ".join("?" * len(columns))
        db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                       (tuple(plain(v) for v in row) for row in values))
    db.commit()
    db.execute("ANALYZE")
    db.close()


async def fill_postgres(dsn: str, rows: int) -> None:
    """Bulk rows through COPY, in batches so a million tuples never sit in memory at once."""
    conn = await asyncpg.connect(dsn)
    try:
        for table, columns, values in tables(rows):
            while batch := [row for _, row in zip(range(50_000), values, strict=False)]:
                await conn.copy_records_to_table(table, records=batch, columns=columns)
        # What autovacuum would have done to a live table: statistics, and the visibility map
        # that lets a walk over keys stay in the index.
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def searches(rows: int) -> dict[str, Callable[[random.Random], TicketFilters]]:
    """The common filters, each drawing varied values."""
    customers = max(rows // 4, 1)

    def window(days: int, rnd: random.Random) -> dict[str, datetime]:
        start = NOW - SPAN + timedelta(days=rnd.uniform(0, 730 - days))
        return {"created_from": start, "created_to": start + timedelta(days=days)}

    return {
        "customer": lambda r: TicketFilters(customer_id=r.randint(1, customers)),
        "phone": lambda r: TicketFilters(phone=phone(r.randint(1, customers))),
        "number": lambda r: TicketFilters(number=number(r.randint(1, rows), rows)),
        "unit, open": lambda r: TicketFilters(unit_id=r.choice(COUNTY_IDS), status="open"),
        "handler, open": lambda r: TicketFilters(handler_id=r.randint(1, len(UNITS) * HANDLERS_PER_UNIT),
                                                 status="open"),
        "type + status": lambda r: TicketFilters(type=r.choice(TYPES), status=r.choice(("open", "closed"))),
        "region prefix + 30 days": lambda r: TicketFilters(region=f"guangdong/{r.choice(CITIES)}",
                                                           **window(30, r)),
        "region prefix": lambda r: TicketFilters(region=REGION_OF[r.choice(COUNTY_IDS)]),
        "overdue": lambda r: TicketFilters(overdue=True),
        "overdue of a unit": lambda r: TicketFilters(overdue=True, unit_id=r.choice(COUNTY_IDS)),
        "7 days": lambda r: TicketFilters(**window(7, r)),
        "words, unit + status": lambda r: TicketFilters(text=r.choice(TITLES).split()[-1],
                                                        unit_id=r.choice(COUNTY_IDS), status="closed"),
    }


async def timed(url: str, make: Callable[[random.Random], TicketFilters], times: int) -> dict[str, float]:
    engine = create_engine(url)
    sessions = session_factory(engine)
    rnd = random.Random(11)
    lat, found = [], []
    try:
        for _ in range(times):
            filters = make(rnd)
            started = time.perf_counter()
            page = await search_tickets(sessions, filters, agent_id=1, limit=LIMIT, now=NOW)
            lat.append((time.perf_counter() - started) * 1000)
            found.append(len(page.items))
    finally:
        await engine.dispose()
    lat.sort()
    p99 = lat[max(int(len(lat) * 0.99) - 1, 0)]
    return {"p50_ms": round(statistics.median(lat), 3), "p99_ms": round(p99, 3),
            "found": round(statistics.mean(found), 1)}


async def drop_indexes(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for name in INDEXES:
                await conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
            await conn.execute(text("ANALYZE"))
    finally:
        await engine.dispose()


async def measure(url: str, rows: int, times: int, naive_times: int) -> dict[str, Any]:
    calm_garbage_collector()  # as `contacthub run` does
    kinds = searches(rows)
    figures = {name: await timed(url, make, times) for name, make in kinds.items()}
    await drop_indexes(url)
    naive = {name: await timed(url, make, naive_times) for name, make in kinds.items()}
    return {"figures": figures, "naive": naive}


async def on_postgres(server_url: str, rows: int, times: int,
                      naive_times: int) -> tuple[dict[str, Any], float]:
    async with scratch_database(server_url) as url:
        await upgrade(url)
        started = time.perf_counter()
        await fill_postgres(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False),
                            rows)
        loaded = time.perf_counter() - started
        return await measure(url, rows, times, naive_times), loaded


def on_sqlite(rows: int, times: int, naive_times: int) -> tuple[dict[str, Any], float]:
    with tempfile.TemporaryDirectory(prefix="contacthub-tickets-") as tmp:
        database = Path(tmp) / "contacthub.sqlite"
        url = f"sqlite+aiosqlite:///{database}"
        asyncio.run(upgrade(url))
        started = time.perf_counter()
        fill_sqlite(database, rows)
        loaded = time.perf_counter() - started
        return asyncio.run(measure(url, rows, times, naive_times)), loaded


def report(database: str, rows: int, times: int, loaded: float, result: dict[str, Any]) -> None:
    figures, naive = result["figures"], result["naive"]
    ratios = {name: round(naive[name]["p50_ms"] / max(row["p50_ms"], 0.001), 1)
              for name, row in figures.items()}
    print(f"\nticket search, {database}, {rows:,} tickets (loaded in {loaded:.0f} s), {times} searches "
          f"of each filter, {LIMIT} a page; naive = ticket indexes dropped")
    print(f"{'filter':28}{'p50 ms':>10}{'p99 ms':>10}{'found':>8}{'naive p50':>11}{'ratio':>8}")
    for name, row in figures.items():
        print(f"{name:28}{row['p50_ms']:>10}{row['p99_ms']:>10}{row['found']:>8}"
              f"{naive[name]['p50_ms']:>11}{ratios[name]:>7}x")
    worst = max(row["p99_ms"] for row in figures.values())
    print(f"worst p99 {worst} ms (target < {TARGET_P99_MS:.0f} ms)\n")
    print(json.dumps({"bench": "tickets", "database": database, "rows": rows, "figures": figures,
                      "naive": naive, "ratio": ratios, "worst_p99_ms": worst,
                      "p99_under_target": worst < TARGET_P99_MS}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="tickets (default 1,000,000)")
    parser.add_argument("--times", type=int, default=300, help="searches of each filter (default 300)")
    parser.add_argument("--naive-times", type=int, default=10,
                        help="searches of each filter without the indexes (default 10)")
    parser.add_argument("--database-url", default="",
                        help="a PostgreSQL server (postgresql+asyncpg://...); "
                             "SQLite in a temp dir if not given")
    args = parser.parse_args()
    if args.database_url:
        result, loaded = asyncio.run(on_postgres(args.database_url, args.rows, args.times, args.naive_times))
    else:
        result, loaded = on_sqlite(args.rows, args.times, args.naive_times)
    report("postgresql" if args.database_url else "sqlite", args.rows, args.times, loaded, result)


if __name__ == "__main__":
    main()
