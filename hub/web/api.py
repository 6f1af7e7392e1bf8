"""The agents' REST API. Every route states the least role it needs."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from hub import inbox
from hub.db import transaction
from hub.errors import InvalidRequest, NotFound, PermissionDenied
from hub.history import customer_panel, messages_after
from hub.messages import AttachmentRef
from hub.models import Agent, AgentRole, Attachment, Interaction, Message
from hub.outbound import send_message
from hub.web.access import require
from hub.web.auth import audit, client_ip
from hub.web.keys import API, CORE
from hub.web.openapi import ApiRegistry

api = ApiRegistry("contacthub", "0.1.0")
AGENT = AgentRole.AGENT


class Me(BaseModel):
    """The logged-in agent."""

    id: int
    number: str
    name: str
    role: str
    locale: str


class LocaleChoice(BaseModel):
    """The language the agent's screens are shown in."""

    locale: Literal["en", "zh_CN"]


class Reply(BaseModel):
    """An agent's reply; ``client_id`` makes a resend after a network error harmless."""

    text: str = Field(default="", max_length=10_000)
    client_id: str = Field(default="", max_length=64, pattern=r"^[A-Za-z0-9_-]*$")
    attachment_ids: list[int] = Field(default_factory=list, max_length=10)


class Closing(BaseModel):
    """How the conversation ended."""

    disposition: str = Field(min_length=1, max_length=40)
    note: str = Field(default="", max_length=2000)


class ReadUpTo(BaseModel):
    """The agent has seen every message up to ``up_to_seq``."""

    up_to_seq: int = Field(ge=0)


class Stored(BaseModel):
    """The id of what was stored."""

    id: int


def _id(request: web.Request, name: str = "id") -> int:
    try:
        return int(request.match_info[name])
    except ValueError as err:
        raise NotFound("interaction") from err


@api.route("GET", "/api/me", summary="Who am I", role=AGENT, reply=Me)
async def get_me(request: web.Request) -> Me:
    agent = require(request)
    return Me(id=agent.id or 0, number=agent.number, name=agent.name, role=agent.role,
              locale=agent.locale)


@api.route("POST", "/api/me/locale", summary="Choose my language (en or zh_CN)", role=AGENT,
           body=LocaleChoice)
async def set_my_locale(request: web.Request, body: LocaleChoice) -> web.StreamResponse:
    agent = require(request)
    core = request.app[CORE]
    async with transaction(core.sessions) as s:
        row = await s.get(Agent, agent.id)
        if row is None:
            raise NotFound("agent")
        row.locale = body.locale
        s.add(row)
    await audit(core, agent, "agent.locale", f"agent:{agent.number}", body.locale, ip=client_ip(request))
    response = web.json_response({"ok": True, "locale": body.locale})
    response.set_cookie("contacthub_locale", body.locale, samesite="Lax", path="/", max_age=365 * 86400)
    return response


@api.route("GET", "/api/interactions", summary="Waiting interactions or mine (?view=waiting|mine)",
           role=AGENT)
async def list_interactions(request: web.Request) -> dict[str, Any]:
    agent = require(request)
    view = request.query.get("view", "waiting")
    core = request.app[CORE]
    return {"items": await inbox.list_interactions(core, agent, view),
            "counts": await inbox.counts(core, agent)}


@api.route("GET", "/api/interactions/{id}", summary="One interaction with its transcript", role=AGENT)
async def get_interaction(request: web.Request) -> dict[str, Any]:
    agent = require(request)
    core = request.app[CORE]
    interaction = await inbox.get_interaction(core, agent, _id(request))
    after = int(request.query.get("after_seq", "0") or 0)
    async with core.sessions() as s:
        messages = await messages_after(s, interaction.id or 0, after, limit=1000)
    return {"interaction": interaction.model_dump(mode="json"), "messages": messages,
            "may_write": inbox.may_write(agent, interaction)}


