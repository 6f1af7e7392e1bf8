"""Browser fixtures: the system Chromium driven by Playwright, and a hub served in-process.

Reusable by any end-to-end test (the agent inbox, the customer chat widget, both at once).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from browser_helpers import HubServer, fresh_page

from hub.core import create_hub
from hub.db import create_all
from hub.settings import load_settings
from hub.web.app import create_app


@pytest.fixture
async def hub_server(tmp_path: Path) -> AsyncIterator[HubServer]:
    """The whole web app over a started hub, without any installed plugin."""
    core = create_hub(load_settings(data_dir=tmp_path), load_entry_points=False)
    await create_all(core.engine)
    server = TestServer(create_app(core), host="127.0.0.1")
    await server.start_server()
    try:
        yield HubServer(core, server)
    finally:
        await server.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    """A fresh page at 1280x800; console errors fail the test that asks for ``page_errors``."""
    async with fresh_page(browser) as page:
        yield page
