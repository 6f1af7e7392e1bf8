"""A fresh PostgreSQL database for one benchmark run, dropped when the run ends.

A benchmark measures a hub on an empty database; given a server URL it makes
``contacthub_bench_<random>`` there (the role in the URL needs CREATEDB) so a second run,
or a database already in use, changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy import make_url


@asynccontextmanager
async def scratch_database(server_url: str) -> AsyncIterator[str]:
    """Yield the SQLAlchemy URL of a new, empty database on the server of ``server_url``."""
    server = make_url(server_url)
    name = f"contacthub_bench_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(server.set(drivername="postgresql").render_as_string(hide_password=False))
    # Region prefixes compare byte by byte: the C collation, as the README asks of operators.
    await conn.execute(f"CREATE DATABASE \"{name}\" LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
