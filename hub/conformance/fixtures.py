"""Pytest fixtures of the channel conformance kit, loaded as the ``contacthub_conformance`` plugin.

A channel plugin's test module provides ``channel_plugin`` (the module or object with its
hook implementations) and ``peer`` (a ``PeerDriver``), optionally ``channel_settings`` (its
``[plugins.<name>]`` section) and ``channel_name`` (when the plugin registers several
channels). The kit builds the rest: a started hub with only that plugin on a fresh SQLite
database, the channel instance, and on request an HTTP server for the channel's webhooks.
Async fixtures are declared through pytest-asyncio, so the kit works in strict mode too.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from hub.channel import Channel
from hub.conformance.helpers import EventRecorder
from hub.core import HubCore, create_hub
from hub.db import create_all
from hub.plugins import call_register, create_plugin_manager
from hub.settings import load_settings


@dataclass(frozen=True, slots=True)
class ConformanceServer:
    """The HTTP server in front of the channel's sub-app: ``url`` is the hub's base URL and
    ``channel_url`` where the channel's routes live (``<url>/channels/<name>/``)."""

    url: str
    channel_url: str
    app: web.Application


@pytest.fixture
def channel_settings() -> dict[str, Any]:
    """The channel's ``[plugins.<name>]`` section; override it in the plugin's tests."""
    return {}


@pytest.fixture
def channel_name(channel_plugin: object) -> str:
    """The name of the channel under test: the only channel ``channel_plugin`` registers.

    Override it when the plugin registers several."""
    pm = create_plugin_manager(load_entry_points=False, extra=[channel_plugin])
    names = [cls.name for _plugin, cls in call_register(pm, "hub_register_channels")]
    if len(names) != 1:
        raise pytest.UsageError(
            f"the plugin registers channels {names}; provide a channel_name fixture naming one"
        )
    return str(names[0])


@pytest.fixture
def conformance_socket() -> Iterator[socket.socket]:
    """A listening socket on a free loopback port, bound before the hub so its URL is known."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


@pytest.fixture
def conformance_events() -> EventRecorder:
    """Every interaction and message event the hub under test published, in order."""
    return EventRecorder()


@pytest_asyncio.fixture
async def conformance_hub(
    channel_plugin: object, channel_name: str, channel_settings: dict[str, Any],
    conformance_events: EventRecorder, conformance_socket: socket.socket, tmp_path: Path,
) -> AsyncIterator[HubCore]:
    """A started hub with only the plugin under test (and the kit's event recorder), on a
    fresh SQLite database under ``tmp_path``; stopped after the test."""
    port = conformance_socket.getsockname()[1]
    settings = load_settings(
        data_dir=tmp_path / "var", database_url=f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}",
        redis_url="", blocked_plugins=[], public_url=f"http://127.0.0.1:{port}",
        plugins={channel_name: dict(channel_settings)},
        # No Celery worker here: a channel's own background jobs run on the hub's loop.
        run_jobs_in_process=True,
    )
    core = create_hub(settings, plugins=[channel_plugin, conformance_events], load_entry_points=False)
    await create_all(core.engine)
    await core.start()
    try:
        yield core
    finally:
        await core.stop()


@pytest.fixture
def channel_under_test(conformance_hub: HubCore, channel_name: str) -> Channel:
    """The started channel instance the hub made from the plugin's class."""
    return conformance_hub.channel(channel_name)


@pytest_asyncio.fixture
async def conformance_server(
    conformance_hub: HubCore, channel_under_test: Channel, conformance_socket: socket.socket,
) -> AsyncIterator[ConformanceServer]:
    """Serve the channel's ``routes()`` sub-app under ``/channels/<name>/`` over real HTTP, at
    the hub's ``public_url``, so webhook and websocket peers can reach it."""
    app = web.Application()
    sub_app = channel_under_test.routes()
    if sub_app is not None:
        app.add_subapp(f"/channels/{channel_under_test.name}/", sub_app)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.SockSite(runner, conformance_socket).start()
    url = conformance_hub.settings.public_url
    try:
        yield ConformanceServer(url, f"{url}/channels/{channel_under_test.name}/", app)
    finally:
        await runner.cleanup()
