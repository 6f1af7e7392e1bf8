"""The private Dovecot harness itself: start, deliver, restart, crash, bulk-load, refuse."""

from __future__ import annotations

import imaplib
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dovecot import Dovecot, DovecotError, group_members

USER = "agent@example.test"
PASSWORD = "secret"


def message(n: int) -> bytes:
    return (
        f"From: customer{n}@example.com\r\nTo: {USER}\r\nSubject: message {n}\r\n"
        f"Message-ID: <{n}@example.com>\r\n\r\nBody {n}\r\n"
    ).encode()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Dovecot]:
    if reason := Dovecot.available():
        pytest.skip(reason)
    with Dovecot(tmp_path / "dovecot") as dovecot:
        dovecot.add_user(USER, PASSWORD)
        dovecot.start()
        yield dovecot


def fetch(server: Dovecot, uid: int, folder: str = "INBOX") -> tuple[bytes, bytes]:
    """The FETCH header line (flags, date) and the raw message."""
    with server.session(USER, folder) as client:
        typ, data = client.uid("FETCH", str(uid), "(FLAGS INTERNALDATE BODY.PEEK[])")
    assert typ == "OK"
    head, raw = data[0]
    return head, raw


def test_append_reads_back_with_flags_and_date(server: Dovecot) -> None:
    date = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    first = server.append(USER, message(1))
    second = server.append(USER, message(2), flags="\\Seen", date=date)

    assert (first, second) == (1, 2)
    head, raw = fetch(server, second)
    assert raw == message(2)
    assert b"\\Seen" in head
    assert b'"06-May-2024 07:08:09 +0000"' in head


def test_dropped_file_is_seen_by_status(server: Dovecot) -> None:
    path = server.drop(USER, message(1))

    assert path.parent.name == "new"
    assert path.stat().st_uid != 0  # owned by the mail user, or Dovecot cannot move it to cur/
    assert server.status(USER)["MESSAGES"] == 1
    assert server.uids(USER) == [1]
    assert fetch(server, 1)[1] == message(1)


def test_restart_keeps_uidvalidity_and_messages(server: Dovecot) -> None:
    server.append(USER, message(1))
    before = server.status(USER)
    port = server.port

    server.restart()

    assert server.port == port
    assert server.status(USER) == before
    assert server.uids(USER) == [1]


def test_set_uidvalidity_changes_it(server: Dovecot) -> None:
    server.append(USER, message(1))

    server.set_uidvalidity(USER, "INBOX", 12345)

    assert server.status(USER)["UIDVALIDITY"] == 12345


def test_kill_drops_clients_and_start_recovers(server: Dovecot) -> None:
    server.append(USER, message(1))
    group = server.pid
    assert group
    with server.session(USER, "INBOX") as client:
        server.kill()
        with pytest.raises((imaplib.IMAP4.abort, OSError)):
            client.noop()

    assert group_members(group) == []  # no imap, auth or login child survives
    with pytest.raises(OSError):
        server.status(USER)
    server.start()
    assert server.uids(USER) == [1]


def test_fill_loads_many_messages_in_order(server: Dovecot) -> None:
    started = time.monotonic()
    count = server.fill(USER, (message(n) for n in range(500)))

    assert count == 500
    assert time.monotonic() - started < 10
    assert server.uids(USER) == list(range(1, 501))
    assert fetch(server, 1)[1] == message(0)
    assert fetch(server, 500)[1] == message(499)


def test_wrong_password_is_refused(server: Dovecot) -> None:
    client = imaplib.IMAP4(server.host, server.port, timeout=10)
    try:
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            client.login(USER, "wrong")
    finally:
        client.shutdown()


def test_user_added_while_running_can_log_in(server: Dovecot) -> None:
    server.add_user("late@example.test", "later")

    server.append("late@example.test", message(1))

    assert server.uids("late@example.test") == [1]


def test_folders_move_seen_and_delete_all(server: Dovecot) -> None:
    server.create_folder(USER, "Processed")
    uid = server.append(USER, message(1))
    server.append(USER, message(2))

    server.mark_seen(USER, uid)
    assert server.status(USER)["UNSEEN"] == 1
    server.move(USER, uid, "INBOX", "Processed")
    assert server.uids(USER, "Processed") == [1]
    server.delete_all(USER)
    assert server.status(USER)["MESSAGES"] == 0
    with pytest.raises(DovecotError):
        server.uids(USER, "Missing")


def test_two_instances_run_side_by_side(server: Dovecot, tmp_path: Path) -> None:
    with Dovecot(tmp_path / "other") as other:
        other.add_user(USER, PASSWORD)
        other.start()
        other.append(USER, message(1))

        assert other.port != server.port
        assert server.status(USER)["MESSAGES"] == 0
        assert other.status(USER)["MESSAGES"] == 1


async def test_async_conveniences(server: Dovecot) -> None:
    uid = await server.aappend(USER, message(1))
    await server.arestart()

    assert server.uids(USER) == [uid]
