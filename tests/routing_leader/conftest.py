"""Contenders on each database, stopped or killed when the test ends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from .support import Contender, ContenderProcess

Contend = Callable[..., Awaitable[Contender]]
Spawn = Callable[[], Awaitable[ContenderProcess]]


@pytest.fixture
async def contend(database_url: str) -> AsyncIterator[Contend]:
    """``await contend(name=..., refuse=...)``: a started contender on the test database."""
    made: list[Contender] = []

    async def make(**options: Any) -> Contender:
        contender = Contender(database_url, **options)
        made.append(contender)
        await contender.start()
        return contender

    yield make
    for contender in made:
        await contender.leadership.stop()


@pytest.fixture
async def spawn(database_url: str) -> AsyncIterator[Spawn]:
    """``await spawn()``: a contender process on the test database, killed at the end."""
    made: list[ContenderProcess] = []

    async def make() -> ContenderProcess:
        process = await ContenderProcess.spawn(database_url)
        made.append(process)
        return process

    yield make
    for process in made:
        await process.kill()
