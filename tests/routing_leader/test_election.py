"""Two contenders in one process, on SQLite and on PostgreSQL: one leads, the other stands by
and takes over when the leader goes."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from hub.errors import ConfigError
from hub.routing.leader import Leadership, lock_key

from .conftest import Contend
from .support import RETRY_SECONDS, Contender, terminate_leader_session, wait_until

TAKEOVER = 3 * RETRY_SECONDS
# Long enough for a standby to have tried several times, had the lock let it in.
SEVERAL_TRIES = 5 * RETRY_SECONDS
LEADER_LOG = "contacthub.routing.leader"


async def leader_and_standby(contend: Contend) -> tuple[Contender, Contender]:
    first, second = await contend(), await contend()
    await wait_until(lambda: first.leads or second.leads, TAKEOVER, "one contender elected")
    return (first, second) if first.leads else (second, first)


def lock_file(database_url: str) -> Path:
    return Path(f"{make_url(database_url).database}.router.lock")


async def test_only_one_of_two_contenders_leads(contend: Contend) -> None:
    leader, standby = await leader_and_standby(contend)
    await asyncio.sleep(SEVERAL_TRIES)

    assert leader.leads and leader.events == ["elected"]
    assert not standby.leads and standby.events == []


async def test_the_standby_takes_over_when_the_leader_stops(contend: Contend) -> None:
    leader, standby = await leader_and_standby(contend)

    await leader.leadership.stop()

    await wait_until(lambda: standby.leads, TAKEOVER, "the standby elected")
    assert standby.events == ["elected"]
    assert not leader.leads


async def test_a_clean_stop_does_not_call_on_deposed(contend: Contend) -> None:
    leader, _standby = await leader_and_standby(contend)

    await leader.leadership.stop()
    await leader.leadership.stop()

    assert leader.events == ["elected"] and not leader.leads


async def test_contenders_for_different_names_lead_side_by_side(contend: Contend) -> None:
    router, reporter = await contend(name="router"), await contend(name="reports")

    await wait_until(lambda: router.leads and reporter.leads, TAKEOVER, "both elected")


async def test_a_leader_whose_on_elected_fails_hands_the_lock_to_the_standby(
    contend: Contend, caplog: pytest.LogCaptureFixture
) -> None:
    broken = await contend(refuse=True)
    await wait_until(lambda: broken.events == ["elected"], TAKEOVER, "the broken router elected")
    healthy = await contend()

    await wait_until(lambda: healthy.leads, TAKEOVER, "the healthy router elected")
    await asyncio.sleep(SEVERAL_TRIES)

    assert healthy.events == ["elected"] and not broken.leads
    failures = [r for r in caplog.records if r.name == LEADER_LOG and r.levelno == logging.ERROR]
    assert failures and failures[0].exc_info is not None
    assert "this router cannot start" in str(failures[0].exc_info[1])


async def test_a_failing_on_elected_is_retried(contend: Contend) -> None:
    broken = await contend(refuse=True)

    await wait_until(lambda: broken.events.count("elected") >= 3, 4 * TAKEOVER, "three tries")
    assert not broken.leads


async def test_election_logs_one_line_each_and_standing_by_once(
    contend: Contend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LEADER_LOG)
    leader, standby = await leader_and_standby(contend)
    await asyncio.sleep(SEVERAL_TRIES)
    await leader.leadership.stop()
    await wait_until(lambda: standby.leads, TAKEOVER, "the standby elected")

    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == LEADER_LOG]
    elected = ("INFO", "elected: this process leads 'router'")
    standing_by = ("INFO", "standing by: another process leads 'router'")
    # The first two come from two tasks at once and may log in either order; the takeover is last.
    assert sorted(lines) == sorted([elected, standing_by, elected])
    assert lines[-1] == elected


async def test_a_leader_whose_session_is_terminated_is_deposed_and_the_standby_takes_over(
    database_url: str, contend: Contend, caplog: pytest.LogCaptureFixture
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL session; the SQLite lock lives as long as the process")
    leader, standby = await leader_and_standby(contend)

    assert await terminate_leader_session(database_url) == 1

    await wait_until(lambda: leader.events == ["elected", "deposed"], TAKEOVER, "the leader deposed")
    await wait_until(lambda: standby.leads, TAKEOVER, "the standby elected")
    await asyncio.sleep(SEVERAL_TRIES)
    assert standby.events == ["elected"]
    assert not leader.leads and leader.events == ["elected", "deposed"]
    assert any(r.name == LEADER_LOG and r.levelno == logging.WARNING and "deposed" in r.getMessage()
               for r in caplog.records)


async def test_the_lock_file_sits_next_to_the_database_and_names_the_leader(
    database_url: str, contend: Contend
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the SQLite lock file")
    leader = await contend()
    await wait_until(lambda: leader.leads, TAKEOVER, "elected")

    assert lock_file(database_url).read_text() == f"{os.getpid()}\n"


async def test_a_leader_whose_lock_file_is_removed_steps_down(database_url: str, contend: Contend) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the SQLite lock file")
    leader = await contend()
    await wait_until(lambda: leader.leads, TAKEOVER, "elected")

    # A newcomer would lock a fresh file and lead too; the old leader must not stay on.
    lock_file(database_url).unlink()

    await wait_until(lambda: leader.events[:2] == ["elected", "deposed"], TAKEOVER, "deposed")
    await wait_until(lambda: leader.leads, TAKEOVER, "elected again on the new file")


@pytest.mark.parametrize("url", ["sqlite+aiosqlite:///:memory:", "sqlite+aiosqlite://"])
async def test_in_memory_sqlite_leads_at_once(url: str) -> None:
    one, other = Contender(url), Contender(url)
    try:
        await one.start()
        await other.start()
        await wait_until(lambda: one.leads and other.leads, RETRY_SECONDS, "both elected")
    finally:
        await one.leadership.stop()
        await other.leadership.stop()


def test_the_lock_key_never_changes() -> None:
    # Routers of two versions side by side must contend for the same lock.
    assert lock_key("router") == 5110344046891166535


def test_other_databases_are_refused_with_one_line() -> None:
    with pytest.raises(ConfigError, match="SQLite or PostgreSQL"):
        Leadership("mysql+aiomysql://db/hub")
