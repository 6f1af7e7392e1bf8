"""Major outages over REST: the ones going on (the inbox banner), declared by supervisors,
ended with one message that answers and closes their tickets in bulk."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from hub.models import AgentRole
from hub.tickets import outages
from hub.web.access import require
from hub.web.api import _id, api
from hub.web.auth import audit, client_ip
from hub.web.keys import CORE

AGENT = AgentRole.AGENT
SUPERVISOR = AgentRole.SUPERVISOR
TAG = "tickets"


class OutageBody(BaseModel):
    """A major outage: where, which service (``*`` for all), what customers are told."""

    region: str = Field(min_length=1, max_length=120)
    service: str = Field(default="*", max_length=60)
    wording: str = Field(min_length=1, max_length=1000)
    expected_end: datetime | None = None


class OutageEnd(BaseModel):
    """The message every linked ticket's customer gets; the outage's wording if empty."""

    message: str = Field(default="", max_length=4000)


@api.route("GET", "/api/outages", summary="Outages going on now (the inbox banner)", role=AGENT, tag=TAG)
async def list_outages(request: web.Request) -> dict[str, Any]:
    require(request)
    rows = await outages.ongoing(request.app[CORE])
    return {"items": [r.model_dump(mode="json") for r in rows]}


@api.route(
    "POST", "/api/outages", summary="Declare a major outage", role=SUPERVISOR, body=OutageBody, tag=TAG
)
async def declare_outage(request: web.Request, body: OutageBody) -> dict[str, Any]:
    agent = require(request, SUPERVISOR)
    core = request.app[CORE]
    outage = await outages.declare(
        core,
        agent,
        region=body.region,
        service=body.service,
        wording=body.wording,
        expected_end=body.expected_end,
    )
    await audit(
        core,
        agent,
        "outage.declare",
        f"outage:{outage.id}",
        f"{body.region} {body.service}",
        ip=client_ip(request),
    )
    return outage.model_dump(mode="json")


@api.route(
    "POST",
    "/api/outages/{id}/end",
    summary="End an outage: answer and close its tickets in bulk",
    role=SUPERVISOR,
    body=OutageEnd,
    tag=TAG,
)
async def end_outage(request: web.Request, body: OutageEnd) -> dict[str, Any]:
    agent = require(request, SUPERVISOR)
    core = request.app[CORE]
    outage_id = _id(request)
    closed = await outages.end(core, agent, outage_id, body.message)
    await audit(
        core, agent, "outage.end", f"outage:{outage_id}", f"{closed} tickets closed", ip=client_ip(request)
    )
    return {"closed": closed}
