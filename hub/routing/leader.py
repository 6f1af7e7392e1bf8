"""Leader election: exactly one router process per database is active, the others stand by."""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Protocol

import asyncpg
from sqlalchemy.engine import make_url

from hub.errors import ConfigError

log = logging.getLogger("contacthub.routing.leader")

Callback = Callable[[], Awaitable[None]]

CONNECT_TIMEOUT = 10.0
# A liveness query slower than this counts as a lost session. Never shorter than two seconds,
# so a busy server does not depose a healthy leader, and always far below the server-side
# keepalive below: a cut-off leader steps down before the server frees the lock for another.
PING_TIMEOUT_FLOOR = 2.0
CLOSE_TIMEOUT = 2.0
# When a leader's host vanishes without closing its socket (power loss, network cut), the
# server keeps the session, and so the lock, until TCP gives up: hours with the defaults.
# Server-side keepalives on this one connection end it after about 5 + 3 * 2 = 11 seconds.
# They apply to TCP connections only; a kill -9 closes the socket and frees the lock at once.
KEEPALIVES = {"tcp_keepalives_idle": "5", "tcp_keepalives_interval": "2", "tcp_keepalives_count": "3"}
UNREACHABLE = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


def lock_key(name: str) -> int:
    """The PostgreSQL advisory lock key for ``name``: 64 bits, the same in every process and
    version (Python's ``hash`` is salted per process, so it cannot serve)."""
    digest = hashlib.sha256(f"contacthub.leader:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def application_name(name: str) -> str:
    """The ``application_name`` of the connection that holds or waits for the lock, so an
    operator finds it in ``pg_stat_activity``."""
    return f"contacthub-leader:{name}"


class Leadership:
    """Contends for the leader lock ``name`` in the database, so exactly one process leads.

    PostgreSQL: a session-level advisory lock on a dedicated connection (never a pooled
    one). The lock lives exactly as long as that session: when the leader dies the server
    ends the session and a standby takes the lock on its next try, within ``retry_seconds``.
    The lock is per database; it does not survive a pooler in transaction mode.
    SQLite file: an exclusive ``flock`` on ``<database path>.<name>.lock``, which the kernel
    drops when the process dies; the same standby behaviour for processes on one host.
    In-memory SQLite: no other process can share the database, so this one leads at once.

    ``on_elected`` and ``on_deposed`` run on the contending task, one at a time. ``is_leader``
    is true from the moment the lock is held (before ``on_elected`` is awaited) until it is
    lost, handed back or stopped.
    """

    def __init__(self, database_url: str, *, name: str = "router", retry_seconds: float = 1.0) -> None:
        if retry_seconds <= 0:
            raise ValueError("retry_seconds must be positive")
        self.name = name
        self.retry_seconds = retry_seconds
        self._lock = _lock_for(database_url, name, retry_seconds)
        self._task: asyncio.Task[None] | None = None
        self._leading = False

    @property
    def is_leader(self) -> bool:
        """Whether this process holds the lock now."""
        return self._leading

    async def start(self, on_elected: Callback, on_deposed: Callback) -> None:
        """Begin contending in the background; returns at once. ``on_elected`` is awaited when
        this process becomes leader; ``on_deposed`` when it loses the lock (connection lost).
        If ``on_elected`` raises, the error is logged, the lock handed back so another process
        can lead, and this one tries again after ``retry_seconds``. ``on_elected`` should start
        the work and return: the lock is watched only once it has returned."""
        if self._task is not None:
            raise RuntimeError(f"leadership {self.name!r} already started")
        self._task = asyncio.create_task(self._contend(on_elected, on_deposed), name=f"leader:{self.name}")

    async def stop(self) -> None:
        """Stop contending and release the lock if held; ``on_deposed`` is not called. Safe to
        call twice or before ``start``."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # wait, not await: the task's cancellation must not be mistaken for our own.
            await asyncio.wait([task])
            if not task.cancelled() and task.exception() is not None:
                log.error("leader election %r had failed", self.name, exc_info=task.exception())
        self._leading = False
        await self._lock.release()

    async def _contend(self, on_elected: Callback, on_deposed: Callback) -> None:
        standing_by = False
        while True:
            if await self._lock.acquire():
                standing_by = False
                await self._lead(on_elected, on_deposed)
            elif not standing_by:
                log.info("standing by: another process leads %r", self.name)
                standing_by = True
            # Also after a deposition or a failed on_elected: never a tighter loop than this.
            await asyncio.sleep(self.retry_seconds)

    async def _lead(self, on_elected: Callback, on_deposed: Callback) -> None:
        """Lead until the lock is lost, or hand it back at once if on_elected fails."""
        self._leading = True
        log.info("elected: this process leads %r", self.name)
        try:
            await on_elected()
        except Exception:
            self._leading = False
            log.exception("on_elected for %r failed; handing the lock back", self.name)
            await self._lock.release()
            return
        await self._lock.watch()
        self._leading = False
        log.warning("deposed: this process lost the %r lock", self.name)
        await self._lock.release()  # drops the dead connection; the next try opens a new one
        try:
            await on_deposed()
        except Exception:
            log.exception("on_deposed for %r failed", self.name)


class _Lock(Protocol):
    async def acquire(self) -> bool:
        """Try once without waiting; True when this process now holds the lock."""

    async def watch(self) -> None:
        """Return when the held lock is lost."""

    async def release(self) -> None:
        """Give the lock up (and whatever holds it open); safe when not held."""


def _lock_for(database_url: str, name: str, retry_seconds: float) -> _Lock:
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "postgresql":
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return _AdvisoryLock(dsn, name, retry_seconds)
    if backend == "sqlite":
        path = url.database or ""
        if path in ("", ":memory:") or url.query.get("mode") == "memory":
            return _SoleLock()
        return _FileLock(f"{path}.{name}.lock", retry_seconds)
    raise ConfigError(f"leader election needs SQLite or PostgreSQL, not {backend!r}: fix database_url")


class _AdvisoryLock:
    """A PostgreSQL session-level advisory lock held on a connection of its own."""

    def __init__(self, dsn: str, name: str, retry_seconds: float) -> None:
        self._dsn = dsn
        self._name = name
        self._key = lock_key(name)
        self._retry = retry_seconds
        self._timeout = max(retry_seconds, PING_TIMEOUT_FLOOR)
        self._conn: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._unreachable = False

    async def acquire(self) -> bool:
        try:
            conn = await self._connection()
            held = await conn.fetchval("SELECT pg_try_advisory_lock($1)", self._key, timeout=self._timeout)
        except UNREACHABLE as err:
            self._report(err)
            await self.release()
            return False
        self._report(None)
        return bool(held)

    async def watch(self) -> None:
        while True:
            try:
                # Woken at once when asyncpg sees the socket close; the query catches a hung one.
                await asyncio.wait_for(self._lost.wait(), self._retry)
            except TimeoutError:
                if not await self._alive():
                    return
            else:
                return

    async def release(self) -> None:
        # Ending the session releases its advisory locks; no unlock call can be forgotten.
        conn, self._conn = self._conn, None
        if conn is None or conn.is_closed():
            return
        try:
            await conn.close(timeout=CLOSE_TIMEOUT)
        except Exception:  # a broken connection cannot say goodbye; drop the socket
            conn.terminate()

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            settings = {"application_name": application_name(self._name), **KEEPALIVES}
            conn = await asyncpg.connect(self._dsn, timeout=CONNECT_TIMEOUT, server_settings=settings)
            lost = self._lost = asyncio.Event()
            conn.add_termination_listener(lambda _conn: lost.set())
            self._conn = conn
        return self._conn

    async def _alive(self) -> bool:
        if self._conn is None:
            return False
        try:
            await self._conn.fetchval("SELECT 1", timeout=self._timeout)
        except UNREACHABLE:
            return False
        return True

    def _report(self, err: BaseException | None) -> None:
        """One warning when the database becomes unreachable, one line when it is back."""
        if err is not None and not self._unreachable:
            log.warning("cannot reach the database for the %r lock, retrying: %s", self._name, err)
        elif err is None and self._unreachable:
            log.info("reached the database again for the %r lock", self._name)
        self._unreachable = err is not None


class _FileLock:
    """An exclusive ``flock`` on a file next to the SQLite database.

    The lock belongs to the open file: a child forked without exec inherits it and would keep
    it after the leader dies, so the descriptor is close-on-exec and never shared on purpose.
    """

    def __init__(self, path: str, retry_seconds: float) -> None:
        self._path = path
        self._retry = retry_seconds
        self._fd: int | None = None
        self._failed = False

    async def acquire(self) -> bool:
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as err:
            if not self._failed:
                log.warning("cannot open the lock file %s, retrying: %s", self._path, err)
            self._failed = True
            return False
        self._failed = False
        try:
            # flock belongs to this open file, not the process: two Leaderships in one process
            # exclude each other too. LOCK_NB makes it a plain, non-blocking call.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # who leads, for an operator
        return True

    async def watch(self) -> None:
        # The kernel keeps the lock while the file is open. But if someone deletes or replaces
        # the file, a newcomer locks a different file and would lead too: step down then.
        while True:
            await asyncio.sleep(self._retry)
            if not self._still_ours():
                return

    async def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor drops the flock

    def _still_ours(self) -> bool:
        if self._fd is None:
            return False
        try:
            on_disk, held = os.stat(self._path), os.fstat(self._fd)
        except OSError:
            return False
        return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)


class _SoleLock:
    """In-memory SQLite: the database exists in this process only, so it always leads."""

    async def acquire(self) -> bool:
        return True

    async def watch(self) -> None:
        await asyncio.Event().wait()  # never lost; ends when the contending task is cancelled

    async def release(self) -> None:
        return None
