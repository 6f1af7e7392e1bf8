"""A small world of tickets to search: a unit tree, handlers, customers with phones."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from hub.core import HubCore
from hub.db import transaction
from hub.models import (
    Agent,
    Customer,
    CustomerIdentity,
    OrgUnit,
    Ticket,
    TicketSearch,
    TicketType,
    WorkflowTemplate,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TYPES = ("complaint", "suggestion", "fault")
# Ids from 101 on: the hub seeds its own organisation root and defaults at start.
REGIONS = {  # unit id -> region
    101: "guangdong", 102: "guangdong/shenzhen", 103: "guangdong/shenzhen/nanshan",
    104: "guangdong/shenzhen/futian", 105: "guangdong/shenzhen-east", 106: "guangdong/guangzhou",
}


@dataclass
class World:
    """What was stored, to compare search results with."""

    core: HubCore
    tickets: list[dict[str, Any]] = field(default_factory=list)

    def expected(self, **where: Any) -> list[int]:
        """Ids of the stored tickets whose fields equal ``where``, newest first."""
        rows = [t for t in self.tickets if all(t[k] == v for k, v in where.items())]
        return [t["id"] for t in sorted(rows, key=lambda t: (t["created_at"], t["id"]), reverse=True)]

    def matching(self, test: Any) -> list[int]:
        rows = [t for t in self.tickets if test(t)]
        return [t["id"] for t in sorted(rows, key=lambda t: (t["created_at"], t["id"]), reverse=True)]


async def build_world(core: HubCore, tickets: int = 60) -> World:
    """Units 101-106 (province, city, two counties, a sibling city that shares a name prefix,
    another city), handlers 101-106 (one per unit), customers 101-103 with phone identities
    1390000000N (N = 1-3), and ``tickets`` tickets cycling through types, statuses, units, customers.
    Every fifth ticket shares its creation time with the one before (ties break on id)."""
    world = World(core)
    async with transaction(core.sessions) as s:
        s.add(WorkflowTemplate(code="search_basic", name_en="Basic", steps=[]))
        await s.flush()
        for code in TYPES:
            if await s.get(TicketType, code) is None:
                s.add(TicketType(code=code, name_en=code, template="search_basic"))
        for unit, region in REGIONS.items():
            s.add(OrgUnit(id=unit, parent_id=None if unit == 101 else 101, kind="county",
                          code=f"search{unit}", name=f"Unit {unit}", region=region))
            s.add(Agent(id=unit, number=f"search{unit}", name=f"Agent {unit}", password_hash="x"))
            await s.flush()
        for customer in (1, 2, 3):
            s.add(Customer(id=100 + customer, name=f"Customer {customer}"))
        await s.flush()
        for customer in (1, 2, 3):
            s.add(CustomerIdentity(customer_id=100 + customer, kind="phone", address=f"1390000000{customer}"))
        rows = [ticket_row(n) for n in range(1, tickets + 1)]
        await s.execute(insert(Ticket), rows)
    world.tickets = rows
    return world


def ticket_row(n: int) -> dict[str, Any]:
    """Ticket ``n``: newer as ``n`` grows; odd-numbered ones belong to a customer."""
    unit = 101 + n % 6
    customer = 101 + n % 3 if n % 2 else None
    # A customer's ticket carries the number it was opened from: sometimes another one.
    phone = f"1390000000{customer - 100}" if customer and n % 4 != 1 else f"1370000{n:04d}"
    is_open = n % 3 != 0
    return {
        "id": n, "number": f"T20260101{n:07d}", "type": TYPES[n % 3], "title": f"ticket {n} " +
        ("no signal indoors" if n % 4 == 0 else "billing question"),
        "description": "customer says 100% of calls drop" if n % 7 == 0 else "",
        "customer_id": customer, "phone": phone, "region": REGIONS[unit],
        "status": "open" if is_open else "closed", "step": "handle", "owner_unit_id": unit,
        "handler_id": unit if n % 5 else None,
        "created_at": NOW - timedelta(hours=100 - n + (n % 5 == 0)),
        # Some open tickets wait in a step without a deadline: never overdue.
        "step_due_at": None if n % 11 == 0 else NOW + timedelta(hours=n % 4 - 2), "urge_count": n % 2,
    }


async def search_log(core: HubCore) -> list[TicketSearch]:
    async with core.sessions() as s:
        return list((await s.execute(select(TicketSearch).order_by(TicketSearch.id))).scalars())  # type: ignore[arg-type]
