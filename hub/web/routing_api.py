"""Routing over REST: offers, my state and status bar, and the supervisors' controls and
wallboard. Live updates of the same things travel over the agent websocket."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from hub.errors import NotFound
from hub.models import Agent, AgentRole, AgentStateSpan
from hub.routing import actions
from hub.routing.state_reasons import reasons_for
from hub.web.access import require
from hub.web.api import _id, api
from hub.web.auth import audit, client_ip
from hub.web.keys import CORE

AGENT = AgentRole.AGENT
SUPERVISOR = AgentRole.SUPERVISOR
StateName = Literal["logged_out", "idle", "busy", "wrap_up", "adjust", "leave", "study", "handover"]


class StateChoice(BaseModel):
    """A state to go to; busy and leave need a ``reason`` code from ``/api/state-reasons``."""

    state: StateName
    reason: str = Field(default="", max_length=40)


class Move(BaseModel):
    """Where a supervisor sends an interaction: a ``queue`` or an ``agent_id``, not both."""

    queue: str | None = Field(default=None, max_length=80)
    agent_id: int | None = None


@api.route("GET", "/api/me/offers", summary="Offers ringing at me now", role=AGENT)
async def my_offers(request: web.Request) -> dict[str, Any]:
    return {"items": await actions.pending_offers(request.app[CORE], require(request))}


@api.route("POST", "/api/offers/{id}/accept", summary="Accept an offer: the interaction becomes mine",
           role=AGENT)
async def accept_offer(request: web.Request) -> dict[str, Any]:
    agent = require(request)
    core = request.app[CORE]
    interaction_id = _id(request)
    await actions.accept_offer(core, agent, interaction_id)
    await audit(core, agent, "offer.accept", f"interaction:{interaction_id}", ip=client_ip(request))
    return {"ok": True}


@api.route("POST", "/api/offers/{id}/decline", summary="Decline an offer (counts as a missed offer)",
           role=AGENT)
async def decline_offer(request: web.Request) -> dict[str, Any]:
    agent = require(request)
    core = request.app[CORE]
    interaction_id = _id(request)
    await actions.decline_offer(core, agent, interaction_id)
    await audit(core, agent, "offer.decline", f"interaction:{interaction_id}", ip=client_ip(request))
    return {"ok": True}


@api.route("POST", "/api/me/next", summary="Ask for the next contact (manual answer)", role=AGENT)
async def next_contact(request: web.Request) -> dict[str, Any]:
    await actions.request_next(request.app[CORE], require(request))
    return {"ok": True}


@api.route("GET", "/api/me/status", summary="My status bar: state, queues, today's figures", role=AGENT)
async def my_status(request: web.Request) -> dict[str, Any]:
    return await actions.status_bar(request.app[CORE], require(request))


@api.route("POST", "/api/me/state", summary="Change my state (idle, busy with a reason, leave...)",
           role=AGENT, body=StateChoice)
async def set_my_state(request: web.Request, body: StateChoice) -> dict[str, Any]:
    agent = require(request)
    core = request.app[CORE]
    await core.states.change(int(agent.id or 0), body.state, reason=body.reason, by=agent.id)
    await audit(core, agent, "agent.state", f"agent:{agent.number}", f"{body.state} {body.reason}".strip(),
                ip=client_ip(request))
    return await actions.status_bar(core, agent)


@api.route("GET", "/api/state-reasons", summary="Reasons to pick for busy or leave (?state=busy|leave)",
           role=AGENT)
async def state_reasons(request: web.Request) -> dict[str, Any]:
    require(request)
    state = request.query.get("state", "busy")
    rows = await reasons_for(request.app[CORE], state)
    return {"items": [{"code": r.code, "label_en": r.label_en, "label_zh_cn": r.label_zh_cn,
                       "limit_minutes": r.limit_minutes} for r in rows]}


@api.route("GET", "/api/agents/states", summary="Every agent's state now", role=SUPERVISOR)
async def agents_states(request: web.Request) -> dict[str, Any]:
    require(request, SUPERVISOR)
    core = request.app[CORE]
    query = (select(Agent.id, Agent.number, Agent.name, AgentStateSpan.state, AgentStateSpan.reason,
                    AgentStateSpan.started_at)
             .outerjoin(AgentStateSpan, (AgentStateSpan.agent_id == Agent.id)
                        & AgentStateSpan.ended_at.is_(None))  # type: ignore[union-attr]
             .where(Agent.active).order_by(Agent.number))  # type: ignore[arg-type]
    async with core.sessions() as s:
        rows = (await s.execute(query)).all()
    return {"items": [{"id": r.id, "number": r.number, "name": r.name, "state": r.state or "logged_out",
                       "reason": r.reason or "", "since": r.started_at.isoformat() if r.started_at else None}
                      for r in rows]}


@api.route("POST", "/api/agents/{id}/state", summary="Force an agent idle, busy or logged out",
           role=SUPERVISOR, body=StateChoice)
async def force_state(request: web.Request, body: StateChoice) -> dict[str, Any]:
    supervisor = require(request, SUPERVISOR)
    core = request.app[CORE]
    agent_id = _id(request)
    async with core.sessions() as s:
        target = await s.get(Agent, agent_id)
    if target is None:
        raise NotFound("agent")
    await core.states.change(agent_id, body.state, reason=body.reason, by=supervisor.id)
    await audit(core, supervisor, "agent.force_state", f"agent:{target.number}",
                f"{body.state} {body.reason}".strip(), ip=client_ip(request))
    return {"ok": True}


@api.route("POST", "/api/interactions/{id}/move", summary="Move an interaction to a queue or an agent",
           role=SUPERVISOR, body=Move)
async def move_interaction(request: web.Request, body: Move) -> dict[str, Any]:
    supervisor = require(request, SUPERVISOR)
    core = request.app[CORE]
    interaction_id = _id(request)
    await actions.move_interaction(core, supervisor, interaction_id, queue=body.queue, agent_id=body.agent_id)
    where = f"queue:{body.queue}" if body.queue is not None else f"agent:{body.agent_id}"
    await audit(core, supervisor, "interaction.move", f"interaction:{interaction_id}", where,
                ip=client_ip(request))
    return {"ok": True}


@api.route("GET", "/api/wallboard", summary="Queues and tiers now: waiting, service level, agents",
           role=SUPERVISOR)
async def get_wallboard(request: web.Request) -> dict[str, Any]:
    require(request, SUPERVISOR)
    routing = request.app[CORE].routing
    if routing.router is not None:
        await routing.publish_board()
    return routing.board or {"type": "wallboard", "at": None, "queues": [], "agents": {}}
