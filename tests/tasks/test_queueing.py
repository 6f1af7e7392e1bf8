"""Queueing a background job: the embedded SQLite broker is shared by the hub and its workers,
and a job the broker would not take is tried once more on a new connection, then reported as
``NotReady`` so that a channel's send is retried with backoff."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from hub.core import HubCore, create_hub
from hub.errors import NotReady
from hub.settings import load_settings

JOB = "hub.close_idle_chats"


def hub_on(tmp_path: Path, **settings: Any) -> HubCore:
    return create_hub(load_settings(data_dir=tmp_path / "var", **settings), load_entry_points=False)


def queued(tmp_path: Path) -> int:
    with contextlib.closing(sqlite3.connect(tmp_path / "var" / "broker.sqlite")) as db:
        return int(db.execute("SELECT count(*) FROM kombu_message").fetchone()[0])


def test_the_embedded_broker_keeps_a_write_ahead_log(tmp_path: Path) -> None:
    hub_on(tmp_path).enqueue(JOB)
    with contextlib.closing(sqlite3.connect(tmp_path / "var" / "broker.sqlite")) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert queued(tmp_path) == 1


def test_a_job_queued_while_a_worker_holds_the_embedded_broker_past_sqlites_default_wait_is_queued_once(
        tmp_path: Path) -> None:
    hub = hub_on(tmp_path)
    hub.enqueue(JOB)
    locked, done = threading.Event(), threading.Event()

    def worker_holding_the_lock() -> None:
        # Another process's connection, as a worker's is; SQLite gives up waiting after 5 s
        # unless told to wait longer.
        with contextlib.closing(sqlite3.connect(tmp_path / "var" / "broker.sqlite",
                                                isolation_level=None)) as db:
            db.execute("BEGIN IMMEDIATE")
            locked.set()
            done.wait(6.0)
            db.execute("COMMIT")

    holder = threading.Thread(target=worker_holding_the_lock)
    holder.start()
    try:
        assert locked.wait(5)
        started = time.monotonic()
        hub.enqueue(JOB)
        assert time.monotonic() - started >= 5.5
    finally:
        done.set()
        holder.join()
    assert queued(tmp_path) == 2


def test_a_job_the_broker_refused_once_is_queued_on_a_new_connection(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    hub = hub_on(tmp_path)
    broken = hub.celery

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AttributeError("'NoneType' object has no attribute 'client'")  # as kombu did

    broken.send_task = refuse
    hub.enqueue(JOB, 7)
    assert hub.celery is not broken
    assert queued(tmp_path) == 1
    assert f"queueing {JOB} on the broker failed" in caplog.text


def test_a_broker_that_is_down_makes_queueing_not_ready(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once the probe is closed
    hub = hub_on(tmp_path, broker_url=f"redis://127.0.0.1:{port}/0")
    with pytest.raises(NotReady, match=f"the job queue did not take {JOB}"):
        hub.enqueue(JOB)
