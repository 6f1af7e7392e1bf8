"""Browser fixtures: the system Chromium driven by Playwright, and a hub served in-process.

Reusable by any end-to-end test (the agent inbox, the customer chat widget, both at once).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from hub.core import HubCore, create_hub
from hub.db import create_all, transaction
from hub.ingest import IngestResult
from hub.messages import InboundMessage
from hub.models import Agent
from hub.settings import load_settings
from hub.web.app import create_app
from hub.web.auth import hash_password

CHROMIUM = "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PASSWORD = "correct horse 1"


@dataclass
class HubServer:
    """A started hub behind a real HTTP server on 127.0.0.1."""

    core: HubCore
    server: TestServer
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    @property
    def base_url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    def url(self, path: str) -> str:
        return self.base_url + path

    async def add_agent(self, number: str, name: str, role: str = "agent", locale: str = "") -> Agent:
        """An agent who can log in with ``PASSWORD``."""
        async with transaction(self.core.sessions) as s:
            agent = Agent(number=number, name=name, role=role, locale=locale,
                          password_hash=hash_password(PASSWORD))
            s.add(agent)
            await s.flush()
            await s.refresh(agent)
        return agent

    async def ingest(self, text: str, *, sender: str, channel: str = "web", thread_key: str = "",
                     **extra: Any) -> IngestResult:
        """A customer message, handed over as the channel plugin would."""
        return await self.core.facade(channel).ingest(InboundMessage(
            channel=channel, external_id=f"{channel}-{next(self._ids)}", sender=sender,
            thread_key=thread_key or sender, text=text, **extra,
        ))


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
async def browser() -> AsyncIterator[Any]:
    """Headless system Chromium (Playwright's own browsers are never downloaded)."""
    if not HAVE_CHROMIUM:
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    """A fresh page at 1280x800; console errors fail the test that asks for ``page_errors``."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = await context.new_page()
    page.errors = []
    page.on("pageerror", lambda err: page.errors.append(str(err)))
    page.on("console", lambda msg: page.errors.append(msg.text) if msg.type == "error" else None)
    try:
        yield page
    finally:
        await context.close()


async def log_in(page: Any, hub_server: HubServer, number: str, password: str = PASSWORD) -> None:
    """Log in through the login form and wait for the inbox to be live."""
    await page.goto(hub_server.url("/login"))
    await page.fill("#number", number)
    await page.fill("#password", password)
    await page.press("#password", "Enter")
    await page.wait_for_url("**/inbox")
    await page.wait_for_selector("#conn.conn-on")
