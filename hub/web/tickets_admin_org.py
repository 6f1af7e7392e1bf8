"""Work-order administration, the organisation: units (the province centre, cities, counties,
departments) and which unit each person works in. Admins write, supervisors read; every
write is audited."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import transaction
from hub.errors import InvalidRequest, NotFound
from hub.models import (
    Agent,
    AgentUnit,
    OrgUnit,
    Ticket,
)
from hub.routing.regions import check_region
from hub.tickets.org import CENTRE
from hub.web.api import api
from hub.web.keys import CORE
from hub.web.tickets_admin import (
    ADMIN,
    READ,
    TAG,
    changed,
    conflict,
    path_id,
    tree_order,
)
from hub.web.tickets_admin_bodies import (
    AgentUnitBody,
    AgentUnitView,
    UnitCreate,
    UnitList,
    UnitUpdate,
    UnitView,
)

PARENT_KINDS = {"province": (), "city": ("province",), "county": ("city",),
                "department": ("province", "city", "county")}
"""Which kinds of unit each kind may sit under."""

async def _unit_view(s: AsyncSession, unit: OrgUnit) -> UnitView:
    members = (await s.execute(select(func.count()).select_from(AgentUnit)
                               .where(AgentUnit.unit_id == unit.id))).scalar_one()
    return UnitView(members=members, **unit.model_dump())


@api.route("GET", "/api/admin/units", summary="The organisation: every unit with its member count",
           role=READ, reply=UnitList, tag=TAG)
async def list_units(request: web.Request) -> UnitList:
    async with request.app[CORE].sessions() as s:
        units = (await s.execute(select(OrgUnit))).scalars().all()
        counts = dict((await s.execute(select(AgentUnit.unit_id, func.count())
                                       .group_by(AgentUnit.unit_id))).all())
    return UnitList(items=[UnitView(members=counts.get(u.id, 0), **u.model_dump())
                           for u in tree_order(units)])


@api.route("POST", "/api/admin/units", summary="Add a city, county or department to the organisation",
           role=ADMIN, body=UnitCreate, reply=UnitView, tag=TAG)
async def create_unit(request: web.Request, body: UnitCreate) -> UnitView:
    async with transaction(request.app[CORE].sessions) as s:
        parent = await s.get(OrgUnit, body.parent_id)
        if parent is None:
            raise InvalidRequest("unknown_parent", f"there is no unit #{body.parent_id} to add it under")
        if not parent.active:
            raise conflict("parent_inactive", f"unit '{parent.code}' is disabled; enable it first")
        _check_parent(body.kind, parent)
        await _check_unit_code(s, body.code)
        region = _region(body.region) or (parent.region if body.kind == "department" else "")
        unit = OrgUnit(parent_id=parent.id, kind=body.kind, code=body.code, name=body.name, region=region)
        s.add(unit)
        await s.flush()
        view = await _unit_view(s, unit)
    await changed(request, "tickets.unit.create", f"unit:{unit.code}", body)
    return view


def _check_parent(kind: str, parent: OrgUnit) -> None:
    if parent.kind not in PARENT_KINDS[kind]:
        rule = ("a city sits under the province, a county under a city, a department under "
                "any unit but a department; the province is the root and there is one")
        raise InvalidRequest("bad_parent", f"a {kind} cannot sit under the {parent.kind} "
                                           f"'{parent.code}': {rule}")


async def _check_unit_code(s: AsyncSession, code: str) -> None:
    taken = (await s.execute(select(OrgUnit.id).where(OrgUnit.code == code))).first()
    if taken is not None:
        raise conflict("duplicate_code", f"a unit with code {code!r} exists already; pick another")


def _region(region: str) -> str:
    try:
        return check_region(region, "region") if region else ""
    except ValueError as err:
        raise InvalidRequest("bad_region", str(err)) from err


@api.route("PUT", "/api/admin/units/{id}", summary="Rename a unit, change its region, kind, or enable "
           "or disable it", role=ADMIN, body=UnitUpdate, reply=UnitView, tag=TAG)
async def update_unit(request: web.Request, body: UnitUpdate) -> UnitView:
    async with transaction(request.app[CORE].sessions) as s:
        unit = await s.get(OrgUnit, path_id(request, "unit"))
        if unit is None:
            raise NotFound("unit")
        if body.kind is not None and body.kind != unit.kind:
            await _check_kind(s, unit, body.kind)
            unit.kind = body.kind
        if body.active is False and unit.active:
            await _check_may_disable(s, unit)
        unit.name = body.name if body.name is not None else unit.name
        unit.region = _region(body.region) if body.region is not None else unit.region
        unit.active = body.active if body.active is not None else unit.active
        s.add(unit)
        await s.flush()
        view = await _unit_view(s, unit)
    await changed(request, "tickets.unit.update", f"unit:{unit.code}", body)
    return view


async def _check_kind(s: AsyncSession, unit: OrgUnit, kind: str) -> None:
    """A new kind must still fit under the parent, and the children must still fit under it."""
    if unit.parent_id is None:
        raise conflict("root_kind", f"'{unit.code}' is the root of the organisation (the province "
                                    "centre); its kind stays province")
    parent = await s.get(OrgUnit, unit.parent_id)
    if parent is not None:
        _check_parent(kind, parent)
    children = (await s.execute(select(OrgUnit.code, OrgUnit.kind)
                                .where(OrgUnit.parent_id == unit.id))).all()
    misfit = next(((code, child) for code, child in children if kind not in PARENT_KINDS[child]), None)
    if misfit is not None:
        raise conflict("bad_kind", f"unit '{misfit[0]}' is a {misfit[1]} under '{unit.code}', which "
                                   f"cannot sit under a {kind}; move or change it first")


async def _check_may_disable(s: AsyncSession, unit: OrgUnit) -> None:
    """A disabled unit takes no tickets: refuse while it owns open ones or has enabled children,
    and never disable the root, which every unit-less agent acts as."""
    if unit.parent_id is None or unit.code == CENTRE:
        raise conflict("root_unit", "the province centre cannot be disabled")
    open_count = (await s.execute(select(func.count()).select_from(Ticket).where(
        Ticket.owner_unit_id == unit.id, Ticket.status == "open"))).scalar_one()
    if open_count:
        raise conflict("unit_has_tickets", f"unit '{unit.code}' owns {open_count} open tickets; "
                                           "transfer or close them first")
    children = (await s.execute(select(func.count()).select_from(OrgUnit).where(
        OrgUnit.parent_id == unit.id, OrgUnit.active))).scalar_one()  # type: ignore[arg-type]
    if children:
        raise conflict("unit_has_children", f"unit '{unit.code}' has {children} enabled units under "
                                            "it; disable them first")


@api.route("PUT", "/api/admin/agents/{id}/unit", summary="Put an agent in a unit, or null to take them "
           "out of every unit", role=ADMIN, body=AgentUnitBody, reply=AgentUnitView, tag=TAG)
async def put_agent_unit(request: web.Request, body: AgentUnitBody) -> AgentUnitView:
    agent_id = path_id(request, "agent")
    async with transaction(request.app[CORE].sessions) as s:
        agent = await s.get(Agent, agent_id)
        if agent is None:
            raise NotFound("agent")
        unit = None if body.unit_id is None else await s.get(OrgUnit, body.unit_id)
        if body.unit_id is not None and (unit is None or not unit.active):
            raise InvalidRequest("unknown_unit", f"there is no enabled unit #{body.unit_id}")
        row = await s.get(AgentUnit, agent_id)
        if unit is None and row is not None:
            await s.delete(row)
        elif unit is not None:
            row = row or AgentUnit(agent_id=agent_id, unit_id=unit.id)
            row.unit_id = int(unit.id or 0)
            s.add(row)
    view = AgentUnitView(agent_id=agent_id, number=agent.number, name=agent.name,
                         unit_id=None if unit is None else unit.id,
                         unit_code=None if unit is None else unit.code)
    await changed(request, "tickets.agent.unit", f"agent:{agent.number}", body)
    return view


# Workflows
