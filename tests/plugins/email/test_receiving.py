"""Receiving from a real Dovecot: every mail is stored exactly once, whatever happens.

Each test counts the stored inbound rows by their text: a mail missing or stored twice fails
it. The IMAP server restarts, the connection drops between fetch and commit, the hub stops
mid-batch, another client reads the mail first, the mailbox's UIDVALIDITY changes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from dovecot import Dovecot
from mail_support import PASSWORD, account_settings, customer_mail, email_settings, new_user

import plugins.email.imap
from hub.channel import HealthState
from hub.conformance import wait_for
from hub.core import HubCore
from hub.models import Message
from plugins.email.imap import CursorStore

StartHub = Callable[..., Awaitable[HubCore]]


def tag(word: str) -> str:
    return f"{word} {uuid.uuid4().hex[:8]}"


@pytest.fixture
def user(dovecot_alive: Dovecot) -> str:
    """A new mailbox the server knew before its first login (see ``new_user``): a login for
    a user it does not know yet would fail and make the server slow every later one."""
    return new_user(dovecot_alive)


@pytest.fixture
async def hubs(tmp_path: Path, database_url: str) -> AsyncIterator[StartHub]:
    """Start hubs serving the email plugin on one database; all are stopped afterwards."""
    from mail_support import start_hub

    started: list[HubCore] = []

    async def start(section: dict[str, Any], **settings: Any) -> HubCore:
        core = await start_hub(tmp_path, database_url, section, **settings)
        started.append(core)
        return core

    yield start
    for core in reversed(started):
        await core.stop()


async def hub_for(hubs: StartHub, dovecot: Dovecot, user: str, *, account: dict[str, Any] | None = None,
                  **extra: Any) -> HubCore:
    section = email_settings(account_settings(dovecot, user, None, **(account or {})), **extra)
    return await hubs(section)


async def stored_texts(core: HubCore) -> Counter[str]:
    """How many inbound email rows carry each text."""
    from sqlalchemy import select

    async with core.sessions() as s:
        rows = (await s.execute(select(Message.text).where(
            Message.channel == "email", Message.direction == "in"))).scalars().all()
    return Counter(text.strip() for text in rows)


async def all_stored_once(core: HubCore, texts: list[str], seconds: float = 15) -> Counter[str]:
    """Wait until every text is stored, then check each once and nothing else stored."""

    async def present() -> Counter[str] | None:
        counts = await stored_texts(core)
        return counts if all(counts[t] for t in texts) else None

    await wait_for(present, seconds, interval=0.05, message=f"{len(texts)} mails stored")
    await asyncio.sleep(0.3)  # a duplicate would land now
    counts = await stored_texts(core)
    twice = {t: n for t, n in counts.items() if n != 1}
    assert not twice, f"stored more than once: {twice}"
    assert sorted(counts) == sorted(texts), "stored mail nobody sent"
    return counts


def health(core: HubCore) -> HealthState:
    return core.channel("email").current_health.state


async def cursor(core: HubCore, folder: str = "INBOX") -> tuple[int, int] | None:
    return await CursorStore(core.facade("email")).get("support", folder)


def record_clients(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every IMAP client the watchers connect, newest last."""
    clients: list[Any] = []
    real = plugins.email.imap.connect

    async def connect(*args: Any) -> Any:
        client = await real(*args)
        clients.append(client)
        return client

    monkeypatch.setattr(plugins.email.imap, "connect", connect)
    return clients


# -- IDLE, restarts, drops -------------------------------------------------------------


