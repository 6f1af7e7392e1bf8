"""Admins set, per agent, whether their phone answers an offered call by itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from pydantic import BaseModel

from hub.errors import NotFound
from hub.models import AgentRole
from hub.web.openapi import ApiRegistry

if TYPE_CHECKING:
    from plugins.voice.channel import VoiceChannel


class PhoneBody(BaseModel):
    """One agent's phone as an admin sets it."""

    auto_answer: bool | None
    """True or false for this agent; null: the centre's ``auto_answer``."""


class PhoneView(BaseModel):
    """One agent's phone."""

    agent_id: int
    number: str
    name: str
    auto_answer: bool | None
    """What an admin set for this agent; null: the centre's default."""
    answers_by_itself: bool
    """What the phone does when a call is offered."""


class PhoneList(BaseModel):
    """The centre's default and every agent an admin set apart from it."""

    auto_answer: bool
    phones: list[PhoneView]


def admin_api(channel: VoiceChannel) -> ApiRegistry:
    api = ApiRegistry("voice", "1")
    hub, phones = channel.hub, channel.phones

    async def view(agent_id: int, choice: bool | None) -> PhoneView:
        agent = await hub.agent(agent_id)
        return PhoneView(agent_id=agent_id, number=str(agent["number"]), name=str(agent["name"]),
                         auto_answer=choice,
                         answers_by_itself=phones.auto_answer if choice is None else choice)

    @api.route("GET", "/phones", summary="Agents whose phones answer otherwise than the default",
               role=AgentRole.ADMIN, reply=PhoneList)
    async def list_phones(request: web.Request) -> PhoneList:
        choices = sorted((await phones.choices()).items())
        return PhoneList(auto_answer=phones.auto_answer,
                         phones=[await view(agent_id, choice) for agent_id, choice in choices])

    @api.route("GET", "/phones/{agent_id}", summary="One agent's phone", role=AgentRole.ADMIN,
               reply=PhoneView)
    async def get_phone(request: web.Request) -> PhoneView:
        agent_id = _agent_id(request)
        return await view(agent_id, await phones.choice(agent_id))

    @api.route("PUT", "/phones/{agent_id}", summary="Set whether an agent's phone answers by itself",
               role=AgentRole.ADMIN, body=PhoneBody, reply=PhoneView)
    async def save_phone(request: web.Request, body: PhoneBody) -> PhoneView:
        agent_id = _agent_id(request)
        phone = await view(agent_id, body.auto_answer)  # an unknown agent is refused here
        await phones.choose(agent_id, body.auto_answer)
        setting = "default" if body.auto_answer is None else ("on" if body.auto_answer else "off")
        await hub.audit(request, "phone_saved", f"agent {phone.number}", f"auto_answer={setting}")
        return phone

    return api


def _agent_id(request: web.Request) -> int:
    try:
        return int(request.match_info["agent_id"])
    except ValueError as err:
        raise NotFound("agent") from err
