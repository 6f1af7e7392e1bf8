"""A real Celery worker with beat and a real hub web process: a visitor who goes quiet sees the
closing message and the chat close live, carried worker -> event bus -> web process -> socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

pytestmark = pytest.mark.slow

IDLE_TEXT = "Chat closed: nobody wrote for a while."
START_TIMEOUT = 20.0
CLOSE_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Processes:
    base: str
    data_dir: Path
    logs: dict[str, Path]

    def tail(self) -> str:
        out = []
        for name, path in self.logs.items():
            text = path.read_text(errors="replace") if path.exists() else ""
            out.append(f"--- {name} ---\n{text[-4000:]}")
        return "\n".join(out)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


async def _wait_ready(base: str, web: subprocess.Popen[bytes], logs: Processes) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        while time.monotonic() < deadline:
            if web.poll() is not None:
                pytest.fail(f"the web process exited with {web.returncode}\n{logs.tail()}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(f"{base}/channels/web/config") as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.2)
    pytest.fail(f"the web process did not answer within {START_TIMEOUT} s\n{logs.tail()}")


@contextlib.contextmanager
def _spawn(cmd: list[str], env: dict[str, str], cwd: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        _stop(proc)


def hub_env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    config = tmp_path / "contacthub.toml"
    config.write_text('[plugins.web]\noffline_when_no_agent = false\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTHUB_")}
    env.update({
        "CONTACTHUB_DATA_DIR": str(tmp_path / "var"),
        "CONTACTHUB_PORT": str(port),
        "CONTACTHUB_CONFIG": str(config),
        "CONTACTHUB_CHAT_IDLE_CLOSE_MINUTES": "0.01",
        "CONTACTHUB_CHAT_IDLE_SWEEP_SECONDS": "1",
        "CONTACTHUB_CHAT_IDLE_CLOSE_TEXT": IDLE_TEXT,
        "PYTHONUNBUFFERED": "1",
        **extra,
    })
    return env


@contextlib.asynccontextmanager
async def running_hub(tmp_path: Path, **extra: str) -> Any:
    """The web process (ready to serve) and a Celery worker with beat, on one data dir."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = hub_env(tmp_path, port, **extra)
    logs = Processes(base, tmp_path / "var", {"web": tmp_path / "web.log", "worker": tmp_path / "worker.log"})
    web_cmd = [sys.executable, "-m", "hub.cli", "run", "--no-demo", "--no-worker", "--port", str(port)]
    worker_cmd = [sys.executable, "-W", "ignore::UserWarning:celery.platforms", "-m", "celery",
                  "-A", "hub.tasks:celery", "worker", "--beat", "--pool", "solo", "--loglevel", "info",
                  "--schedule", str(tmp_path / "var" / "celerybeat-schedule")]
    with _spawn(web_cmd, env, tmp_path, logs.logs["web"]) as web:
        await _wait_ready(base, web, logs)  # migrated: the worker may start on the schema
        with _spawn(worker_cmd, env, tmp_path, logs.logs["worker"]) as worker:
            yield logs
            assert worker.poll() is None, f"the worker died\n{logs.tail()}"
            assert web.poll() is None, f"the web process died\n{logs.tail()}"


async def visitor_goes_quiet(hub: Processes) -> tuple[int, list[dict[str, Any]]]:
    """A visitor chats, says nothing more, and keeps the socket open; the frames it got."""
    frames: list[dict[str, Any]] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        async with http.post(f"{hub.base}/channels/web/session", json={},
                             headers={"Origin": hub.base}) as resp:
            assert resp.status == 200, await resp.text()
            token = (await resp.json())["token"]
        async with http.ws_connect(f"{hub.base}/channels/web/ws", origin=hub.base) as ws:

            async def frame() -> dict[str, Any]:
                msg = await ws.receive()
                assert msg.type == aiohttp.WSMsgType.TEXT, \
                    f"socket ended: {msg.type} {msg.data!r}\n{hub.tail()}"
                data: dict[str, Any] = json.loads(msg.data)
                frames.append(data)
                return data

            async def until(check: Any) -> dict[str, Any]:
                while not check(found := await frame()):
                    pass
                return found

            await ws.send_json({"type": "hello", "token": token, "last_seq": 0, "conversation_id": None})
            await until(lambda f: f["type"] == "welcome")
            client_msg_id = str(uuid.uuid4())
            await ws.send_json({"type": "message", "client_msg_id": client_msg_id,
                                "text": "is anyone there?"})
            ack = await until(lambda f: f["type"] == "ack")
            assert ack["client_msg_id"] == client_msg_id
            conversation = int(ack["conversation_id"])

            # Now quiet. The closing message and the closed status must arrive on this socket.
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await until(lambda f: f["type"] == "message" and f["author"]["type"] == "system")
                    await until(lambda f: f["type"] == "status" and f["state"] == "closed")
            except TimeoutError:
                pytest.fail(f"no live close within {CLOSE_TIMEOUT} s; frames {frames}\n{hub.tail()}")
    return conversation, frames


