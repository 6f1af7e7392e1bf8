"""Alembic environment: migrates the hub's database over its async driver."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from logging.config import fileConfig
from pathlib import Path
from typing import Any

from alembic import context
from alembic.script import ScriptDirectory
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import hub.models  # noqa: F401  (registers every table on SQLModel.metadata)
from hub.migrate import render_item

DEFAULT_URL = "sqlite+aiosqlite:///var/contacthub.sqlite"
# Any constant will do: it only has to be the same for every hub migrating one database.
ADVISORY_LOCK_KEY = 0x636F6E74

config = context.config
target_metadata = SQLModel.metadata


def database_url() -> str:
    """The URL ``hub.migrate`` put in the config, else the environment, else the default."""
    url = config.get_main_option("sqlalchemy.url")
    return url or os.environ.get("CONTACTHUB_DATABASE_URL") or DEFAULT_URL


def number_revisions(_context: Any, _revision: Any, directives: list[Any]) -> None:
    """Name a new revision 0002, 0003... after the newest, unless ``--rev-id`` was given."""
    if getattr(config.cmd_opts, "rev_id", None):
        return
    numbers = [int(script.revision) for script in ScriptDirectory.from_config(config).walk_revisions()
               if script.revision.isdigit()]
    directives[0].rev_id = f"{max(numbers, default=0) + 1:04d}"


def configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
        process_revision_directives=number_revisions,
    )


def run_sync(connection: Connection) -> None:
    configure(connection)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Hubs starting together on one database migrate one after the other.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        context.run_migrations()


async def run_async(url: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_sync)
    finally:
        await engine.dispose()


def run_online() -> None:
    url = database_url()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(run_async(url))
        return
    # Called from inside an event loop's thread: migrate on a thread of our own.
    with ThreadPoolExecutor(max_workers=1) as worker:
        worker.submit(asyncio.run, run_async(url)).result()


def run_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True,
                      render_item=render_item, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

if context.is_offline_mode():
    run_offline()
else:
    run_online()
