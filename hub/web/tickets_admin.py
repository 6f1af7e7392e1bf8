"""The work-order admin API: workflow templates, ticket types, the category tree and the
business calendars (the organisation is in ``tickets_admin_org``). Admins write, supervisors read;
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
    AgentRole,
    BusinessCalendar,
    OrgUnit,
    Ticket,
    TicketCategory,
    TicketType,
    WorkflowTemplate,
    utcnow,
)
from hub.routing.schedule import Schedule
from hub.tickets.templates import CENTRE as CENTRE_UNITS
from hub.tickets.templates import OWNER, Template
from hub.web.access import require
from hub.web.api import api
from hub.web.auth import audit, client_ip
from hub.web.keys import CORE
from hub.web.tickets_admin_bodies import (
    CODE,
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
    WorkflowBody,
    WorkflowList,
    WorkflowStep,
    WorkflowView,
)

ADMIN = AgentRole.ADMIN
READ = AgentRole.SUPERVISOR
TAG = "tickets-admin"
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


def _workflow_view(row: WorkflowTemplate, types: Sequence[str]) -> WorkflowView:
    return WorkflowView(code=row.code, name_en=row.name_en, name_zh_cn=row.name_zh_cn,
                        steps=[WorkflowStep.model_validate(step) for step in row.steps],
                        overall_minutes=row.overall_minutes, level_percent=row.level_percent,
                        updated_at=row.updated_at,
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
        template = Template.from_json(code, body.steps, body.overall_minutes, body.level_percent)
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
        row.level_percent = dict(template.level_percent)
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