@api.route("POST", "/api/interactions/{id}/take", summary="Take a waiting interaction", role=AGENT)
async def take_interaction(request: web.Request) -> dict[str, Any]:
    agent = require(request)
    core = request.app[CORE]
    interaction_id = _id(request)
    await inbox.get_interaction(core, agent, interaction_id)
    await inbox.take(core, agent, interaction_id)
    await audit(core, agent, "interaction.take", f"interaction:{interaction_id}", ip=client_ip(request))
    return {"ok": True}


@api.route("POST", "/api/interactions/{id}/messages", summary="Reply to the customer", role=AGENT,
           body=Reply, reply=Stored)
async def post_reply(request: web.Request, body: Reply) -> Stored:
    agent = require(request)
    core = request.app[CORE]
    interaction = await inbox.get_interaction(core, agent, _id(request))
    if not inbox.may_write(agent, interaction):
        raise PermissionDenied("take the conversation before replying")
    refs = await _own_uploads(request, body.attachment_ids)
    message_id = await send_message(
        core, interaction.id or 0, body.text, agent_id=agent.id, author_name=agent.name,
        client_id=body.client_id, attachments=refs,
    )
    await audit(core, agent, "message.reply", f"interaction:{interaction.id}",
                f"message {message_id}", ip=client_ip(request))
    return Stored(id=message_id)


async def _own_uploads(request: web.Request, ids: list[int]) -> tuple[AttachmentRef, ...]:
    if not ids:
        return ()
    agent = require(request)
    async with request.app[CORE].sessions() as s:
        rows = (await s.execute(select(Attachment).where(
            Attachment.id.in_(ids), Attachment.message_id.is_(None),  # type: ignore[union-attr]
            Attachment.uploaded_by == f"agent:{agent.id}",
        ))).scalars().all()
    if len(rows) != len(set(ids)):
        raise InvalidRequest("bad_attachment", "an attachment is missing or not yours")
    return tuple(AttachmentRef(a.sha256, a.filename, a.content_type, a.size) for a in rows)


@api.route("POST", "/api/interactions/{id}/close", summary="Close with a disposition", role=AGENT,
           body=Closing)
async def close_interaction(request: web.Request, body: Closing) -> dict[str, Any]:
    agent = require(request)
    core = request.app[CORE]
    interaction_id = _id(request)
    await inbox.get_interaction(core, agent, interaction_id)
    await inbox.close(core, agent, interaction_id, body.disposition, body.note)
    await audit(core, agent, "interaction.close", f"interaction:{interaction_id}", body.disposition,
                ip=client_ip(request))
    return {"ok": True}


@api.route("POST", "/api/interactions/{id}/read", summary="Mark messages read", role=AGENT,
           body=ReadUpTo)
async def mark_read(request: web.Request, body: ReadUpTo) -> dict[str, Any]:
    agent = require(request)
    await inbox.mark_read_by_agent(request.app[CORE], agent, _id(request), body.up_to_seq)
    return {"ok": True}


@api.route("GET", "/api/customers/{id}", summary="Customer panel: identity and contact history",
           role=AGENT)
async def get_customer(request: web.Request) -> dict[str, Any]:
    agent = require(request)
    core = request.app[CORE]
    customer_id = _id(request)
    if not inbox.is_supervisor(agent):
        await _agent_serves_customer(request, customer_id)
    async with core.sessions() as s:
        panel = await customer_panel(s, customer_id, unmasked=inbox.is_supervisor(agent))
    if not panel:
        raise NotFound("customer")
    await audit(core, agent, "customer.view", f"customer:{customer_id}", ip=client_ip(request))
    # Where the agent may start a contact from the panel (click-to-call).
    panel["contact_channels"] = sorted(name for name, channel in core.channels.items()
                                       if channel.capabilities.can_initiate)
    return panel


