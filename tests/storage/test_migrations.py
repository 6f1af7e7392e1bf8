"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata, produce_migrations, render_python_code
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from hub.db import create_engine
from hub.migrate import alembic_config, render_item, upgrade, upgrade_sync


def schema_differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, SQLModel.metadata)


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """The migrations start from nothing here, unlike the rest of the suite's databases."""
    return empty_database_url


async def run_sync(database_url: str, fn: object) -> object:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(fn)  # type: ignore[arg-type]
    finally:
        await engine.dispose()


async def test_the_migrated_schema_matches_the_models(database_url: str) -> None:
    await upgrade(database_url)

    assert await run_sync(database_url, schema_differences) == []


async def test_upgrade_is_safe_to_repeat(database_url: str) -> None:
    await upgrade(database_url)
    await upgrade(database_url)

    version = await run_sync(database_url, lambda c: c.execute(
        text("SELECT version_num FROM alembic_version")).scalars().all())
    assert version == [ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()]


async def test_only_one_open_interaction_per_thread_is_enforced_by_an_index(database_url: str) -> None:
    await upgrade(database_url)

    def open_thread_index(connection: Connection) -> dict[str, object]:
        indexes = inspect(connection).get_indexes("interaction")
        return next(i for i in indexes if i["name"] == "uq_interaction_open_thread")

    index = await run_sync(database_url, open_thread_index)
    assert index["unique"] and index["column_names"] == ["channel", "thread_key"]  # type: ignore[index]
    where = {k: v for k, v in index.get("dialect_options", {}).items() if k.endswith("_where")}  # type: ignore[union-attr]
    assert [str(v).strip("()") for v in where.values()] == ["closed_at IS NULL"]


async def test_downgrade_to_nothing_and_back(database_url: str) -> None:
    await upgrade(database_url)
    command.downgrade(alembic_config(database_url), "base")

    tables = await run_sync(database_url, lambda c: inspect(c).get_table_names())
    assert tables == ["alembic_version"]
    await upgrade(database_url)
    assert await run_sync(database_url, schema_differences) == []


def test_upgrade_works_from_any_directory_without_an_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'hub.sqlite'}"

    upgrade_sync(url)

    assert (tmp_path / "nested" / "hub.sqlite").exists()
    assert not (tmp_path / "var").exists()


async def test_upgrade_sync_works_inside_a_running_event_loop(tmp_path: Path) -> None:
    upgrade_sync(f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}")

    assert (tmp_path / "hub.sqlite").exists()



async def test_a_new_migration_is_written_in_plain_sqlalchemy_types(tmp_path: Path) -> None:
    # What `alembic revision --autogenerate` would write for the whole schema, from nothing.
    def render(connection: Connection) -> str:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        ops = produce_migrations(context, SQLModel.metadata)
        return render_python_code(ops.upgrade_ops, render_item=render_item)

    code = str(await run_sync(f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite'}", render))

    assert "sa.DateTime(timezone=True)" in code and "sa.String(length=320)" in code
    assert "UTCDateTime" not in code and "AutoString" not in code
    assert "sqlite_where=sa.text('closed_at IS NULL')" in code
    assert "postgresql_where=sa.text('closed_at IS NULL')" in code


async def test_hubs_starting_together_migrate_one_after_the_other(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serves one node; `contacthub run` migrates before it starts workers")
    script = f"from hub.migrate import upgrade_sync; upgrade_sync({database_url!r})"
    hubs = [await asyncio.create_subprocess_exec(sys.executable, "-c", script) for _ in range(3)]

    assert [await hub.wait() for hub in hubs] == [0, 0, 0]
    assert await run_sync(database_url, schema_differences) == []


async def test_upgrades_in_one_process_take_turns(database_url: str) -> None:
    await asyncio.gather(*(upgrade(database_url) for _ in range(3)))

    assert await run_sync(database_url, schema_differences) == []