async def test_mail_arriving_while_idle_is_stored_at_once_and_left_unseen(
    hubs: StartHub, dovecot_alive: Dovecot, user: str,
) -> None:
    core = await hub_for(hubs, dovecot_alive, user, sweep_seconds=60)
    await wait_for(lambda: health(core) == HealthState.OK, 10, message="health ok")
    await asyncio.sleep(0.3)  # the watcher is idling now
    text = tag("arrived while idling")
    started = asyncio.get_running_loop().time()
    await dovecot_alive.aappend(user, customer_mail(text))
    await all_stored_once(core, [text], seconds=4)
    # The sweep is a minute away: only IDLE can have brought it this fast.
    assert asyncio.get_running_loop().time() - started < 3.5
    # BODY.PEEK: the hub reading the mail is not a person reading it.
    assert dovecot_alive.status(user)["UNSEEN"] == 1


async def test_server_restarted_mid_idle_loses_and_repeats_nothing(
    hubs: StartHub, dovecot_alive: Dovecot, user: str,
) -> None:
    core = await hub_for(hubs, dovecot_alive, user, sweep_seconds=60)
    before = tag("before the restart")
    await dovecot_alive.aappend(user, customer_mail(before))
    await all_stored_once(core, [before])
    await dovecot_alive.astop()
    try:
        while_down = tag("delivered while the server was down")
        await asyncio.to_thread(dovecot_alive.drop, user, customer_mail(while_down))
        await wait_for(lambda: health(core) == HealthState.DOWN, 10, message="health down")
        assert "support/INBOX" in core.channel("email").current_health.detail
    finally:
        await dovecot_alive.astart()
    after = tag("right after the restart")
    await dovecot_alive.aappend(user, customer_mail(after))
    await all_stored_once(core, [before, while_down, after])
    await wait_for(lambda: health(core) == HealthState.OK, 10, message="health ok again")


