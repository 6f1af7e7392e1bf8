"""A hub served in-process with three people on it, and logged-in HTTP clients for them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from web_helpers import Client, Hub, served_hub

from hub.settings import load_settings


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    """A started hub with agents 1001 (Alice), 1002 (Bob) and supervisor 9001 (Sam)."""
    people = [("1001", "Alice", "agent"), ("1002", "Bob", "agent"), ("9001", "Sam", "supervisor")]
    async with served_hub(load_settings(data_dir=tmp_path), people) as served:
        yield served


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
