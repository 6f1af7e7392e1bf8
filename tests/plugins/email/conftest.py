"""A real Dovecot for the whole run (a fresh mailbox per test, made before it started), and a
real SMTP server per test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from dovecot import Dovecot
from mail_support import add_spare_users
from smtp_server import SmtpTestServer


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    if reason := Dovecot.available():
        pytest.skip(reason)
    with Dovecot(tmp_path_factory.mktemp("dovecot")) as server:
        add_spare_users(server)
        server.start()
        yield server


@pytest.fixture
def dovecot_alive(dovecot: Dovecot) -> Dovecot:
    """The shared server, started again if an earlier test left it stopped."""
    if not dovecot.running:
        dovecot.start()
    return dovecot


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpTestServer]:
    with SmtpTestServer(directory=tmp_path) as server:
        yield server


@pytest.fixture
def database_url(migrated_sqlite: str, tmp_path: Path) -> str:
    """SQLite only, unlike the rest of the suite: what these tests exercise is the mailbox,
    the mail and the SMTP server. The plugin's own database calls (state, leases) run on
    both databases in tests/core/test_plugin_state.py, and ingest in tests/storage."""
    path = tmp_path / "hub.sqlite"
    shutil.copyfile(migrated_sqlite, path)
    return f"sqlite+aiosqlite:///{path}"