async def test_store_failing_after_fetch_fetches_again_and_stores_once(
    hubs: StartHub, dovecot_alive: Dovecot, user: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    clients = record_clients(monkeypatch)
    core = await hub_for(hubs, dovecot_alive, user, sweep_seconds=60)
    first, victim, last = tag("first"), tag("lost between fetch and commit"), tag("last")
    cursor_at_failure: list[tuple[int, int] | None] = []

    async def before(msg: Any) -> None:
        if msg.text.strip() == victim and not cursor_at_failure:
            cursor_at_failure.append(await cursor(core))
            clients[-1].protocol.transport.close()  # the IMAP connection drops as well
            raise ConnectionResetError("the database connection was reset")

    intercept_ingest(monkeypatch, core, before=before)
    # One batch: UIDs 1, 2 and 3 arrive together.
    await asyncio.to_thread(dovecot_alive.fill, user, [customer_mail(t) for t in (first, victim, last)])
    await all_stored_once(core, [first, victim, last])
    assert cursor_at_failure, "the failure was never injected"
    at_failure = cursor_at_failure[0]
    assert at_failure is None or at_failure[1] < 2, f"the cursor passed UID 2 before its commit: {at_failure}"
    await wait_for(lambda: _cursor_is(core, 3), 5, message="the cursor at UID 3")
    assert len(clients) >= 2, "the watcher did not reconnect"


async def test_cursor_not_saved_after_commit_stores_nothing_twice(
    hubs: StartHub, dovecot_alive: Dovecot, user: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The commit happened but the cursor was not written: the mail is fetched again, and the
    key absorbs it."""
    core = await hub_for(hubs, dovecot_alive, user, sweep_seconds=1)
    real = CursorStore.put
    failed: list[int] = []

    async def put(self: CursorStore, account: str, folder: str, uidvalidity: int, last_uid: int) -> None:
        if last_uid >= 1 and not failed:
            failed.append(last_uid)
            raise ConnectionResetError("the database went away before the cursor was saved")
        await real(self, account, folder, uidvalidity, last_uid)

    monkeypatch.setattr(CursorStore, "put", put)
    texts = [tag("committed, cursor lost"), tag("second")]
    await asyncio.to_thread(dovecot_alive.fill, user, [customer_mail(t) for t in texts])
    await all_stored_once(core, texts)
    assert failed
    await wait_for(lambda: _cursor_is(core, 2), 5, message="the cursor at UID 2")
    later = tag("after")
    await dovecot_alive.aappend(user, customer_mail(later))
    await all_stored_once(core, [*texts, later])


def intercept_ingest(monkeypatch: pytest.MonkeyPatch, core: HubCore, *, before: Any = None,
                     after: Any = None) -> None:
    """Await ``before(msg)`` ahead of storing each message (it may raise to fail the store)
    and ``after()`` once the store has committed, one message or a whole batch."""
    hub = core.channel("email").hub
    one, many = hub.ingest, hub.ingest_many

    async def ingest(msg: Any) -> Any:
        if before is not None:
            await before(msg)
        result = await one(msg)
        if after is not None:
            await after()
        return result

    async def ingest_many(msgs: Any) -> Any:
        if before is not None:
            for msg in msgs:
                await before(msg)
        results = await many(msgs)
        if after is not None:
            await after()
        return results

    monkeypatch.setattr(hub, "ingest", ingest)
    monkeypatch.setattr(hub, "ingest_many", ingest_many)


async def _cursor_is(core: HubCore, uid: int) -> bool:
    got = await cursor(core)
    return got is not None and got[1] == uid


async def test_hub_stopped_mid_batch_then_started_again_stores_each_once(
    hubs: StartHub, dovecot_alive: Dovecot, user: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = await hub_for(hubs, dovecot_alive, user, batch=5)

    async def after() -> None:
        await asyncio.sleep(0.2)  # committed; the cursor moves only after this

    intercept_ingest(monkeypatch, first, after=after)
    texts = [tag(f"backlog {n}") for n in range(30)]
    await asyncio.to_thread(dovecot_alive.fill, user, [
        customer_mail(text, f"customer{n % 3}@example.cn") for n, text in enumerate(texts)])
    await wait_for(lambda: _count_at_least(first, 5), 10, message="the batch under way")
    await first.stop()
    done = sum((await stored_texts(first)).values())
    assert done < len(texts), "the hub finished the batch before it was stopped"
    assert (await cursor(first) or (0, 0))[1] < len(texts)

    second = await hub_for(hubs, dovecot_alive, user, batch=100)
    await all_stored_once(second, texts)
    await wait_for(lambda: _cursor_is(second, len(texts)), 5, message="the cursor at the end")


async def _count_at_least(core: HubCore, count: int) -> bool:
    return sum((await stored_texts(core)).values()) >= count


# -- what other clients and servers do to the mailbox ------------------------------------


async def test_mail_seen_by_another_client_is_still_stored(
    hubs: StartHub, dovecot_alive: Dovecot, user: str,
) -> None:
    read_before = tag("read by a person before the hub connected")
    uid = dovecot_alive.append(user, customer_mail(read_before))
    dovecot_alive.mark_seen(user, uid)
    core = await hub_for(hubs, dovecot_alive, user)
    seen_on_arrival = tag("flagged seen on arrival")
    await dovecot_alive.aappend(user, customer_mail(seen_on_arrival), flags="(\\Seen)")
    await all_stored_once(core, [read_before, seen_on_arrival])


async def test_mail_with_an_old_date_is_stored(
    hubs: StartHub, dovecot_alive: Dovecot, user: str,
) -> None:
    old = datetime(2019, 3, 4, 5, 6, 7, tzinfo=UTC)
    dovecot_alive.create_folder(user, "Archive")
    core = await hub_for(hubs, dovecot_alive, user)
    appended = tag("appended with a 2019 date")
    await dovecot_alive.aappend(user, customer_mail(appended, date=old), date=old)
    moved = tag("moved in from the archive")
    uid = await dovecot_alive.aappend(user, customer_mail(moved, date=old), folder="Archive", date=old)
    await asyncio.to_thread(dovecot_alive.move, user, uid, "Archive", "INBOX")
    await all_stored_once(core, [appended, moved])


async def test_uidvalidity_change_stores_new_mail_and_nothing_again(
    hubs: StartHub, dovecot_alive: Dovecot, user: str, caplog: pytest.LogCaptureFixture,
) -> None:
    core = await hub_for(hubs, dovecot_alive, user)
    with_id, without_id = tag("has a Message-ID"), tag("has no Message-ID")
    await dovecot_alive.aappend(user, customer_mail(with_id, message_id=f"{uuid.uuid4().hex}@example.cn"))
    await dovecot_alive.aappend(user, customer_mail(without_id))
    await all_stored_once(core, [with_id, without_id])
    old = dovecot_alive.status(user)["UIDVALIDITY"]

    # The server forgets its UIDs (a migration): both mails come again under new ones.
    await asyncio.to_thread(dovecot_alive.set_uidvalidity, user, "INBOX", old + 1000)
    new = tag("after the UIDVALIDITY change")
    await dovecot_alive.aappend(user, customer_mail(new))
    await all_stored_once(core, [with_id, without_id, new])
    await wait_for(lambda: _cursor_is(core, 3), 5, message="the cursor at UID 3")
    assert (await cursor(core) or (0, 0))[0] == old + 1000
    assert sum("UIDVALIDITY changed" in r.getMessage() for r in caplog.records) == 1


async def test_same_mail_in_two_watched_folders_is_stored_once(
    hubs: StartHub, dovecot_alive: Dovecot, user: str,
) -> None:
    dovecot_alive.create_folder(user, "Copies")
    core = await hub_for(hubs, dovecot_alive, user, account={"folders": ["INBOX", "Copies"]})
    both = tag("copied into both folders")
    raw = customer_mail(both, message_id=f"{uuid.uuid4().hex}@example.cn")
    only_copies = tag("only in Copies")
    await dovecot_alive.aappend(user, raw)
    await dovecot_alive.aappend(user, raw, folder="Copies")
    await dovecot_alive.aappend(user, customer_mail(only_copies), folder="Copies")
    await all_stored_once(core, [both, only_copies])
    assert len(core.channel("email").watchers["support"]) == 2


# -- mail that cannot be stored as it is -------------------------------------------------


async def test_unparseable_mail_is_quarantined_at_once_and_the_next_flows(
    hubs: StartHub, dovecot_alive: Dovecot, user: str, caplog: pytest.LogCaptureFixture,
) -> None:
    core = await hub_for(hubs, dovecot_alive, user)
    alerts: list[dict[str, Any]] = []

    async def listener(_topic: str, payload: dict[str, Any]) -> None:
        alerts.append(payload)

    core.bus.subscribe("supervisors", listener)
    await dovecot_alive.aappend(user, b"\x00\x01\x02\xff garbage, no header block\r\n")
    after = tag("the mail after the garbage")
    await dovecot_alive.aappend(user, customer_mail(after))
    await all_stored_once(core, [after])

    quarantine = await core.facade("email").list_state("quarantine:")
    assert [(q["uid"], q["attempts"]) for q in quarantine.values()] == [(1, 1)]
    assert "not a mail message" in next(iter(quarantine.values()))["error"]
    assert [(a["kind"], a["uid"]) for a in alerts] == [("email_quarantined", 1)]
    lines = [r for r in caplog.records if "quarantined" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None and "\n" not in lines[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


async def test_message_failing_unexpectedly_is_retried_then_quarantined(
    hubs: StartHub, dovecot_alive: Dovecot, user: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import plugins.email.parsing

    attempts: list[int] = []
    real = plugins.email.parsing.parse

    def parse(raw: bytes, **kwargs: Any) -> Any:
        if b"poison" in raw:
            attempts.append(1)
            raise RuntimeError("the parser tripped")
        return real(raw, **kwargs)

    # On the event loop, where the test's parser can be swapped in (test_parsing.py has the workers).
    monkeypatch.setattr(plugins.email.parsing, "parse", parse)
    core = await hub_for(hubs, dovecot_alive, user, sweep_seconds=1, parse_attempts=2, parse_workers=0)
    await dovecot_alive.aappend(user, customer_mail("poison " + uuid.uuid4().hex[:8]))
    after = tag("the mail after the bad one")
    await dovecot_alive.aappend(user, customer_mail(after))
    await all_stored_once(core, [after], seconds=10)
    assert len(attempts) == 2
    quarantine = list((await core.facade("email").list_state("quarantine:")).values())
    assert len(quarantine) == 1
    assert (quarantine[0]["uid"], quarantine[0]["attempts"]) == (1, 2)
    assert quarantine[0]["error"] == "RuntimeError: the parser tripped"


async def test_oversized_mail_is_stored_as_a_note(
    hubs: StartHub, dovecot_alive: Dovecot, user: str,
) -> None:
    core = await hub_for(hubs, dovecot_alive, user, max_message_bytes=2048)
    big = customer_mail("a very long mail " + "x" * 5000, subject="Huge scan")
    await dovecot_alive.aappend(user, big)
    small = tag("a small mail")
    await dovecot_alive.aappend(user, customer_mail(small))
    rows = await _inbound(core, 2)
    note = next(m for m in rows if m.text.strip() != small)
    assert "over the 2 KB" in note.text and "x" * 100 not in note.text
    assert note.meta["too_large"] == len(big) and note.meta["subject"] == "Huge scan"
    assert (await stored_texts(core))[small] == 1


async def _inbound(core: HubCore, count: int) -> list[Message]:
    from mail_support import stored

    return await stored(core, count)


async def test_processed_folder_gets_mail_only_after_it_is_stored(
    hubs: StartHub, dovecot_alive: Dovecot, user: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    dovecot_alive.create_folder(user, "Processed")
    core = await hub_for(hubs, dovecot_alive, user, sweep_seconds=1, parse_attempts=100,
                         account={"processed_folder": "Processed"})
    failing = tag("cannot be stored yet")
    tries: list[int] = []

    async def before(msg: Any) -> None:
        if msg.text.strip() == failing and len(tries) < 2:
            tries.append(1)
            raise ConnectionResetError("the database is away")

    intercept_ingest(monkeypatch, core, before=before)
    second = tag("behind it")
    await dovecot_alive.aappend(user, customer_mail(failing))
    await dovecot_alive.aappend(user, customer_mail(second))
    await wait_for(lambda: tries, 10, message="a failed try")
    await asyncio.sleep(0.3)  # a move that ignored the failure would be done by now
    assert dovecot_alive.uids(user, "INBOX") == [1, 2], "mail was moved before it was stored"
    assert dovecot_alive.uids(user, "Processed") == []
    await all_stored_once(core, [failing, second])
    await wait_for(lambda: len(dovecot_alive.uids(user, "Processed")) == 2, 5, message="both moved")
    assert dovecot_alive.uids(user, "INBOX") == []


async def test_wrong_password_is_reported_once_without_a_storm(
    hubs: StartHub, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    logins: list[float] = []
    real = plugins.email.imap.connect

    async def connect(*args: Any) -> Any:
        logins.append(asyncio.get_running_loop().time())
        return await real(*args)

    monkeypatch.setattr(plugins.email.imap, "connect", connect)
    # A private server: Dovecot slows every login from an address that failed one.
    with Dovecot(tmp_path / "dc") as server:
        user = "solo@hub.test"
        server.add_user(user, PASSWORD)
        server.start()
        core = await hub_for(hubs, server, user, login_retry_seconds=1)
        await wait_for(lambda: health(core) == HealthState.OK, 10, message="health ok")
        caplog.clear()
        caplog.set_level(logging.INFO, logger="contacthub")
        # The mailbox's password changes on the server; the hub still has the old one.
        await server.astop()
        server.add_user(user, "changed-by-the-mail-admin")
        await server.astart()
        # Down at once (the restart drops the connection), then with the server's words.
        await wait_for(lambda: health(core) == HealthState.DOWN
                       and "AUTHENTICATIONFAILED" in core.channel("email").current_health.detail,
                       10, message="health down: the password was refused")
        assert "refused the user name or password" in core.channel("email").current_health.detail
        refused_at = len(logins)
        await asyncio.sleep(3)
        # Tried again, but rarely (and the server slows those logins down further).
        assert 1 <= len(logins) - refused_at <= 4, f"not retried rarely: {len(logins) - refused_at}"
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1 and warnings[0].startswith("channel email is down"), warnings
        lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("mailbox support/INBOX")]
        assert any("refused the user name or password" in line for line in lines), lines
        assert len(lines) <= 3, f"a log storm: {lines}"
        assert not [r for r in caplog.records if r.exc_info]
        await core.stop()


@pytest.mark.slow
def test_hub_process_killed_mid_batch_then_started_again_stores_each_once(
    dovecot_alive: Dovecot, user: str, tmp_path: Path,
) -> None:
    """kill -9 of a real ``contacthub run``: no shutdown code runs, whatever was in flight is
    simply gone. The next process takes the mailbox once the dead one's lease ran out, fetches
    from the committed cursor and stores the rest."""
    config = tmp_path / "contacthub.toml"
    config.write_text(f"""\
[plugins.email]
sweep_seconds = 1
batch = 20
reconnect_max_seconds = 1
watch_lease_seconds = 2

[[plugins.email.accounts]]
name = "support"
address = "{user}"
imap_host = "{dovecot_alive.host}"
imap_port = {dovecot_alive.port}
imap_security = "none"
imap_password = "{PASSWORD}"
""")
    texts = [f"killed batch {n} {uuid.uuid4().hex[:6]}" for n in range(300)]
    dovecot_alive.fill(user, [customer_mail(text, f"customer{n % 7}@example.cn")
                              for n, text in enumerate(texts)])
    database = tmp_path / "var" / "contacthub.sqlite"
    first = _hub_process(tmp_path, config)
    try:
        _wait(lambda: _stored_count(database) >= 50, 60, "the first batches stored")
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    _wait(lambda: not _group_alive(first.pid), 10, "the killed hub's parser workers to leave with it")
    at_kill = _stored_count(database)
    assert at_kill < len(texts), f"all {at_kill} stored before the kill: nothing was in flight"

    second = _hub_process(tmp_path, config)
    try:
        _wait(lambda: _stored_count(database) >= len(texts), 60, "every mail stored")
        time.sleep(1.0)  # the last batch's duplicates, if any, would land now
    finally:
        second.send_signal(signal.SIGINT)
        try:
            second.wait(10)
        except subprocess.TimeoutExpired:
            second.kill()
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT text FROM message WHERE channel = 'email' AND direction = 'in'").fetchall()
    counts = Counter(text.strip() for (text,) in rows)
    assert {t: n for t, n in counts.items() if n != 1} == {}
    assert sorted(counts) == sorted(texts)


def _hub_process(tmp_path: Path, config: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTHUB_")}
    env.update(CONTACTHUB_DATA_DIR=str(tmp_path / "var"), CONTACTHUB_CONFIG=str(config),
               PYTHONUNBUFFERED="1")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (tmp_path / "hub.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "run", "--no-demo", "--no-worker", "--port", str(port)],
            cwd=Path(__file__).resolve().parents[3], env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)


def _group_alive(group: int) -> bool:
    """Whether a process of the group (the hub started in a session of its own, and the
    workers it started) is still running."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def _stored_count(database: Path) -> int:
    try:
        with sqlite3.connect(database, timeout=5) as db:
            return int(db.execute(
                "SELECT count(*) FROM message WHERE channel = 'email' AND direction = 'in'").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # not migrated yet


def _wait(predicate: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:g}s waiting for {what}")
        time.sleep(0.01)
