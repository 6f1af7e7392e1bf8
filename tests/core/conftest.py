"""Isolated hubs for core tests: just the plugins a test passes, on a fresh SQLite file."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from hub.conformance import reference
from hub.conformance.reference import MemoryPeer
from hub.core import HubCore, create_hub
from hub.db import create_all
from hub.settings import Settings, load_settings

MakeHub = Callable[..., Awaitable[HubCore]]


@pytest.fixture
def memory_address() -> Any:
    """A listening in-memory peer for the reference channel; its address."""
    address = f"core-{uuid.uuid4().hex[:8]}"
    reference.listen(address, MemoryPeer())
    yield address
    reference.unlisten(address)


@pytest.fixture
def hub_settings(tmp_path: Path, memory_address: str) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "var", "database_url": f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}",
            "redis_url": "", "blocked_plugins": [],
            "plugins": {"memory": {"peer": memory_address, "retry_min": 0.02, "retry_max": 0.2}},
        }
        values.update(overrides)
        return load_settings(**values)
    return build


@pytest.fixture
async def make_hub(hub_settings: Callable[..., Settings]) -> AsyncIterator[MakeHub]:
    """``await make_hub(plugin, ...)``: a started hub with those plugins; stopped after the test."""
    started: list[HubCore] = []

    async def make(*plugins: object, **overrides: Any) -> HubCore:
        core = create_hub(hub_settings(**overrides), plugins=list(plugins), load_entry_points=False)
        await create_all(core.engine)
        await core.start()
        started.append(core)
        return core

    yield make
    for core in reversed(started):
        await core.stop()
