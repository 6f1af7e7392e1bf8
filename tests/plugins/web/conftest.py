"""A hub with only the web chat plugin, served over real HTTP on the port its public_url names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from webchat_support import SHOP, Chat, free_port

import plugins.web
from hub.core import create_hub
from hub.db import create_all
from hub.settings import load_settings
from hub.web.app import create_app


@pytest.fixture
def web_settings() -> dict[str, Any]:
    """The ``[plugins.web]`` section the hub is built with; tests override what they need."""
    return {"allowed_origins": [SHOP], "max_upload_bytes": 4096, "messages_per_minute": 1000}


@pytest.fixture
async def chat(tmp_path: Path, web_settings: dict[str, Any]) -> AsyncIterator[Chat]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = load_settings(
        data_dir=tmp_path / "var", database_url=f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}",
        redis_url="", public_url=url, plugins={"web": web_settings},
    )
    core = create_hub(settings, plugins=[plugins.web], load_entry_points=False)
    await create_all(core.engine)
    core.presence[1] = 1  # one agent online, until a test says otherwise
    client = TestClient(TestServer(create_app(core), host="127.0.0.1", port=port))
    await client.start_server()
    try:
        yield Chat(core, client, url)
    finally:
        await client.close()
