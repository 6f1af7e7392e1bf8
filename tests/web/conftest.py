"""A hub served in-process with three people on it, and logged-in HTTP clients for them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from web_helpers import Client, Hub, add_agent

from hub.core import create_hub
from hub.db import create_all
from hub.settings import load_settings
from hub.web.app import create_app


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    """A started hub with agents 1001 (Alice), 1002 (Bob) and supervisor 9001 (Sam)."""
    core = create_hub(load_settings(data_dir=tmp_path), load_entry_points=False)
    await create_all(core.engine)
    agents = {
        "1001": await add_agent(core, "1001", "Alice"),
        "1002": await add_agent(core, "1002", "Bob"),
        "9001": await add_agent(core, "9001", "Sam", role="supervisor"),
    }
    server = TestServer(create_app(core))
    await server.start_server()
    try:
        yield Hub(core, server, agents)
    finally:
        await server.close()


@pytest.fixture
async def client(hub: Hub) -> AsyncIterator[object]:
    """``await client()`` -> a fresh, not yet logged-in client; all closed at teardown."""
    made: list[Client] = []

    async def make() -> Client:
        made.append(Client(hub))
        return made[-1]

    yield make
    for c in made:
        await c.close()


@pytest.fixture
async def alice(client) -> Client:  # type: ignore[no-untyped-def]
    c = await client()
    await c.login("1001")
    return c


@pytest.fixture
async def bob(client) -> Client:  # type: ignore[no-untyped-def]
    c = await client()
    await c.login("1002")
    return c


@pytest.fixture
async def sam(client) -> Client:  # type: ignore[no-untyped-def]
    c = await client()
    await c.login("9001")
    return c
