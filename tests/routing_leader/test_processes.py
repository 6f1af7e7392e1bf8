"""Two real router processes on one database: exactly one leads; kill it and the other takes
over within seconds. On PostgreSQL and on an SQLite file."""

from __future__ import annotations

import asyncio

import pytest

from .conftest import Spawn
from .support import RETRY_SECONDS, ContenderProcess, terminate_leader_session, wait_until

pytestmark = pytest.mark.slow

START = 15.0
TAKEOVER = 5.0
SEVERAL_TRIES = 5 * RETRY_SECONDS


async def leader_and_standby(spawn: Spawn) -> tuple[ContenderProcess, ContenderProcess]:
    first, second = await spawn(), await spawn()
    await wait_until(lambda: first.said("contending") and second.said("contending"), START,
                     f"both contending: {first!r} {second!r}")
    await wait_until(lambda: first.said("elected") + second.said("elected") >= 1, START,
                     f"one elected: {first!r} {second!r}")
    await asyncio.sleep(SEVERAL_TRIES)
    assert first.said("elected") + second.said("elected") == 1, f"{first!r} {second!r}"
    return (first, second) if first.said("elected") else (second, first)


async def test_the_standby_takes_over_within_seconds_when_the_leader_is_killed(spawn: Spawn) -> None:
    leader, standby = await leader_and_standby(spawn)

    await leader.kill()

    took = await wait_until(lambda: standby.said("elected") == 1, TAKEOVER, f"standby elected: {standby!r}")
    print(f"takeover after kill -9: {took:.2f} s")


async def test_a_leader_cut_off_from_postgresql_is_deposed_and_the_standby_takes_over(
    database_url: str, spawn: Spawn
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL session; the SQLite lock lives as long as the process")
    leader, standby = await leader_and_standby(spawn)

    assert await terminate_leader_session(database_url) == 1

    await wait_until(lambda: leader.said("deposed") == 1, TAKEOVER, f"leader deposed: {leader!r}")
    await wait_until(lambda: standby.said("elected") == 1, TAKEOVER, f"standby elected: {standby!r}")
    await asyncio.sleep(SEVERAL_TRIES)
    assert leader.said("elected") == 1, f"the old leader must stand by now: {leader!r}"
