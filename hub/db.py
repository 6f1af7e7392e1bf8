"""The database: one async engine per hub, SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite
from sqlalchemy import event, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlmodel import SQLModel

import hub.models  # noqa: F401  (registers every table on SQLModel.metadata)


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An engine tuned for the backend: SQLite gets WAL, a busy timeout and immediate
    write transactions, so concurrent writers queue instead of failing with 'locked'."""
    if url.startswith("sqlite"):
        # SQLite has one writer at a time. One pooled connection per process makes writers
        # queue in asyncio, in order, instead of sleeping in SQLite's busy handler.
        engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=60,
                                     async_creator=_inline_sqlite(make_url(url).database or ""), **kwargs)
        _tune_sqlite(engine)
        return engine
    return create_async_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True, **kwargs)


class _InlineConnection(aiosqlite.Connection):
    """aiosqlite's connection, with statements run on the event loop's own thread.

    A statement on a local SQLite file takes tens of microseconds; handing each one to a
    worker thread and back costs far more (often a millisecond under load), and the single
    embedded connection is held for all of it. Running inline blocks the loop only for the
    statement itself. Lock waits stay short: this process has one connection, and other
    processes (the Celery worker, the CLI) hold the write lock for milliseconds.
    """

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


def _inline_sqlite(path: str) -> Any:
    async def connect() -> aiosqlite.Connection:
        def connector() -> sqlite3.Connection:
            # Made on aiosqlite's thread, used on the loop's: one user at a time, never two.
            return sqlite3.connect(path, timeout=5, check_same_thread=False)

        connection = _InlineConnection(connector, iter_chunk_size=64)
        connection._thread.daemon = True
        return await connection
    return connect


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not the driver, open transactions.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Any) -> None:
        # A deferred transaction that reads then writes fails at once when another writer
        # got in between; taking the write lock up front makes it wait its turn instead.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Plain SQLAlchemy async sessions: SQLModel tables are mapped classes, and ``execute``
    with ``select`` reads the same in core and plugin code."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def insert_for(engine_or_session: Any, table: Any) -> Any:
    """The dialect's INSERT, which knows ``on_conflict_do_nothing``."""
    bind = getattr(engine_or_session, "bind", None) or engine_or_session
    return dialect_insert(bind.dialect.name, table)


def dialect_insert(dialect: str, table: Any) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"unsupported database dialect {dialect!r}")


async def create_all(engine: AsyncEngine) -> None:
    """Create every table directly; for tests. Real databases go through migrations."""
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session whose work commits when the block ends and rolls back if it raises."""
    async with factory() as session, session.begin():
        yield session
