"""Migrations: bring a database to the newest schema with Alembic, from code or the CLI."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlmodel.sql.sqltypes import AutoString

from hub.models.base import UTCDateTime

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Alembic keeps the running migration's context in module globals: one at a time per process.
# Across processes, env.py takes a PostgreSQL advisory lock.
_running = threading.Lock()


def alembic_config(database_url: str) -> Config:
    """Alembic's configuration for ``database_url``, built in code so it works from any
    directory and from an installed package (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    # The config parser interpolates '%', which URL-encoded passwords contain.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_sync(database_url: str, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (the newest by default); safe to repeat."""
    with _running:
        command.upgrade(alembic_config(database_url), revision)


async def upgrade(database_url: str, revision: str = "head") -> None:
    """``upgrade_sync`` for async callers; runs on a worker thread so the loop stays free."""
    await asyncio.to_thread(upgrade_sync, database_url, revision)



def render_item(type_: str, obj: Any, _autogen_context: Any) -> str | bool:
    """Autogenerate renders the models' column types as plain SQLAlchemy types, so a
    migration never depends on how a model happens to be written today."""
    if type_ != "type":
        return False
    if isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False
