"""Each common filter is answered from an index: the database never reads the whole ticket
table for it, on SQLite or on PostgreSQL. (``bench/tickets.py`` shows the times at a million.)"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from hub.core import HubCore
from hub.tickets.search import search_tickets
from hub.tickets.search_filters import TicketFilters

from .helpers import NOW, World, build_world

COMMON = {
    "customer": TicketFilters(customer_id=102),
    "phone": TicketFilters(phone="13900000002"),
    "number": TicketFilters(number="T202601010000017"),
    "type + status": TicketFilters(type="fault", status="open"),
    "unit + status": TicketFilters(unit_id=103, status="open"),
    "handler + status": TicketFilters(handler_id=104, status="closed"),
    "region": TicketFilters(region="guangdong/shenzhen"),
    "region + dates": TicketFilters(region="guangdong/shenzhen", created_from=NOW - timedelta(days=30),
                                    created_to=NOW),
    "dates": TicketFilters(created_from=NOW - timedelta(days=3), created_to=NOW - timedelta(days=2)),
    "overdue": TicketFilters(overdue=True),
    "overdue of a unit": TicketFilters(overdue=True, unit_id=103),
    "words of a unit": TicketFilters(text="signal", unit_id=103, status="open"),
}


@pytest.fixture
async def world(hub_core: HubCore) -> World:
    return await build_world(hub_core)


async def ticket_queries(world: World, filters: TicketFilters) -> list[tuple[str, Any]]:
    """The statements reading ``ticket`` that one search runs, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if re.search(r"\bFROM ticket\b", statement) and not statement.lstrip().startswith("INSERT"):
            seen.append((statement, parameters))

    engine = world.core.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        await search_tickets(world.core.sessions, filters, agent_id=1, now=NOW)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


async def plan(world: World, statement: str, parameters: Any) -> str:
    """The database's plan for ``statement``. PostgreSQL is told to avoid sequential scans:
    at test scale reading a few pages in a row is cheapest, and the point is whether an
    index path exists (the bench shows the planner picking it at a million rows). SQLite
    has no statistics in a fresh database and plans as for a large table."""
    async with world.core.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            return "\n".join(row[-1] for row in rows)
        await conn.exec_driver_sql("SET enable_seqscan = off")
        rows = await conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)
        return "\n".join(row[0] for row in rows)


@pytest.mark.parametrize("name", list(COMMON))
async def test_a_common_filter_never_scans_the_whole_ticket_table(world: World, name: str) -> None:
    statements = await ticket_queries(world, COMMON[name])

    assert statements
    for statement, parameters in statements:
        text = await plan(world, statement, parameters)
        assert not re.search(r"^\s*SCAN ticket\s*$", text, re.MULTILINE), text  # SQLite: a table scan
        assert "Seq Scan on ticket" not in text, text  # PostgreSQL


@pytest.mark.parametrize("name", ["type + status", "unit + status", "customer", "phone", "region + dates"])
async def test_a_selective_filter_seeks_its_index_rather_than_walking_one(world: World, name: str) -> None:
    for statement, parameters in await ticket_queries(world, COMMON[name]):
        text = await plan(world, statement, parameters)
        walks = re.findall(r"SCAN ticket USING (?:COVERING )?INDEX \w+$", text, re.MULTILINE)
        assert not walks, text
        assert re.search(r"SEARCH ticket USING|Index Cond", text), text
