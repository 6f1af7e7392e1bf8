"""The work-order admin API: the organisation and who belongs where, workflow templates,
ticket types, the category tree and the business calendars. Admins write, supervisors read;
every write is audited after its commit. The ticket service reads these rows on every
action, so a change applies from the next action without a reload."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeVar

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import transaction
from hub.errors import InvalidRequest, NotFound
from hub.models import (
    Agent,
    AgentRole,
    AgentUnit,
    BusinessCalendar,
    OrgUnit,
    Ticket,
    TicketCategory,
    TicketType,
    WorkflowTemplate,
    utcnow,
)
from hub.routing.regions import check_region
from hub.routing.schedule import Schedule
from hub.tickets.org import CENTRE
from hub.tickets.workflow import CENTRE as CENTRE_UNITS
from hub.tickets.workflow import OWNER, Template
from hub.web.access import require
from hub.web.api import api
from hub.web.auth import audit, client_ip
from hub.web.keys import CORE
from hub.web.tickets_admin_bodies import (
    CODE,
    AgentUnitBody,
    AgentUnitView,
    CalendarBody,
    CalendarList,
    CalendarView,
    CategoryCreate,
    CategoryList,
    CategoryUpdate,
    CategoryView,
    TicketTypeBody,
    TicketTypeList,
    TicketTypeView,
    UnitCreate,
    UnitList,
    UnitUpdate,
    UnitView,
    WorkflowBody,
    WorkflowList,
    WorkflowStep,
    WorkflowView,
)

ADMIN = AgentRole.ADMIN
READ = AgentRole.SUPERVISOR
TAG = "tickets-admin"
PARENT_KINDS = {"province": (), "city": ("province",), "county": ("city",),
                "department": ("province", "city", "county")}
"""Which kinds of unit each kind may sit under; the province is the root and has no parent."""
CODE_RE = re.compile(CODE)


class _Node(Protocol):
    id: int | None
    parent_id: int | None


N = TypeVar("N", bound=_Node)


async def changed(request: web.Request, action: str, target: str, body: BaseModel | None) -> None:
    """After a committed change: one audit line with the body that made it."""
    detail = "" if body is None else body.model_dump_json(exclude_unset=True)
    await audit(request.app[CORE], require(request), action, target, detail, ip=client_ip(request))


def conflict(error_id: str, message: str) -> InvalidRequest:
    return InvalidRequest(error_id, message, status=409)


def path_id(request: web.Request, what: str) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError as err:
        raise NotFound(what) from err


def path_code(request: web.Request, what: str) -> str:
    """The ``{code}`` of the path; a code no row could have is simply not found."""
    code = request.match_info["code"]
    if not CODE_RE.fullmatch(code):
        raise InvalidRequest(f"bad_{what}_code", f"{what} code {code!r}: use lower-case letters, "
                                                 "digits and _ (at most 40), starting with a letter")
    return code


def tree_order(rows: Iterable[N]) -> list[N]:
    """Parents before their children, siblings in id order: how a screen draws the tree."""
    children: dict[int | None, list[N]] = {}
    for row in sorted(rows, key=lambda r: r.id or 0):
        children.setdefault(row.parent_id, []).append(row)
    ordered: list[N] = []
    todo = list(reversed(children.get(None, [])))
    while todo:
        row = todo.pop()
        ordered.append(row)
        todo.extend(reversed(children.get(row.id, [])))
    return ordered


# Organisation


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


def _workflow_view(row: WorkflowTemplate, types: Sequence[str]) -> WorkflowView:
    return WorkflowView(code=row.code, name_en=row.name_en, name_zh_cn=row.name_zh_cn,
                        steps=[WorkflowStep.model_validate(step) for step in row.steps],
                        overall_minutes=row.overall_minutes, updated_at=row.updated_at,
                        types=sorted(types))


async def _types_by_template(s: AsyncSession) -> dict[str, list[str]]:
    by_template: dict[str, list[str]] = {}
    for code, template in (await s.execute(select(TicketType.code, TicketType.template))).all():
        by_template.setdefault(template, []).append(code)
    return by_template


@api.route("GET", "/api/admin/workflows", summary="Every workflow template", role=READ,
           reply=WorkflowList, tag=TAG)
async def list_workflows(request: web.Request) -> WorkflowList:
    async with request.app[CORE].sessions() as s:
        rows = (await s.execute(select(WorkflowTemplate).order_by(WorkflowTemplate.code))).scalars()
        types = await _types_by_template(s)
        return WorkflowList(items=[_workflow_view(row, types.get(row.code, [])) for row in rows])


@api.route("GET", "/api/admin/workflows/{code}", summary="One workflow template", role=READ,
           reply=WorkflowView, tag=TAG)
async def get_workflow(request: web.Request) -> WorkflowView:
    code = path_code(request, "workflow")
    async with request.app[CORE].sessions() as s:
        return await _stored_workflow(s, code)


async def _stored_workflow(s: AsyncSession, code: str) -> WorkflowView:
    row = await s.get(WorkflowTemplate, code)
    if row is None:
        raise NotFound("workflow")
    return _workflow_view(row, (await _types_by_template(s)).get(code, []))


@api.route("PUT", "/api/admin/workflows/{code}", summary="Create or replace a workflow template",
           role=ADMIN, body=WorkflowBody, reply=WorkflowView, tag=TAG)
async def put_workflow(request: web.Request, body: WorkflowBody) -> WorkflowView:
    code = path_code(request, "workflow")
    try:
        template = Template.from_json(code, body.steps, body.overall_minutes)
    except ValueError as err:
        raise InvalidRequest("bad_workflow", str(err)) from err
    async with transaction(request.app[CORE].sessions) as s:
        await _check_step_units(s, template)
        types = (await s.execute(select(TicketType.code).where(TicketType.template == code))).scalars()
        await _check_open_steps(s, list(types), template)
        row = await s.get(WorkflowTemplate, code)
        created = row is None
        row = row or WorkflowTemplate(code=code, name_en=body.name_en)
        row.name_en, row.name_zh_cn = body.name_en, body.name_zh_cn
        row.steps, row.overall_minutes = template.to_json(), template.overall_minutes
        row.updated_at = utcnow()
        s.add(row)
        await s.flush()
        view = await _stored_workflow(s, code)
    await changed(request, f"tickets.workflow.{'create' if created else 'update'}", f"workflow:{code}", body)
    return view


async def _check_step_units(s: AsyncSession, template: Template) -> None:
    """Unit codes a step names must exist: a typo would leave nobody able to act there."""
    named = {unit for step in template.steps for unit in step.units} - {CENTRE_UNITS, OWNER}
    if not named:
        return
    known = set((await s.execute(select(OrgUnit.code).where(OrgUnit.code.in_(named)))).scalars())  # type: ignore[attr-defined]
    missing = sorted(named - known)
    if missing:
        raise InvalidRequest("unknown_unit", f"workflow '{template.code}' names unit "
                                             f"{', '.join(repr(m) for m in missing)}, which does not "
                                             "exist; create it first or name 'centre' or 'owner'")


async def _check_open_steps(s: AsyncSession, types: list[str], template: Template) -> None:
    """Refuse a template that no longer has a step open tickets of ``types`` are at: they
    would be stuck there. Deadlines of kept steps change from the next step change."""
    if not types:
        return
    codes = [step.code for step in template.steps]
    rows = (await s.execute(
        select(Ticket.step, func.count()).where(
            Ticket.type.in_(types), Ticket.status == "open", Ticket.step.notin_(codes))  # type: ignore[attr-defined]
        .group_by(Ticket.step).order_by(Ticket.step))).all()
    if rows:
        step, count = rows[0]
        raise conflict("step_in_use", f"{count} open tickets are at step '{step}', which workflow "
                                      f"'{template.code}' would no longer have; keep the step until "
                                      "they have moved on or closed")


# Ticket types


def _type_view(row: TicketType) -> TicketTypeView:
    return TicketTypeView(code=row.code, name_en=row.name_en, name_zh_cn=row.name_zh_cn,
                          template=row.template, fields=row.fields, links=row.links, active=row.active)


@api.route("GET", "/api/admin/ticket-types", summary="Every ticket type", role=READ,
           reply=TicketTypeList, tag=TAG)
async def list_ticket_types(request: web.Request) -> TicketTypeList:
    async with request.app[CORE].sessions() as s:
        rows = (await s.execute(select(TicketType).order_by(TicketType.code))).scalars()
        return TicketTypeList(items=[_type_view(row) for row in rows])


@api.route("PUT", "/api/admin/ticket-types/{code}", summary="Create or replace a ticket type",
           role=ADMIN, body=TicketTypeBody, reply=TicketTypeView, tag=TAG)
async def put_ticket_type(request: web.Request, body: TicketTypeBody) -> TicketTypeView:
    code = path_code(request, "type")
    _check_choices(body)
    async with transaction(request.app[CORE].sessions) as s:
        template = await s.get(WorkflowTemplate, body.template)
        if template is None:
            raise InvalidRequest("unknown_workflow", f"there is no workflow {body.template!r}; "
                                                     "create it with PUT /api/admin/workflows/{code}")
        # A type may link its own kind (a repeat complaint naming the first): that one need
        # not exist before this PUT creates it.
        if body.links and body.links != code and await s.get(TicketType, body.links) is None:
            raise InvalidRequest("unknown_type", f"links names no ticket type {body.links!r}")
        row = await s.get(TicketType, code)
        created = row is None
        if row is not None:
            await _check_type_change(s, row, body, template)
        row = row or TicketType(code=code, name_en=body.name_en, template=body.template)
        for field, value in body.model_dump().items():
            setattr(row, field, value)
        s.add(row)
        await s.flush()
        view = _type_view(row)
    await changed(request, f"tickets.type.{'create' if created else 'update'}", f"type:{code}", body)
    return view


def _check_choices(body: TicketTypeBody) -> None:
    for name, choices in body.fields.items():
        twice = next((c for i, c in enumerate(choices) if c in choices[:i]), None)
        if twice is not None:
            raise InvalidRequest("duplicate_choice", f"fields.{name}: {twice!r} is listed twice")


async def _check_type_change(s: AsyncSession, row: TicketType, body: TicketTypeBody,
                             template: WorkflowTemplate) -> None:
    """The ticket service refuses every action on a ticket of a disabled type, and a ticket
    whose step the new workflow lacks would be stuck: refuse both while tickets are open."""
    if row.active and not body.active:
        open_count = (await s.execute(select(func.count()).select_from(Ticket).where(
            Ticket.type == row.code, Ticket.status == "open"))).scalar_one()
        if open_count:
            raise conflict("type_in_use", f"{open_count} open tickets are of type '{row.code}'; "
                                          "close them before disabling it")
    if body.template != row.template:
        await _check_open_steps(s, [row.code], Template.from_json(
            template.code, template.steps, template.overall_minutes))


# Categories


def _category_view(row: TicketCategory) -> CategoryView:
    return CategoryView.model_validate(row.model_dump())


@api.route("GET", "/api/admin/ticket-categories", summary="The category tree, with disabled nodes",
           role=READ, reply=CategoryList, tag=TAG)
async def list_categories(request: web.Request) -> CategoryList:
    async with request.app[CORE].sessions() as s:
        rows = (await s.execute(select(TicketCategory))).scalars().all()
    return CategoryList(items=[_category_view(row) for row in tree_order(rows)])


@api.route("POST", "/api/admin/ticket-categories", summary="Add a category under a parent, or at "
           "the root", role=ADMIN, body=CategoryCreate, reply=CategoryView, tag=TAG)
async def create_category(request: web.Request, body: CategoryCreate) -> CategoryView:
    async with transaction(request.app[CORE].sessions) as s:
        if body.parent_id is not None and await s.get(TicketCategory, body.parent_id) is None:
            raise InvalidRequest("unknown_parent", f"there is no category #{body.parent_id}")
        taken = (await s.execute(select(TicketCategory.id).where(TicketCategory.code == body.code))).first()
        if taken is not None:
            raise conflict("duplicate_code", f"a category with code {body.code!r} exists already")
        row = TicketCategory(**body.model_dump())
        s.add(row)
        await s.flush()
        view = _category_view(row)
    await changed(request, "tickets.category.create", f"category:{row.code}", body)
    return view


@api.route("PUT", "/api/admin/ticket-categories/{id}", summary="Rename a category, move it under "
           "another parent, or enable or disable it", role=ADMIN, body=CategoryUpdate,
           reply=CategoryView, tag=TAG)
async def update_category(request: web.Request, body: CategoryUpdate) -> CategoryView:
    async with transaction(request.app[CORE].sessions) as s:
        row = await s.get(TicketCategory, path_id(request, "category"))
        if row is None:
            raise NotFound("category")
        if "parent_id" in body.model_fields_set:
            await _check_move(s, row, body.parent_id)
            row.parent_id = body.parent_id
        for field in ("name_en", "name_zh_cn", "active"):
            if getattr(body, field) is not None:
                setattr(row, field, getattr(body, field))
        s.add(row)
        await s.flush()
        view = _category_view(row)
    await changed(request, "tickets.category.update", f"category:{row.code}", body)
    return view


async def _check_move(s: AsyncSession, row: TicketCategory, parent_id: int | None) -> None:
    """Walk up from the new parent: meeting the category itself means a cycle."""
    parents = dict((await s.execute(select(TicketCategory.id, TicketCategory.parent_id))).all())
    if parent_id is not None and parent_id not in parents:
        raise InvalidRequest("unknown_parent", f"there is no category #{parent_id}")
    at: int | None = parent_id
    while at is not None:
        if at == row.id:
            raise InvalidRequest("category_cycle", f"category '{row.code}' cannot move under itself "
                                                   "or one of its own subcategories")
        at = parents.get(at)


# Business calendars


def _calendar(code: str, schedule: dict[str, Any]) -> CalendarView:
    return CalendarView(code=code, schedule=schedule)


@api.route("GET", "/api/admin/business-calendar", summary="Every business calendar", role=READ,
           reply=CalendarList, tag=TAG)
async def list_calendars(request: web.Request) -> CalendarList:
    async with request.app[CORE].sessions() as s:
        rows = (await s.execute(select(BusinessCalendar).order_by(BusinessCalendar.code))).scalars()
        return CalendarList(items=[_calendar(row.code, row.schedule) for row in rows])


@api.route("GET", "/api/admin/business-calendar/{code}", summary="One business calendar ('default': "
           "the one deadlines count in)", role=READ, reply=CalendarView, tag=TAG)
async def get_calendar(request: web.Request) -> CalendarView:
    code = path_code(request, "calendar")
    async with request.app[CORE].sessions() as s:
        row = await s.get(BusinessCalendar, code)
    if row is None:
        raise NotFound("calendar")
    return _calendar(code, row.schedule)


@api.route("PUT", "/api/admin/business-calendar/{code}", summary="Create or replace a business "
           "calendar; new deadlines count in it", role=ADMIN, body=CalendarBody, reply=CalendarView, tag=TAG)
async def put_calendar(request: web.Request, body: CalendarBody) -> CalendarView:
    code = path_code(request, "calendar")
    try:
        schedule = Schedule.from_json(body.schedule).to_json()
    except ValueError as err:
        raise InvalidRequest("bad_calendar", f"schedule: {err}") from err
    async with transaction(request.app[CORE].sessions) as s:
        row = await s.get(BusinessCalendar, code)
        created = row is None
        row = row or BusinessCalendar(code=code)
        row.schedule = schedule
        s.add(row)
    await changed(request, f"tickets.calendar.{'create' if created else 'update'}", f"calendar:{code}", body)
    return _calendar(code, schedule)

