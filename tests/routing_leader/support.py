"""Contenders in this process and in others, and a way to wait for what they report."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from hub.routing.leader import Leadership, application_name, lock_key

RETRY_SECONDS = 0.2
ROOT = Path(__file__).resolve().parents[2]


async def wait_until(condition: Callable[[], bool], within: float, what: str) -> float:
    """Seconds until ``condition()`` held, polled every 20 ms; the test fails after ``within``."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not condition():
        if loop.time() - start > within:
            pytest.fail(f"not within {within} s: {what}")
        await asyncio.sleep(0.02)
    return loop.time() - start


class Contender:
    """A Leadership in this process whose callbacks record what happened, in order."""

    def __init__(self, database_url: str, *, name: str = "router", refuse: bool = False) -> None:
        self.leadership = Leadership(database_url, name=name, retry_seconds=RETRY_SECONDS)
        self.events: list[str] = []
        self.refuse = refuse

    async def start(self) -> None:
        await self.leadership.start(self._elected, self._deposed)

    @property
    def leads(self) -> bool:
        return self.leadership.is_leader

    async def _elected(self) -> None:
        self.events.append("elected")
        if self.refuse:
            raise RuntimeError("this router cannot start")

    async def _deposed(self) -> None:
        self.events.append("deposed")


class ContenderProcess:
    """``tests/routing_leader/contender.py`` in a process of its own, its output kept by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def spawn(cls, database_url: str) -> ContenderProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.routing_leader.contender", database_url,
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        return cls(proc)

    def said(self, line: str) -> int:
        """How many times the contender printed exactly ``line``."""
        return self.lines.count(line)

    async def kill(self) -> None:
        """kill -9, as a crash or the OOM killer would."""
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()
        await self._reader

    def __repr__(self) -> str:
        output = "\n".join(self.lines)
        return f"<contender pid {self.proc.pid}, output:\n{output}\n>"

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))


async def terminate_leader_session(database_url: str, name: str = "router") -> int:
    """End, as an administrator would, the PostgreSQL session that holds the lock ``name``;
    the number of sessions ended (one, when exactly one process leads)."""
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    key = lock_key(name)
    admin = await asyncpg.connect(dsn)
    try:
        ended = await admin.fetch(
            """SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity a
               JOIN pg_locks l ON l.pid = a.pid
               WHERE a.application_name = $1 AND a.datname = current_database()
                 AND l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                 AND l.classid::bigint = ($2::bigint >> 32) & 4294967295
                 AND l.objid::bigint = $2::bigint & 4294967295""",
            application_name(name), key,
        )
    finally:
        await admin.close()
    return len(ended)
