"""Live controls over REST: what can be done to a live interaction (hold a call, transfer it,
listen in) and doing it. The channel declares its controls and does them; the hub checks
who may, and keeps the audit line."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from hub import inbox
from hub.channel import Control
from hub.errors import ChannelError, InvalidRequest, NotFound, PermissionDenied
from hub.models import Agent, AgentStateSpan, CustomerIdentity, Interaction, Queue, utcnow
from hub.web.access import require
from hub.web.api import AGENT, _id, api
from hub.web.auth import audit, client_ip
from hub.web.keys import CORE


class ContactRequest(BaseModel):
    """Start a contact with the customer: on ``channel``, at one of their addresses."""

    channel: str = Field(min_length=1, max_length=40)
    identity_id: int


class ControlRequest(BaseModel):
    """The values the control asks for (``Control.params``), by name."""

    params: dict[str, str] = Field(default_factory=dict, max_length=10)


def usable(agent: Agent, interaction: Interaction, control: Control) -> bool:
    """A supervisor's control is for supervisors on anyone's interaction; the others are for
    the agent who holds it."""
    if control.supervisor:
        return inbox.is_supervisor(agent)
    return interaction.agent_id == agent.id


def _controls(request: web.Request, interaction: Interaction) -> tuple[Control, ...]:
    channel = request.app[CORE].channels.get(interaction.channel)
    return channel.controls() if channel is not None else ()


@api.route("GET", "/api/interactions/{id}/live",
           summary="A live interaction's state and the controls I may use on it", role=AGENT)
async def get_live(request: web.Request) -> dict[str, Any]:
    agent = require(request)
    core = request.app[CORE]
    interaction = await inbox.get_interaction(core, agent, _id(request))
    channel = core.channels.get(interaction.channel)
    live = await channel.live(interaction.id or 0) if channel is not None else None
    controls = [asdict(c) for c in _controls(request, interaction) if usable(agent, interaction, c)]
    asks_queue = [c for c in controls if tuple(c["params"][:1]) == ("queue",) and not c["options"]]
    if asks_queue:
        queues = await _queues(core)
        for control in asks_queue:
            control["options"] = queues
    record = dict(interaction.record)
    if record:
        record["wrap_up_seconds"] = await wrap_up_seconds(core, interaction)
    return {"live": live, "controls": controls, "record": record}


async def _queues(core: Any) -> list[tuple[str, str]]:
    """The centre's queues, for a control whose first param is ``queue`` (transfer to one,
    consult one): the agent picks from them rather than typing a name."""
    async with core.sessions() as s:
        rows = (await s.execute(select(Queue.name, Queue.title).order_by(Queue.name))).all()
    return [(name, f"{title} ({name})" if title and title != name else name) for name, title in rows]


async def wrap_up_seconds(core: Any, interaction: Interaction) -> float:
    """How long its agent spent in wrap-up for this contact so far (a span still open counts
    to now); read through the agent's spans since the contact began, which are indexed."""
    if interaction.agent_id is None:
        return 0.0
    since = interaction.assigned_at or interaction.created_at
    async with core.sessions() as s:
        spans = (await s.execute(select(AgentStateSpan.started_at, AgentStateSpan.ended_at).where(
            AgentStateSpan.agent_id == interaction.agent_id, AgentStateSpan.started_at >= since,
            AgentStateSpan.state == "wrap_up", AgentStateSpan.interaction_id == interaction.id))).all()
    now = utcnow()
    return round(sum(((end or now) - start).total_seconds() for start, end in spans), 1)


@api.route("POST", "/api/customers/{id}/contacts",
           summary="Start a contact with the customer (click-to-call): the interaction is mine", role=AGENT,
           body=ContactRequest)
async def start_contact(request: web.Request, body: ContactRequest) -> dict[str, Any]:
    from hub.web.api import _agent_serves_customer

    agent = require(request)
    core = request.app[CORE]
    customer_id = _id(request)
    if not inbox.is_supervisor(agent):
        await _agent_serves_customer(request, customer_id)
    channel = core.channels.get(body.channel)
    if channel is None or not channel.capabilities.can_initiate:
        raise InvalidRequest("cannot_initiate", f"contacts cannot be started on {body.channel!r}")
    async with core.sessions() as s:
        identity = await s.get(CustomerIdentity, body.identity_id)
    if identity is None or identity.customer_id != customer_id:
        raise NotFound("address")
    try:
        interaction_id = await channel.initiate(customer_id, int(agent.id or 0), identity.address)
    except ChannelError as err:
        raise InvalidRequest("contact_failed", str(err), status=409) from err
    await audit(core, agent, "contact.start", f"interaction:{interaction_id}",
                f"{body.channel} customer:{customer_id}", ip=client_ip(request))
    return {"interaction_id": interaction_id}


@api.route("GET", "/api/interactions/{id}/media/{name}",
           summary="Play a file of an interaction's record (a call's recording)", role=AGENT)
async def get_media(request: web.Request) -> web.StreamResponse:
    agent = require(request)
    core = request.app[CORE]
    interaction = await inbox.get_interaction(core, agent, _id(request))
    name = request.match_info["name"]
    item = next((m for m in interaction.record.get("media", []) if m.get("name") == name), None)
    channel = core.channels.get(interaction.channel)
    path = await channel.media(interaction.id or 0, name) if channel is not None and item else None
    if path is None:
        raise NotFound("media")
    await audit(core, agent, "interaction.media", f"interaction:{interaction.id}", name,
                ip=client_ip(request))
    # A FileResponse answers Range requests: the player seeks without fetching the whole call.
    return web.FileResponse(path, headers={
        "Content-Type": str(item.get("content_type") or "application/octet-stream"),
        "Content-Disposition": "inline", "Cache-Control": "private, no-store"})


@api.route("POST", "/api/interactions/{id}/controls/{action}",
           summary="Use a live control (hold, mute, transfer, listen...) on an interaction", role=AGENT,
           body=ControlRequest)
async def use_control(request: web.Request, body: ControlRequest) -> dict[str, Any]:
    agent = require(request)
    core = request.app[CORE]
    interaction = await inbox.get_interaction(core, agent, _id(request))
    action = request.match_info["action"]
    control = next((c for c in _controls(request, interaction) if c.action == action), None)
    if control is None:
        raise NotFound("control")
    if not usable(agent, interaction, control):
        raise PermissionDenied("only supervisors may do that" if control.supervisor
                               else "only the agent who has this contact may do that")
    missing = [name for name in control.params if not body.params.get(name, "").strip()]
    if missing:
        raise InvalidRequest("missing_params", f"give {', '.join(missing)} for {control.label}")
    params = {name: body.params[name].strip() for name in control.params}
    try:
        live = await core.channel(interaction.channel).control(
            interaction.id or 0, action, agent_id=int(agent.id or 0), params=params)
    except ChannelError as err:
        # The person's words, not a server failure: the call is over, the number refused...
        raise InvalidRequest("control_failed", str(err), status=409) from err
    shown = {k: ("…" if k in control.private else v) for k, v in params.items()}
    await audit(core, agent, f"control.{action}", f"interaction:{interaction.id}",
                " ".join(f"{k}={v}" for k, v in shown.items()), ip=client_ip(request))
    return {"live": live}
