"""A province with one city, a county and its network department, and people in each."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from hub.core import HubCore
from hub.db import transaction
from hub.ingest import ingest
from hub.messages import InboundMessage
from hub.models import Agent, AgentUnit, CustomerIdentity, OrgUnit, Ticket
from hub.tickets import service


@dataclass
class Province:
    core: HubCore
    units: dict[str, int]
    people: dict[str, Agent]

    async def conversation(
        self, text: str = "My broadband drops every night", *, phone: str = "13800138001"
    ) -> int:
        sender = uuid.uuid4().hex[:10]
        result = await ingest(
            self.core,
            InboundMessage(
                channel="chat",
                external_id=uuid.uuid4().hex,
                sender=sender,
                thread_key=sender,
                text=text,
                identities=(("phone", phone),),
            ),
        )
        return result.interaction_id

    async def complaint(self, **fields: Any) -> Ticket:
        interaction_id = fields.pop("interaction_id", None) or await self.conversation()
        new = service.NewTicket(
            **{
                "type": "complaint",
                "title": "Broadband drops at night",
                "level": "general",
                "kind": "network",
                "interaction_id": interaction_id,
                **fields,
            }
        )
        return await service.create(self.core, self.people["li"], new)

    async def act(self, who: str, ticket: Ticket, action: str, **kwargs: Any) -> Ticket:
        return await service.act(self.core, self.people[who], int(ticket.id or 0), action, **kwargs)

    async def ticket(self, ticket_id: int | None) -> Ticket:
        async with self.core.sessions() as s:
            row = await s.get(Ticket, ticket_id)
        assert row is not None
        return row


@pytest.fixture
async def province(hub_core: HubCore) -> Province:
    """Units: centre (seeded), its complaints desk, the Shenzhen city branch, the Nanshan
    county branch and its network department. People: Li (centre agent), Zhang (centre
    supervisor), Chen (Nanshan network staff), Wu (another county's staff)."""
    async with transaction(hub_core.sessions) as s:
        centre = (await s.execute(select(OrgUnit).where(OrgUnit.code == "centre"))).scalars().one()
        units = {"centre": int(centre.id or 0)}
        for code, kind, parent, region in [
            ("shenzhen", "city", "centre", "guangdong/shenzhen"),
            ("nanshan", "county", "shenzhen", "guangdong/shenzhen/nanshan"),
            ("nanshan-network", "department", "nanshan", "guangdong/shenzhen/nanshan"),
            ("futian", "county", "shenzhen", "guangdong/shenzhen/futian"),
        ]:
            unit = OrgUnit(code=code, kind=kind, name=code.title(), parent_id=units[parent], region=region)
            s.add(unit)
            await s.flush()
            units[code] = int(unit.id or 0)
        people = {}
        for key, role, unit_code in [
            ("li", "agent", "centre"),
            ("zhang", "supervisor", "centre"),
            ("chen", "agent", "nanshan-network"),
            ("wu", "agent", "futian"),
        ]:
            agent = Agent(number=uuid.uuid4().hex[:8], name=key.title(), password_hash="", role=role)
            s.add(agent)
            await s.flush()
            s.add(AgentUnit(agent_id=agent.id, unit_id=units[unit_code]))
            people[key] = agent
    return Province(hub_core, units, people)


async def phone_of(core: HubCore, customer_id: int) -> str:
    async with core.sessions() as s:
        return (
            await s.execute(
                select(CustomerIdentity.address).where(
                    CustomerIdentity.customer_id == customer_id, CustomerIdentity.kind == "phone"
                )
            )
        ).scalar_one()
