"""Work orders over REST: create from a conversation, act on a ticket's workflow, urge,
answer the customer, record satisfaction, my tickets and my unit's, the customer's recent
tickets, the case library flag. Outages are in ``outages_api``, administration in
``tickets_admin``."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from hub.errors import InvalidRequest, NotFound
from hub.history import mask_address, messages_after
from hub.inbox import is_supervisor
from hub.models import (
    Agent,
    AgentRole,
    Attachment,
    OrgUnit,
    Ticket,
    TicketAction,
    TicketCategory,
    TicketParticipant,
    TicketType,
)
from hub.tickets import org, service, views
from hub.tickets.cases import similar_cases
from hub.tickets.reply import answer
from hub.tickets.search import cursor_text, parse_cursor, search_tickets
from hub.tickets.search_filters import TicketFilters
from hub.tickets.workflow import may_act
from hub.web.access import require
from hub.web.api import _id, _own_uploads, api, file_response
from hub.web.auth import audit, client_ip
from hub.web.keys import CORE

AGENT = AgentRole.AGENT
SUPERVISOR = AgentRole.SUPERVISOR
TAG = "tickets"
TRANSCRIPT_LINES = 50


class TicketBody(BaseModel):
    """A new ticket; with ``interaction_id`` the customer, channel and transcript come along."""

    type: str = Field(min_length=1, max_length=40)
    title: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=10_000)
    interaction_id: int | None = None
    customer_id: int | None = None
    category_id: int | None = None
    level: str = Field(default="", max_length=40)
    kind: str = Field(default="", max_length=40)
    source: str = Field(default="", max_length=40)
    linked_ticket_id: int | None = None


class ActionBody(BaseModel):
    """One workflow action; ``version`` is the ticket's version the agent saw."""

    action: Literal["advance", "return", "transfer", "cc", "close", "reopen", "comment", "take"]
    to_step: str | None = Field(default=None, max_length=40)
    to_unit: int | None = None
    opinion: str = Field(default="", max_length=4000)
    version: int | None = None
    attachment_ids: list[int] = Field(default_factory=list, max_length=10)
    """Files uploaded first with ``POST /api/files`` (a site photo, a signed form)."""


class UrgeBody(BaseModel):
    """Why the ticket is chased (the customer called again...)."""

    opinion: str = Field(default="", max_length=4000)


class ReplyBody(BaseModel):
    """The answer sent to the customer on the channel they used."""

    text: str = Field(min_length=1, max_length=10_000)
    version: int | None = None


class FeedbackBody(BaseModel):
    """The customer's satisfaction: 5 very satisfied, 4 satisfied, 3 neutral, 2 dissatisfied,
    1 very dissatisfied."""

    satisfaction: int = Field(ge=1, le=5)
    opinion: str = Field(default="", max_length=4000)


class CaseBody(BaseModel):
    """Whether the ticket is in the case library."""

    is_case: bool


def view(ticket: Ticket, agent: Agent) -> dict[str, Any]:
    data = views.ticket_dict(ticket)
    data["phone"] = ticket.phone if is_supervisor(agent) else mask_address("phone", ticket.phone)
    data["description"] = ticket.description
    return data


@api.route(
    "GET",
    "/api/tickets/types",
    summary="Ticket types with their choices, and the category tree",
    role=AGENT,
    tag=TAG,
)
async def ticket_types(request: web.Request) -> dict[str, Any]:
    require(request)
    async with request.app[CORE].sessions() as s:
        types = (await s.execute(select(TicketType).where(TicketType.active))).scalars().all()  # type: ignore[arg-type]
        categories = (await s.execute(select(TicketCategory).where(TicketCategory.active))).scalars().all()  # type: ignore[arg-type]
        units = (await s.execute(select(OrgUnit).where(OrgUnit.active))).scalars().all()  # type: ignore[arg-type]
    return {
        "types": [t.model_dump() for t in types],
        "categories": [c.model_dump() for c in categories],
        "units": [u.model_dump() for u in units],
    }


@api.route(
    "GET", "/api/tickets/{id}/similar", summary="Cases like this ticket, best first", role=AGENT, tag=TAG
)
async def similar(request: web.Request) -> dict[str, Any]:
    require(request)
    return {"items": await similar_cases(request.app[CORE], _id(request))}