def stored(data_dir: Path, conversation: int) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    with contextlib.closing(sqlite3.connect(data_dir / "contacthub.sqlite")) as db:
        interaction = db.execute("SELECT status, disposition, closed_at IS NOT NULL FROM interaction "
                                 "WHERE id = ?", (conversation,)).fetchone()
        messages = db.execute("SELECT seq, direction, author_type, text FROM message "
                              "WHERE interaction_id = ? ORDER BY seq", (conversation,)).fetchall()
    return interaction, messages


def assert_closed_for_idleness(hub: Processes, conversation: int, frames: list[dict[str, Any]]) -> None:
    [closing] = [f for f in frames if f["type"] == "message" and f["author"]["type"] == "system"]
    assert closing["text"] == IDLE_TEXT
    interaction, messages = stored(hub.data_dir, conversation)
    assert interaction == ("closed", "timeout", 1)
    assert messages == [(1, "in", "customer", "is anyone there?"), (2, "out", "system", IDLE_TEXT)]
    assert closing["seq"] == 2


async def test_a_quiet_visitor_sees_the_chat_closed_live_embedded(tmp_path: Path) -> None:
    async with asyncio.timeout(55), running_hub(tmp_path) as hub:
        conversation, frames = await visitor_goes_quiet(hub)
    assert_closed_for_idleness(hub, conversation, frames)
    assert (tmp_path / "var" / "broker.sqlite").exists()


async def test_a_quiet_visitor_sees_the_chat_closed_live_over_redis(tmp_path: Path, redis_url: str) -> None:
    # Jobs on a database of their own, so nothing queued by other runs reaches this worker;
    # live events on Redis pub/sub (the relay is not used).
    broker = redis_url.rsplit("/", 1)[0] + "/7"
    async with asyncio.timeout(55), running_hub(
            tmp_path, CONTACTHUB_BROKER_URL=broker, CONTACTHUB_REDIS_URL=redis_url) as hub:
        conversation, frames = await visitor_goes_quiet(hub)
    assert_closed_for_idleness(hub, conversation, frames)
    assert not (tmp_path / "var" / "broker.sqlite").exists()


async def test_the_worker_that_run_started_stops_when_the_hub_is_killed(tmp_path: Path) -> None:
    port = free_port()
    logs = Processes(f"http://127.0.0.1:{port}", tmp_path / "var", {"hub": tmp_path / "hub.log"})
    hub_cmd = [sys.executable, "-m", "hub.cli", "run", "--no-demo", "--port", str(port)]
    with _spawn(hub_cmd, hub_env(tmp_path, port), tmp_path, logs.logs["hub"]) as hub:
        await _wait_ready(logs.base, hub, logs)
        worker = await _child_of(hub.pid, "celery", logs)
        beat = _children(worker, "celery")
        os.kill(hub.pid, signal.SIGKILL)  # no shutdown code runs in the hub
        hub.wait(5)
        deadline = time.monotonic() + 20
        try:
            while _running(worker) or any(_running(pid) for pid in beat):
                assert time.monotonic() < deadline, f"the worker outlived the hub\n{logs.tail()}"
                await asyncio.sleep(0.2)
        finally:
            for pid in (worker, *beat):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    assert "that started this worker is gone" in logs.tail()


async def _child_of(parent: int, name: str, logs: Processes) -> int:
    """The pid of ``parent``'s child whose command line mentions ``name``, once it is there."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = _children(parent, name)
        if found:
            return found[0]
        await asyncio.sleep(0.2)
    pytest.fail(f"no {name} process started by {parent}\n{logs.tail()}")


def _children(parent: int, name: str) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == parent and name in (stat.parent / "cmdline").read_text():
                found.append(int(stat.parent.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
