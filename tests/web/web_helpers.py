"""Helpers for the web tests: the served hub, and HTTP clients that log in like a browser."""

from __future__ import annotations

import contextlib
import functools
import re
import struct
import zlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

import aiohttp
from aiohttp.test_utils import TestServer
from argon2 import PasswordHasher

from hub.core import HubCore, create_hub
from hub.db import create_all, transaction
from hub.ingest import IngestResult
from hub.messages import InboundMessage
from hub.models import Agent
from hub.settings import Settings
from hub.web.app import create_app

PASSWORD = "correct horse 1"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@dataclass
class Hub:
    """The served hub: its core, its base URL, and the people on it by agent number."""

    core: HubCore
    server: TestServer
    agents: dict[str, Agent]

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    async def ingest(self, text: str, *, sender: str = "visitor-1", channel: str = "web",
                     thread_key: str | None = None, external_id: str | None = None,
                     **extra: object) -> IngestResult:
        """A customer message, as a channel would hand it over."""
        self._count = getattr(self, "_count", 0) + 1
        return await self.core.facade(channel).ingest(InboundMessage(
            channel=channel, external_id=external_id or f"{channel}-{self._count}", sender=sender,
            thread_key=thread_key or sender, text=text, **extra,  # type: ignore[arg-type]
        ))


class Client:
    """An HTTP client with its own cookies; after ``login`` it knows the session's CSRF token."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def login(self, number: str, password: str = PASSWORD) -> aiohttp.ClientResponse:
        response = await self.login_attempt(number, password)
        assert response.status == 200 and response.url.path == "/inbox", await response.text()
        match = CSRF_META.search(await response.text())
        assert match, "the inbox page carries the CSRF token"
        self.csrf = match.group(1)
        return response

    async def login_attempt(self, number: str, password: str, *, next_path: str = "",
                            headers: dict[str, str] | None = None) -> aiohttp.ClientResponse:
        form = await self.http.get(self.hub.url("/login"))
        token = re.search(r'name="_csrf" value="([^"]+)"', await form.text())
        assert token
        query = f"?next={next_path}" if next_path else ""
        return await self.http.post(self.hub.url(f"/login{query}"), headers=headers,
                                    data={"_csrf": token.group(1), "number": number, "password": password})

    async def get(self, path: str, **kw: object) -> aiohttp.ClientResponse:
        return await self.http.get(self.hub.url(path), **kw)  # type: ignore[arg-type]

    async def post(self, path: str, json: object = None, *, csrf: str | None = None,
                   **kw: object) -> aiohttp.ClientResponse:
        return await self.send("POST", path, json, csrf=csrf, **kw)

    async def send(self, method: str, path: str, json: object = None, *, csrf: str | None = None,
                   **kw: object) -> aiohttp.ClientResponse:
        """A state-changing request (POST, PUT, DELETE) with this client's CSRF token, a given
        one, or none (``csrf=""``)."""
        headers = {"X-CSRF-Token": self.csrf if csrf is None else csrf} if csrf != "" else {}
        return await self.http.request(method, self.hub.url(path), json=json, headers=headers,
                                       **kw)  # type: ignore[arg-type]

    async def ws(self, origin: str | None = None) -> aiohttp.ClientWebSocketResponse:
        origin = origin or f"http://{self.hub.server.host}:{self.hub.server.port}"
        return await self.http.ws_connect(self.hub.url("/ws/agent"), origin=origin)

    async def close(self) -> None:
        await self.http.close()


# Argon2id at its least cost for the agents the tests seed. A login verifies with the cost
# stored in the hash, so each of the hundreds of logins in a run takes well under a
# millisecond instead of about 0.1 s of CPU. A login checks the same (a wrong password is
# refused); passwords hashed at the hub's own cost are logged in with in tests/cli.
_TEST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@functools.cache
def password_hash() -> str:
    """PASSWORD hashed once per test run, with Argon2id at its least cost."""
    return _TEST_HASHER.hash(PASSWORD)


async def add_agent(core: HubCore, number: str, name: str, role: str = "agent", locale: str = "") -> Agent:
    async with transaction(core.sessions) as s:
        agent = Agent(number=number, name=name, role=role, locale=locale,
                      password_hash=password_hash())
        s.add(agent)
        await s.flush()
        await s.refresh(agent)
    return agent


@contextlib.asynccontextmanager
async def served_hub(settings: Settings, people: Iterable[tuple[str, str, str]],
                     plugins: Iterable[object] = ()) -> AsyncIterator[Hub]:
    """A started hub served over HTTP with ``people`` (number, name, role), all with PASSWORD."""
    core = create_hub(settings, plugins=list(plugins), load_entry_points=False)
    await create_all(core.engine)
    agents = {number: await add_agent(core, number, name, role=role) for number, name, role in people}
    server = TestServer(create_app(core))
    await server.start_server()
    try:
        yield Hub(core, server, agents)
    finally:
        await server.close()


def png() -> bytes:
    """A 1x1 PNG, real enough for the file store's type sniffing."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))
