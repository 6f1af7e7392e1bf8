"""Helpers for end-to-end tests: a served hub to drive, and logging in through the form."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp.test_utils import TestServer

from hub.core import HubCore
from hub.db import transaction
from hub.ingest import IngestResult
from hub.messages import InboundMessage
from hub.models import Agent
from tests.web.web_helpers import PASSWORD, password_hash


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
                          password_hash=password_hash())
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


async def log_in(page: Any, hub_server: HubServer, number: str, password: str = PASSWORD) -> None:
    """Log in through the login form and wait for the inbox to be live."""
    await page.goto(hub_server.url("/login"))
    await page.fill("#number", number)
    await page.fill("#password", password)
    await page.press("#password", "Enter")
    await page.wait_for_url("**/inbox")
    await page.wait_for_selector("#conn.conn-on")


@contextlib.asynccontextmanager
async def fresh_page(browser: Any, height: int = 800, **options: Any) -> AsyncIterator[Any]:
    """A page in a context of its own at 1280 x ``height``; ``page.errors`` collects script
    errors and console errors."""
    context = await browser.new_context(viewport={"width": 1280, "height": height}, locale="en-US",
                                        **options)
    page = await context.new_page()
    page.errors = []
    page.on("pageerror", lambda err: page.errors.append(str(err)))
    page.on("console", lambda msg: page.errors.append(msg.text) if msg.type == "error" else None)
    try:
        yield page
    finally:
        await context.close()
