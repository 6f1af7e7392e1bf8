"""The demo organisation's units take tickets, and removing the demo keeps the tickets."""

from __future__ import annotations

from sqlalchemy import select

from hub.core import HubCore
from hub.demo import load_demo, remove_demo
from hub.models import Agent, OrgUnit, Ticket
from hub.tickets import service


async def test_a_ticket_dispatched_to_a_demo_department_returns_to_the_centre_when_the_demo_goes(
    hub_core: HubCore,
) -> None:
    await load_demo(hub_core)
    async with hub_core.sessions() as s:
        people = {a.number: a for a in (await s.execute(select(Agent))).scalars()}
        units = {u.code: int(u.id or 0) for u in (await s.execute(select(OrgUnit))).scalars()}
    li, zhang, huang = people["1001"], people["2001"], people["3001"]
    ticket = await service.create(hub_core, li, service.NewTicket(type="complaint", title="Weak signal"))
    ticket = await service.act(hub_core, li, int(ticket.id or 0), "advance")
    ticket = await service.act(hub_core, zhang, int(ticket.id or 0), "advance")
    ticket = await service.act(hub_core, zhang, int(ticket.id or 0), "advance",
                               to_unit=units["demo-nanshan-network"])
    ticket = await service.act(hub_core, huang, int(ticket.id or 0), "comment", opinion="on my way")
    assert ticket.owner_unit_id == units["demo-nanshan-network"]

    await remove_demo(hub_core)
    async with hub_core.sessions() as s:
        kept = await s.get(Ticket, ticket.id)
    assert kept is not None and kept.owner_unit_id == units["centre"]
