"""A real Dovecot for the whole run (a fresh mailbox per test), and a real SMTP server per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dovecot import Dovecot
from smtp_server import SmtpTestServer


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    if reason := Dovecot.available():
        pytest.skip(reason)
    with Dovecot(tmp_path_factory.mktemp("dovecot")) as server:
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