@api.route(
    "POST",
    "/api/tickets",
    summary="Create a ticket (from a conversation: two keystrokes)",
    role=AGENT,
    body=TicketBody,
    tag=TAG,
)
async def create_ticket(request: web.Request, body: TicketBody) -> dict[str, Any]:
    agent = require(request)
    core = request.app[CORE]
    description = body.description
    if body.interaction_id is not None and not description.strip():
        description = await _transcript(request, body.interaction_id)
    ticket = await service.create(
        core, agent, service.NewTicket(**{**body.model_dump(), "description": description})
    )
    await audit(core, agent, "ticket.create", f"ticket:{ticket.number}", body.type, ip=client_ip(request))
    return view(ticket, agent)


async def _transcript(request: web.Request, interaction_id: int) -> str:
    """The conversation so far, as the ticket's first description."""
    from hub.inbox import get_interaction

    core = request.app[CORE]
    await get_interaction(core, require(request), interaction_id)
    async with core.sessions() as s:
        messages = await messages_after(s, interaction_id, 0, limit=1000)
    lines = [f"{m['author_name'] or m['author_type']}: {m['text']}" for m in messages[-TRANSCRIPT_LINES:]]
    return "\n".join(lines)[:10_000]


@api.route(
    "GET",
    "/api/tickets",
    summary="My open tickets (?view=mine) or my unit's queue (?view=unit)",
    role=AGENT,
    tag=TAG,
)
async def list_tickets(request: web.Request) -> dict[str, Any]:
    agent = require(request)
    core = request.app[CORE]
    which = request.query.get("view", "mine")
    async with core.sessions() as s:
        if which == "mine":
            where = [Ticket.handler_id == agent.id]
        elif which == "unit":
            actor = await org.actor_of(s, agent)
            where = [Ticket.owner_unit_id == actor.unit_id]
        else:
            raise InvalidRequest("bad_view", "view must be mine or unit; use /api/tickets/search to search")
        rows = (
            await s.execute(
                select(Ticket)
                .where(*where, Ticket.status == "open")
                .order_by(Ticket.step_due_at.is_(None), Ticket.step_due_at)  # type: ignore[union-attr]
                .limit(200)
            )
        ).scalars()
        return {"items": [view(t, agent) for t in rows]}


@api.route(
    "GET", "/api/tickets/report", summary="Open, overdue and urged tickets per unit", role=SUPERVISOR, tag=TAG
)
async def report(request: web.Request) -> dict[str, Any]:
    require(request, SUPERVISOR)
    return {"items": await views.overdue_report(request.app[CORE])}


@api.route(
    "GET",
    "/api/tickets/search",
    summary="Search tickets by customer, phone, number, type, status, region, unit, handler, dates, overdue, "
    "words (?before= for the next page); every search is logged",
    role=AGENT,
    tag=TAG,
)
async def search(request: web.Request) -> dict[str, Any]:
    agent = require(request)
    filters = TicketFilters.from_query(request.query)
    before = parse_cursor(request.query["before"]) if request.query.get("before") else None
    raw_limit = request.query.get("limit", "50")
    page = await search_tickets(
        request.app[CORE].sessions,
        filters,
        agent_id=agent.id,
        limit=int(raw_limit) if raw_limit.isdigit() else 0,
        before=before,
        unmasked=is_supervisor(agent),
    )
    return {"items": page.items, "next": cursor_text(page.next) if page.next is not None else None}


@api.route(
    "GET",
    "/api/tickets/{id}/files/{file_id}",
    summary="Download a file on a ticket's timeline",
    role=AGENT,
    tag=TAG,
)
async def ticket_file(request: web.Request) -> web.StreamResponse:
    require(request)
    core = request.app[CORE]
    ticket_id, file_id = _id(request), _id(request, "file_id")
    async with core.sessions() as s:
        lines = (
            await s.execute(select(TicketAction.attachments).where(TicketAction.ticket_id == ticket_id))
        ).scalars()
        if not any(item.get("id") == file_id for files in lines for item in files):
            raise NotFound("file")
        row = await s.get(Attachment, file_id)
    if row is None:
        raise NotFound("file")
    return file_response(core.files.path(row.sha256), row.filename, row.content_type)


async def attachment_rows(request: web.Request, ids: list[int]) -> list[dict[str, Any]]:
    """The agent's own uploads, as the timeline keeps them; any other id is refused."""
    if not ids:
        return []
    refs = await _own_uploads(request, ids)
    async with request.app[CORE].sessions() as s:
        rows = (await s.execute(select(Attachment).where(Attachment.id.in_(ids)))).scalars().all()  # type: ignore[union-attr]
    by_sha = {ref.sha256 for ref in refs}
    return [
        {"id": r.id, "filename": r.filename, "content_type": r.content_type, "size": r.size}
        for r in rows
        if r.sha256 in by_sha
    ]


