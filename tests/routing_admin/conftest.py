"""A served hub with an agent, a supervisor and an admin logged in, on each database in turn,
with a plugin strategy installed and the routing events it publishes recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from hub.hookspecs import hookimpl
from hub.models import AuditEntry
from hub.routing.config import CONFIG_TOPIC
from hub.routing.strategies import KeyFunction
from hub.settings import load_settings
from tests.web.web_helpers import Client, Hub, served_hub


class FewestMissed:
    """A plugin strategy: the agent who missed the fewest offers first."""

    @hookimpl
    def hub_register_strategies(self, register: Callable[[str, KeyFunction], None]) -> None:
        register("fewest_missed", lambda agent, queue, rng: agent.missed_offers)


@dataclass
class Admin:
    """The served hub, its logged-in agent, supervisor and admin, and what they changed."""

    hub: Hub
    agent: Client
    supervisor: Client
    admin: Client
    events: list[dict[str, Any]] = field(default_factory=list)

    async def audit(self) -> list[tuple[str, str]]:
        """(action, target) of every audit line about routing, oldest first."""
        async with self.hub.core.sessions() as s:
            rows = (await s.execute(select(AuditEntry.action, AuditEntry.target).where(
                AuditEntry.action.startswith("routing.")).order_by(AuditEntry.id))).all()  # type: ignore[attr-defined]
        return [(action, target) for action, target in rows]


async def send(client: Client, method: str, path: str, body: object = None) -> aiohttp.ClientResponse:
    """Any method, with the session's CSRF token, as the admin screens send it."""
    return await client.http.request(method, client.hub.url(path), json=body,
                                     headers={"X-CSRF-Token": client.csrf})


async def error_of(response: aiohttp.ClientResponse) -> str:
    return str((await response.json())["error"])


PEOPLE = [("1001", "Alice", "agent"), ("9001", "Sam", "supervisor"), ("8001", "Ada", "admin")]


@pytest.fixture
async def served(tmp_path: Path, database_url: str) -> AsyncIterator[Hub]:
    """A started hub on ``database_url`` with agent 1001, supervisor 9001 and admin 8001."""
    settings = load_settings(data_dir=tmp_path / "var", database_url=database_url)
    async with served_hub(settings, PEOPLE, plugins=[FewestMissed()]) as served:
        yield served


@pytest.fixture
async def admin(served: Hub) -> AsyncIterator[Admin]:
    """The three logged-in clients; ``events`` collects what is published on CONFIG_TOPIC."""
    clients = []
    for number in ("1001", "9001", "8001"):
        clients.append(Client(served))
        await clients[-1].login(number)
    state = Admin(served, *clients)

    async def record(_topic: str, payload: dict[str, Any]) -> None:
        state.events.append(payload)

    unsubscribe = served.core.bus.subscribe(CONFIG_TOPIC, record)
    yield state
    unsubscribe()
    for c in clients:
        await c.close()
