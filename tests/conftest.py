"""Fixtures every test can use: the two databases, the test servers, and started hubs.

``scripts/test`` starts private PostgreSQL and Redis servers and exports their URLs;
without them the PostgreSQL half of the suite is skipped (and fails under CI).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import pytest
from sqlalchemy.engine import URL, make_url

from hub.core import HubCore, create_hub
from hub.migrate import upgrade, upgrade_sync
from hub.settings import load_settings

POSTGRES_ENV = "CONTACTHUB_TEST_POSTGRES_URL"
REDIS_ENV = "CONTACTHUB_TEST_REDIS_URL"


class MakeHub(Protocol):
    def __call__(
        self, *, database_url: str, plugins: list[object] | None = None, **overrides: Any
    ) -> Awaitable[HubCore]: ...


def _test_server(env: str, what: str) -> str:
    url = os.environ.get(env)
    if url:
        return url
    if os.environ.get("CI"):
        pytest.fail(f"{env} is not set: under CI the tests must run through scripts/test")
    pytest.skip(f"no {what} server: run the tests with `bash scripts/test` to include them")


def pytest_configure(config: pytest.Config) -> None:
    # The hub calls SQLAlchemy's session.execute on purpose (rows, not models); SQLModel
    # warns on every call, which buries the warnings that matter.
    config.addinivalue_line(
        "filterwarnings", "ignore:(?s).*You probably want to use `session.exec:DeprecationWarning"
    )


@pytest.fixture(scope="session", autouse=True)
def _isolated_environment() -> Iterator[None]:
    """A developer's own CONTACTHUB_* settings must not leak into the hubs tests build."""
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("CONTACTHUB_") and not name.startswith("CONTACTHUB_TEST_"):
                mp.delenv(name)
        yield


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test PostgreSQL server's maintenance database, as an asyncpg SQLAlchemy URL."""
    return _test_server(POSTGRES_ENV, "PostgreSQL")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The test Redis server, ``redis://127.0.0.1:PORT/0``.

    Under pytest-xdist each worker gets a Redis server of its own, started like the one
    ``scripts/test`` starts: a pub/sub channel (the hub's event bus) is one for the whole
    server, whatever the database number, so tests running side by side would hear each
    other's events."""
    url = _test_server(REDIS_ENV, "Redis")
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        yield url
        return
    with _private_redis(tmp_path_factory.mktemp("redis")) as private:
        yield private


@contextlib.contextmanager
def _private_redis(directory: Path) -> Iterator[str]:
    for _attempt in range(5):
        port = _free_port()
        server = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
             "--dir", str(directory), "--logfile", str(directory / "redis.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if _redis_answers(server, port):
                yield f"redis://127.0.0.1:{port}/0"
                return
        finally:
            server.terminate()
            server.wait(10)
    pytest.fail(f"a private Redis server did not start: {(directory / 'redis.log').read_text()[-2000:]}")


def _redis_answers(server: subprocess.Popen[bytes], port: int) -> bool:
    """Whether the server answers PING within 10 s (False once it exited: the port was taken)."""
    deadline = time.monotonic() + 10
    while server.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            if sock.recv(64).startswith(b"+PONG"):
                return True
        time.sleep(0.05)
    return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


DATABASES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(params=DATABASES)
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database, once on SQLite and once on PostgreSQL: a file in ``tmp_path``, or
    a fresh database on the test server, dropped afterwards. For the migrations' own tests."""
    async with _database(request, tmp_path, template=None) as url:
        yield url


@pytest.fixture(params=DATABASES)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database with the newest schema and no rows, once on SQLite and once on PostgreSQL.

    Copied from one migrated per test session (a file copy; ``CREATE DATABASE ... TEMPLATE``)
    rather than migrated per test: the migrations' cost, paid once instead of hundreds of
    times. Running the migrations again on it is a no-op, as on any up-to-date database."""
    template = request.getfixturevalue(f"migrated_{request.param}")
    async with _database(request, tmp_path, template=template) as url:
        yield url


@contextlib.asynccontextmanager
async def _database(request: pytest.FixtureRequest, tmp_path: Path,
                    template: str | None) -> AsyncIterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "hub.sqlite"
        if template is not None:
            shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    async with _server_database(request.getfixturevalue("postgres_url"), template) as url:
        yield url


@pytest.fixture
async def server_database_url(postgres_url: str, migrated_postgresql: str) -> AsyncIterator[str]:
    """A database with the newest schema on the PostgreSQL server only: for several hubs that
    share one database as a centre's processes do. (On one SQLite file, two hubs in one test
    process would stall each other: their statements run on the one event loop's thread.)"""
    async with _server_database(postgres_url, migrated_postgresql) as url:
        yield url


@contextlib.asynccontextmanager
async def _server_database(postgres_url: str, template: str | None) -> AsyncIterator[str]:
    server = make_url(postgres_url)
    name = f"test_{uuid.uuid4().hex[:16]}"
    await _admin(server, f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        # FORCE: a hub still connected (torn down after this fixture) must not block the drop.
        await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _aside(fn: Any, *args: Any) -> Any:
    """Run ``fn`` on a thread of its own: session fixtures are first asked for from inside a
    test's running event loop, where neither ``asyncio.run`` nor the migrations may run."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args).result()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file migrated once per session; tests get copies."""
    path = tmp_path_factory.mktemp("template") / "hub.sqlite"
    _aside(upgrade_sync, f"sqlite+aiosqlite:///{path}")
    return str(path)


@pytest.fixture(scope="session")
def migrated_postgresql(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL database migrated once per session, the template tests' databases copy."""
    server = make_url(postgres_url)
    name = f"template_{uuid.uuid4().hex[:12]}"
    _aside(asyncio.run, _admin(server, f'CREATE DATABASE "{name}"'))
    _aside(upgrade_sync, server.set(database=name).render_as_string(hide_password=False))
    try:
        yield name
    finally:
        _aside(asyncio.run, _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(server: URL, sql: str) -> None:
    dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def make_hub(tmp_path: Path) -> AsyncIterator[MakeHub]:
    """``await make_hub(database_url=..., plugins=[...], **settings)``: a started hub whose
    schema was made by the migrations; every hub made is stopped at teardown."""
    made: list[HubCore] = []

    async def make(
        *, database_url: str, plugins: list[object] | None = None, **overrides: Any
    ) -> HubCore:
        settings = load_settings(data_dir=tmp_path / f"hub{len(made)}", database_url=database_url,
                                 **overrides)
        await upgrade(database_url)
        core = create_hub(settings, plugins=plugins, load_entry_points=False)
        made.append(core)
        await core.start()
        return core

    yield make
    for core in reversed(made):
        await core.stop()


@pytest.fixture
async def hub_core(database_url: str, make_hub: MakeHub) -> HubCore:
    """A started hub with no plugins, on each database in turn."""
    return await make_hub(database_url=database_url)



CHROMIUM = "/usr/bin/chromium"
HAVE_CHROMIUM = os.path.exists(CHROMIUM)
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Headless system Chromium driven by Playwright (its own browsers are never downloaded)."""
    if not HAVE_CHROMIUM:
        if os.environ.get("CI"):
            pytest.fail(f"no Chromium at {CHROMIUM}: scripts/test installs Debian's chromium")
        pytest.skip(f"no Chromium at {CHROMIUM}: run the tests with `bash scripts/test`")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()