@api.route(
    "GET", "/api/tickets/{id}", summary="A ticket with its timeline and what I may do", role=AGENT, tag=TAG
)
async def get_ticket(request: web.Request) -> dict[str, Any]:
    agent = require(request)
    core = request.app[CORE]
    async with core.sessions() as s:
        ticket, ticket_view = await service.load(s, _id(request))
        _kind, template = await service.template_of(s, ticket.type)
        actor = await org.actor_of(s, agent)
        timeline = (
            await s.execute(
                select(TicketAction, Agent.name)
                .outerjoin(Agent, Agent.id == TicketAction.actor_id)
                .where(TicketAction.ticket_id == ticket.id)
                .order_by(TicketAction.at, TicketAction.id)  # type: ignore[arg-type]
            )
        ).all()
        handler = await s.get(Agent, ticket.handler_id) if ticket.handler_id is not None else None
        participants = (
            await s.execute(select(TicketParticipant).where(TicketParticipant.ticket_id == ticket.id))
        ).scalars()
        step = template.step(ticket.step)
        return {
            "ticket": view(ticket, agent),
            "timeline": [{**a.model_dump(mode="json"), "actor_name": name or ""} for a, name in timeline],
            "handler_name": handler.name if handler is not None else "",
            "participants": [p.model_dump() for p in participants],
            "step": {
                "code": step.code,
                "name_en": step.name_en,
                "name_zh_cn": step.name_zh_cn,
                "next": list(step.next),
                "return_to": list(step.return_to),
                "transfer": step.transfer,
                "dispatch": step.dispatch,
                "final": step.final,
            },
            "may_act": may_act(template, ticket_view, actor),
        }


@api.route(
    "POST",
    "/api/tickets/{id}/actions",
    summary="Advance, dispatch, return, transfer, co-process, close, reopen, comment or take",
    role=AGENT,
    body=ActionBody,
    tag=TAG,
)
async def ticket_action(request: web.Request, body: ActionBody) -> dict[str, Any]:
    agent = require(request)
    files = await attachment_rows(request, body.attachment_ids)
    ticket = await service.act(
        request.app[CORE],
        agent,
        _id(request),
        body.action,
        to_step=body.to_step,
        to_unit=body.to_unit,
        opinion=body.opinion,
        version=body.version,
        attachments=files,
    )
    return view(ticket, agent)


@api.route(
    "POST",
    "/api/tickets/{id}/urge",
    summary="Urge the unit handling the ticket (催办)",
    role=AGENT,
    body=UrgeBody,
    tag=TAG,
)
async def urge_ticket(request: web.Request, body: UrgeBody) -> dict[str, Any]:
    agent = require(request)
    return view(await service.urge(request.app[CORE], agent, _id(request), body.opinion), agent)


@api.route(
    "POST",
    "/api/tickets/{id}/reply",
    summary="Answer the customer on their channel; at the reply step the ticket moves on",
    role=AGENT,
    body=ReplyBody,
    tag=TAG,
)
async def reply_ticket(request: web.Request, body: ReplyBody) -> dict[str, Any]:
    agent = require(request)
    ticket = await answer(request.app[CORE], agent, _id(request), body.text, version=body.version)
    return view(ticket, agent)


@api.route(
    "POST",
    "/api/tickets/{id}/feedback",
    summary="Record the customer's satisfaction (1-5)",
    role=AGENT,
    body=FeedbackBody,
    tag=TAG,
)
async def ticket_feedback(request: web.Request, body: FeedbackBody) -> dict[str, Any]:
    agent = require(request)
    ticket = await service.feedback(request.app[CORE], agent, _id(request), body.satisfaction, body.opinion)
    return view(ticket, agent)


@api.route(
    "POST",
    "/api/tickets/{id}/case",
    summary="Keep a resolved ticket in the case library",
    role=SUPERVISOR,
    body=CaseBody,
    tag=TAG,
)
async def ticket_case(request: web.Request, body: CaseBody) -> dict[str, Any]:
    agent = require(request, SUPERVISOR)
    await service.mark_case(request.app[CORE], agent, _id(request), body.is_case)
    return {"ok": True}


@api.route(
    "GET",
    "/api/customers/{id}/tickets",
    summary="The customer's open and recent tickets",
    role=AGENT,
    tag=TAG,
)
async def customer_tickets(request: web.Request) -> dict[str, Any]:
    require(request)
    core = request.app[CORE]
    customer_id = _id(request)
    return {"items": await views.customer_tickets(core, customer_id)}