async def _agent_serves_customer(request: web.Request, customer_id: int) -> None:
    """An agent sees a customer only while one of the customer's conversations is theirs
    or waiting; supervisors see everyone."""
    agent = require(request)
    async with request.app[CORE].sessions() as s:
        rows = (await s.execute(select(Interaction).where(
            Interaction.customer_id == customer_id,
            Interaction.closed_at.is_(None),  # type: ignore[union-attr]
        ))).scalars().all()
    if not any(inbox.may_read(agent, i) for i in rows):
        raise PermissionDenied("this customer is not in one of your conversations")


@api.route("GET", "/api/dispositions", summary="Disposition categories", role=AGENT)
async def list_dispositions(request: web.Request) -> dict[str, Any]:
    require(request)
    rows = await inbox.dispositions(request.app[CORE])
    return {"items": [{"code": d.code, "en": d.label_en, "zh_CN": d.label_zh_cn} for d in rows]}


@api.route("POST", "/api/files", summary="Upload a file to attach to a reply (multipart 'file')",
           role=AGENT, reply=Stored)
async def upload_file(request: web.Request) -> Stored:
    agent = require(request)
    core = request.app[CORE]
    data, filename = await read_upload(request, core.settings.upload_max_bytes)
    ref = core.files.store(data, filename)
    async with core.sessions.begin() as s:
        row = Attachment(sha256=ref.sha256, filename=ref.filename, content_type=ref.content_type,
                         size=ref.size, uploaded_by=f"agent:{agent.id}")
        s.add(row)
        await s.flush()
        attachment_id = row.id or 0
    return Stored(id=attachment_id)


async def read_upload(request: web.Request, max_bytes: int) -> tuple[bytes, str]:
    """Read the multipart field ``file``, refusing more than ``max_bytes`` while reading."""
    if request.content_length is not None and request.content_length > max_bytes + 64 * 1024:
        raise InvalidRequest("file_too_large", f"file is larger than {max_bytes} bytes", status=413)
    reader = await request.multipart()
    async for part in reader:
        if getattr(part, "name", None) != "file":
            continue
        chunks, size = [], 0
        while chunk := await part.read_chunk(64 * 1024):  # type: ignore[union-attr]
            size += len(chunk)
            if size > max_bytes:
                raise InvalidRequest("file_too_large", f"file is larger than {max_bytes} bytes",
                                     status=413)
            chunks.append(chunk)
        return b"".join(chunks), part.filename or "file"  # type: ignore[union-attr]
    raise InvalidRequest("no_file", "send the file in a multipart field named 'file'")


@api.route("GET", "/api/files/{id}", summary="Download an attachment", role=AGENT)
async def download_file(request: web.Request) -> web.StreamResponse:
    agent = require(request)
    core = request.app[CORE]
    async with core.sessions() as s:
        row = (await s.execute(
            select(Attachment, Message.interaction_id)
            .outerjoin(Message, Message.id == Attachment.message_id)
            .where(Attachment.id == _id(request))
        )).one_or_none()
    if row is None:
        raise NotFound("file")
    attachment, interaction_id = row
    if interaction_id is not None:
        await inbox.get_interaction(core, agent, interaction_id)
    elif attachment.uploaded_by != f"agent:{agent.id}":
        raise NotFound("file")
    return file_response(core.files.path(attachment.sha256), attachment.filename, attachment.content_type)


def file_response(path: Any, filename: str, content_type: str) -> web.FileResponse:
    """Serve a stored file as a download, never rendered inline as a page."""
    response = web.FileResponse(path)
    response.content_type = content_type
    quoted = filename.encode("utf-8").decode("latin-1", "replace").replace('"', "")
    response.headers["Content-Disposition"] = f'attachment; filename="{quoted}"'
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


@api.route("GET", "/api/health", summary="Channels and their health", role=AgentRole.SUPERVISOR)
async def get_health(request: web.Request) -> dict[str, Any]:
    return {"channels": await request.app[CORE].health()}


@api.route("GET", "/api/openapi.json", summary="This document", role=None, tag="meta")
async def get_openapi(request: web.Request) -> dict[str, Any]:
    return request.app[API].document()
from hub.web import admin_routing, admin_routing_lists  # noqa: E402, F401  (their routes join this API)
