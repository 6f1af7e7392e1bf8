"""A served hub with an agent, a supervisor and an admin logged in, on each database in turn,
and the helpers the work-order admin tests share: units made over the API, tickets made by
the ticket service, and the admin audit lines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.models import Agent, AuditEntry, Ticket
from hub.settings import load_settings
from hub.tickets import service
from tests.routing_admin.conftest import error_of, send
from tests.web.web_helpers import Client, Hub, add_agent, served_hub

__all__ = ["Admin", "error_of", "send"]


@dataclass
class Admin:
    """The served hub and its logged-in agent (1001), supervisor (9001) and admin (8001)."""

    hub: Hub
    agent: Client
    supervisor: Client
    admin: Client

    async def audit(self) -> list[tuple[str, str]]:
        """(action, target) of every work-order admin audit line, oldest first."""
        async with self.hub.core.sessions() as s:
            rows = (await s.execute(select(AuditEntry.action, AuditEntry.target).where(
                AuditEntry.action.startswith("tickets.")).order_by(AuditEntry.id))).all()  # type: ignore[attr-defined]
        return [(action, target) for action, target in rows]

    async def get(self, path: str) -> Any:
        """What a supervisor reads at ``path`` (which must answer 200)."""
        response = await self.supervisor.get(path)
        assert response.status == 200, (path, await response.text())
        return await response.json()

    async def write(self, method: str, path: str, body: object) -> dict[str, Any]:
        """An admin's change that must succeed; its reply."""
        response = await send(self.admin, method, path, body)
        assert response.status == 200, (method, path, await response.text())
        return dict(await response.json())

    async def refused(self, method: str, path: str, body: object, status: int = 400) -> tuple[str, str]:
        """An admin's change that must be refused with ``status``: (error id, message)."""
        response = await send(self.admin, method, path, body)
        reply = await response.json()
        assert response.status == status, (method, path, reply)
        return reply["error"], reply["message"]

    async def error(self, method: str, path: str, body: object, status: int = 400) -> str:
        """The error id of an admin's change that must be refused with ``status``."""
        return (await self.refused(method, path, body, status))[0]

    async def unit(self, code: str, kind: str, parent: str = "centre", region: str = "") -> int:
        """A unit added over the API under the unit coded ``parent``; its id."""
        units = {u["code"]: u["id"] for u in (await self.get("/api/admin/units"))["items"]}
        body = {"parent_id": units[parent], "kind": kind, "code": code, "name": code.title(),
                "region": region}
        return int((await self.write("POST", "/api/admin/units", body))["id"])

    async def person(self, number: str, role: str = "agent") -> Agent:
        """A stored agent who is in no unit yet."""
        return await add_agent(self.hub.core, number, f"Person {number}", role)

    async def complaint(self, who: str = "1001", **fields: Any) -> Ticket:
        """A complaint opened by the ticket service, as the agent numbered ``who``."""
        new = service.NewTicket(**{"type": "complaint", "title": "Broadband drops at night",
                                   "level": "general", "kind": "network", **fields})
        return await service.create(self.hub.core, self.hub.agents[who], new)

    async def act(self, who: Agent | str, ticket: Ticket, action: str, **kwargs: Any) -> Ticket:
        agent = self.hub.agents[who] if isinstance(who, str) else who
        return await service.act(self.hub.core, agent, int(ticket.id or 0), action, **kwargs)


PEOPLE = [("1001", "Alice", "agent"), ("9001", "Sam", "supervisor"), ("8001", "Ada", "admin")]


@pytest.fixture
async def served(tmp_path: Path, database_url: str) -> AsyncIterator[Hub]:
    """A started hub on ``database_url`` (its start seeds the work-order defaults) with agent
    1001, supervisor 9001 and admin 8001."""
    settings = load_settings(data_dir=tmp_path / "var", database_url=database_url)
    async with served_hub(settings, PEOPLE) as served:
        yield served


@pytest.fixture
async def admin(served: Hub) -> AsyncIterator[Admin]:
    clients = []
    for number in ("1001", "9001", "8001"):
        clients.append(Client(served))
        await clients[-1].login(number)
    yield Admin(served, *clients)
    for c in clients:
        await c.close()
