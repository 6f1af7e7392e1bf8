"""The ``contacthub`` command: help, migrate, agents, the demo, plugins, bad settings, first run."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from hub import cli
from hub.core import HubCore, create_hub
from hub.demo import DEMO_AGENTS
from hub.inbox import take
from hub.ingest import ingest
from hub.messages import InboundMessage
from hub.models import Agent, AuditEntry, Customer, Interaction, Message, Queue, WebSession
from hub.outbound import send_message
from hub.settings import load_settings
from hub.web.auth import audit, authenticate, open_session

SUBCOMMANDS = {
    "run": "Migrate the database",
    "migrate": "Apply the database migrations",
    "plugins": "print each plugin's hooks",
    "worker": "Celery worker with beat",
    "demo": "real customers and their conversations stay",
    "agent": "--password-stdin",
}


def contacthub() -> list[str]:
    """The installed console script, as a user runs it."""
    script = Path(sys.executable).with_name("contacthub")
    return [str(script)] if script.exists() else [sys.executable, "-m", "hub.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cli:
    """Runs ``contacthub`` in this process (in a thread: it calls asyncio.run itself)."""

    def __init__(self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
        self.capsys = capsys
        self.monkeypatch = monkeypatch

    async def __call__(self, *argv: str, stdin: str = "") -> tuple[int, str, str]:
        self.capsys.readouterr()
        self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = await asyncio.to_thread(cli.main, list(argv))
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "var"
    monkeypatch.setenv("CONTACTHUB_DATA_DIR", str(path))
    return path


@pytest.fixture
def run_cli(data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(capsys, monkeypatch)


@pytest.fixture
async def hub(run_cli: Cli) -> AsyncIterator[Any]:
    """``await hub()``: a hub on the settings the command uses (after it migrated), stopped after."""
    made: list[HubCore] = []

    async def make() -> HubCore:
        core = create_hub(load_settings(), load_entry_points=False)
        await core.start()
        made.append(core)
        return core

    yield make
    for core in made:
        await core.stop()


# --- help ----------------------------------------------------------------------------------


def test_contacthub_help_names_every_command() -> None:
    done = subprocess.run([*contacthub(), "--help"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "multichannel contact center" in done.stdout
    assert "CONTACTHUB_CONFIG" in done.stdout
    for name in SUBCOMMANDS:
        assert name in done.stdout


@pytest.mark.parametrize("command", list(SUBCOMMANDS))
def test_each_command_explains_itself(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([command, "--help"])
    assert exited.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith(f"usage: contacthub {command}")
    assert SUBCOMMANDS[command] in out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([])
    assert exited.value.code == 2
    assert "usage: contacthub" in capsys.readouterr().err


# --- migrate, agents --------------------------------------------------------------------------


async def test_migrate_makes_the_schema_on_a_fresh_data_dir(run_cli: Cli, data_dir: Path) -> None:
    assert not data_dir.exists()  # noqa: ASYNC240

    code, out, err = await run_cli("migrate")

    assert (code, err) == (0, "")
    assert out.strip() == f"database is up to date: sqlite+aiosqlite:///{data_dir / 'contacthub.sqlite'}"
    with contextlib.closing(sqlite3.connect(data_dir / "contacthub.sqlite")) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert db.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
    assert {"agent", "customer", "interaction", "message", "queue"} <= tables
    assert (data_dir / "secret_key").exists()
    assert (await run_cli("migrate"))[0] == 0  # again: nothing to do, no error


async def test_an_agent_added_from_stdin_can_log_in_and_change_password(run_cli: Cli, hub: Any) -> None:
    code, out, err = await run_cli("agent", "add", "0100", "--name", "Wu Min", "--role", "supervisor",
                                   "--password-stdin", stdin="first-password\n")
    assert (code, out.strip(), err) == (0, "agent 0100: added", "")

    core = await hub()
    agent = await authenticate(core, "0100", "first-password")
    assert agent is not None
    assert (agent.name, agent.role, agent.is_demo) == ("Wu Min", "supervisor", False)
    assert await authenticate(core, "0100", "first-password\n") is None
    assert await authenticate(core, "0100", "wrong-password") is None

    code, out, _ = await run_cli("agent", "passwd", "0100", "--password-stdin", stdin="second-password\n")
    assert (code, out.strip()) == (0, "agent 0100: password set")
    assert await authenticate(core, "0100", "first-password") is None
    changed = await authenticate(core, "0100", "second-password")
    assert changed is not None and changed.id == agent.id


async def test_agent_mistakes_are_refused_with_one_line(run_cli: Cli) -> None:
    assert (await run_cli("agent", "add", "0100", "--password-stdin", stdin="first-password\n"))[0] == 0

    code, out, err = await run_cli("agent", "add", "0100", "--password-stdin", stdin="other-password\n")
    assert (code, out) == (1, "")
    assert err == "contacthub: agent 0100 exists; use `agent passwd`\n"

    code, _, err = await run_cli("agent", "passwd", "0999", "--password-stdin", stdin="some-password\n")
    assert (code, err) == (1, "contacthub: no agent 0999\n")

    code, _, err = await run_cli("agent", "add", "0101", "--password-stdin", stdin="short\n")
    assert code == 1 and err.count("\n") == 1 and "8 characters" in err


# --- demo -----------------------------------------------------------------------------------


async def count(core: HubCore, model: Any, *where: Any) -> int:
    async with core.sessions() as s:
        return int((await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def test_demo_remove_keeps_real_customers_and_what_demo_agents_did_for_them(
    database_url: str, run_cli: Cli, hub: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONTACTHUB_DATABASE_URL", database_url)
    assert (await run_cli("agent", "add", "0100", "--password-stdin", stdin="real-password\n"))[0] == 0

    code, out, _ = await run_cli("demo", "load")
    assert code == 0 and out.startswith("demo loaded")
    for number, _name, _role, _locale in DEMO_AGENTS:
        assert f"{number}  demo-{number}" in out
    assert (await run_cli("demo", "load"))[1].startswith("demo was already loaded")

    core = await hub()
    demo_agent = await authenticate(core, "1001", "demo-1001")
    assert demo_agent is not None and demo_agent.is_demo
    assert await count(core, Customer, Customer.is_demo.is_(True)) > 0  # type: ignore[attr-defined]
    # A real customer writes; a demo agent takes the chat, answers, and is in the audit log.
    real = await ingest(core, InboundMessage(channel="sms", external_id="mo-1", sender="13500000001",
                                             thread_key="13500000001", text="my bill is wrong"))
    await take(core, demo_agent, real.interaction_id)
    reply = await send_message(core, real.interaction_id, "let me check", agent_id=demo_agent.id)
    await open_session(core, demo_agent, "127.0.0.1")
    await audit(core, demo_agent, "take", f"interaction:{real.interaction_id}")

    code, out, _ = await run_cli("demo", "remove")
    assert (code, out.strip()) == (0, "demo organisation removed")

    assert await count(core, Agent, Agent.is_demo.is_(True)) == 0  # type: ignore[attr-defined]
    assert await count(core, Customer, Customer.is_demo.is_(True)) == 0  # type: ignore[attr-defined]
    assert await count(core, Queue, Queue.is_demo.is_(True)) == 0  # type: ignore[attr-defined]
    assert await count(core, Interaction) == 1
    assert await count(core, WebSession) == 0
    async with core.sessions() as s:
        kept = await s.get(Interaction, real.interaction_id)
        message = await s.get(Message, reply)
        entry = (await s.execute(select(AuditEntry).where(AuditEntry.action == "take"))).scalar_one()
        numbers = set((await s.execute(select(Agent.number))).scalars())
    assert kept is not None and kept.agent_id is None and kept.customer_id == real.customer_id
    assert message is not None and message.agent_id is None and message.text == "let me check"
    assert entry.agent_id is None
    assert numbers == {"0100"}
    assert await count(core, Message, Message.interaction_id == real.interaction_id) == 2
    assert await authenticate(core, "0100", "real-password") is not None


# --- plugins, bad settings ------------------------------------------------------------------


async def test_plugins_lists_the_web_chat_plugin_with_its_channel_and_health(run_cli: Cli) -> None:
    code, out, err = await run_cli("plugins")

    assert (code, err) == (0, "")
    lines = out.splitlines()
    web = lines.index("web  (plugins.web)")
    assert lines[web + 1].strip().startswith("hooks: ") and "hub_register_channels" in lines[web + 1]
    assert lines[web + 2].strip() == "channel web: ok - serving visitors"


def _fails_with_one_line(env: dict[str, str], tmp_path: Path, *argv: str) -> str:
    full = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTHUB_")}
    full.update({"CONTACTHUB_DATA_DIR": str(tmp_path / "var"), **env})
    done = subprocess.run([*contacthub(), *argv], capture_output=True, text=True, env=full, timeout=30,
                          cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("contacthub: configuration error: ")
    return done.stderr.strip()


def test_a_bad_port_says_which_setting(tmp_path: Path) -> None:
    line = _fails_with_one_line({"CONTACTHUB_PORT": "notaport"}, tmp_path, "migrate")
    assert "'port'" in line and "integer" in line


def test_a_broken_settings_file_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "contacthub.toml"
    broken.write_text("port = [\n")
    line = _fails_with_one_line({"CONTACTHUB_CONFIG": str(broken)}, tmp_path, "run", "--no-worker")
    assert str(broken) in line
    missing = _fails_with_one_line({"CONTACTHUB_CONFIG": str(tmp_path / "nope.toml")}, tmp_path, "plugins")
    assert "nope.toml" in missing and "No such file" in missing


def test_a_bad_plugin_setting_names_the_plugin_and_key(tmp_path: Path) -> None:
    config = tmp_path / "contacthub.toml"
    config.write_text('[plugins.web]\nallowed_origins = "https://shop.example.com"\n')
    line = _fails_with_one_line({"CONTACTHUB_CONFIG": str(config)}, tmp_path, "plugins")
    assert "[plugins.web] allowed_origins" in line


def test_a_bad_idle_setting_is_refused(tmp_path: Path) -> None:
    line = _fails_with_one_line({"CONTACTHUB_CHAT_IDLE_CLOSE_MINUTES": "soon"}, tmp_path, "migrate")
    assert "chat_idle_close_minutes" in line


# --- run ------------------------------------------------------------------------------------


async def _first_lines(proc: asyncio.subprocess.Process, until: str, within: float) -> list[str]:
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(within):
            while until not in (lines[-1] if lines else ""):
                raw = await proc.stdout.readline()
                if not raw:
                    break
                lines.append(raw.decode().rstrip("\n"))
    except TimeoutError:
        pass
    return lines


async def _answers(url: str, within: float) -> None:
    async with asyncio.timeout(within), aiohttp.ClientSession() as http:
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(url) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.2)


async def _run(tmp_path: Path, *args: str) -> list[str]:
    """Start ``contacthub run`` (in a session of its own), read its banner, stop it with SIGTERM."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTHUB_")}
    env.update({"CONTACTHUB_DATA_DIR": str(tmp_path / "var"), "PYTHONUNBUFFERED": "1"})
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        *contacthub(), "run", "--port", str(port), *args, env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, stdin=asyncio.subprocess.DEVNULL,
        start_new_session=True)
    try:
        lines = await _first_lines(proc, "Stop with Ctrl+C", within=30)
        assert lines and "Stop with Ctrl+C" in lines[-1], "\n".join(lines)
        await _answers(f"http://127.0.0.1:{port}/channels/web/config", within=15)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            assert await proc.wait() == 0
        assert time.monotonic() - started < 20, "Ctrl+C should stop the hub and its worker promptly"
        return lines
    finally:
        # The hub and the worker it started share the session: nothing of it outlives the test.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            await proc.wait()


@pytest.mark.slow
async def test_the_first_run_prints_the_admin_and_demo_logins_once(tmp_path: Path) -> None:
    lines = await _run(tmp_path)

    text = "\n".join(lines)
    assert "contacthub is running" in text
    assert "Celery worker + beat started" in text
    assert "/inbox" in text and "/channels/web/demo" in text
    admin = [line.split() for line in lines if line.strip().startswith("0001 ")]
    assert len(admin) == 1 and admin[0][2:] == ["Administrator"]
    password = admin[0][1]
    for number, _name, _role, _locale in DEMO_AGENTS:
        assert any(line.split()[:2] == [number, f"demo-{number}"] for line in lines if line.strip())
    settings = load_settings(data_dir=tmp_path / "var")
    core = create_hub(settings, load_entry_points=False)
    try:
        assert await authenticate(core, "0001", password) is not None
        assert await authenticate(core, "1001", "demo-1001") is not None
    finally:
        await core.engine.dispose()

    again = "\n".join(await _run(tmp_path, "--no-worker"))
    assert password not in again and "demo-1001" not in again
    assert "Admin login: agent number 0001" in again
    assert "no worker started" in again
