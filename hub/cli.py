"""The ``contacthub`` command."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import logging
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from hub.core import HubCore, create_hub
from hub.errors import ConfigError, InvalidRequest
from hub.settings import STARTED_BY, Settings, load_settings

DESCRIPTION = """\
contacthub: a multichannel contact center.

Settings come from embedded defaults (SQLite and files under ./var, a local Celery
broker), a TOML file named by CONTACTHUB_CONFIG, and CONTACTHUB_<SETTING> variables
such as CONTACTHUB_DATABASE_URL=postgresql+asyncpg://... or CONTACTHUB_REDIS_URL.
"""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.command == "run" else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        settings = load_settings(**_overrides(args))
        return int(args.func(settings, args) or 0)
    except ConfigError as err:
        print(f"contacthub: configuration error: {err}", file=sys.stderr)
        return 2
    except InvalidRequest as err:
        print(f"contacthub: {err.message}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="contacthub", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="start the hub: web server, channels, Celery worker and beat",
                         description="Migrate the database, load the demo on a first run, start a "
                                     "Celery worker with beat, and serve the inbox and channels.")
    run.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    run.add_argument("--port", type=int, help="port to listen on (default 8080)")
    run.add_argument("--no-demo", action="store_true", help="do not load the demo organisation")
    run.add_argument("--no-worker", action="store_true",
                     help="do not start a Celery worker (run `contacthub worker` elsewhere)")
    run.set_defaults(func=cmd_run)

    sub.add_parser("migrate", help="bring the database schema up to date",
                   description="Apply the database migrations that have not run yet (safe to repeat; "
                               "`run` does this too). The database is the database_url setting."
                   ).set_defaults(func=cmd_migrate)
    sub.add_parser("plugins", help="list loaded plugins, their channels and the channels' health",
                   description="Load the installed plugins as `run` would, start their channels "
                               "briefly, and print each plugin's hooks and each channel's health."
                   ).set_defaults(func=cmd_plugins)
    sub.add_parser("worker", help="run a Celery worker with beat for background jobs",
                   description="Run a Celery worker with beat in the foreground: the idle-chat close "
                               "job and other background jobs. `run` starts one unless --no-worker; "
                               "start this next to `run --no-worker` processes."
                   ).set_defaults(func=cmd_worker)

    demo = sub.add_parser("demo", help="load or remove the demo organisation",
                          description="load: add demo agents (1001.. with password demo-<number>), "
                                      "queues and customers with history, once. remove: delete all of "
                                      "it; real customers and their conversations stay.")
    demo.add_argument("action", choices=["load", "remove"], help="load or remove")
    demo.set_defaults(func=cmd_demo)

    agent = sub.add_parser("agent", help="add an agent or set an agent's password",
                           description="add: create an agent who logs in with NUMBER and a password "
                                       "(at least 8 characters). passwd: set an existing agent's "
                                       "password. The password is prompted for, or read from standard "
                                       "input with --password-stdin.")
    agent.add_argument("action", choices=["add", "passwd"], help="add an agent or set a password")
    agent.add_argument("number", help="the agent number people log in with")
    agent.add_argument("--name", default="", help="display name (add)")
    agent.add_argument("--role", default="agent", choices=["agent", "supervisor", "admin"],
                       help="what the agent may do (add; default agent)")
    agent.add_argument("--password-stdin", action="store_true",
                       help="read the password from standard input instead of prompting")
    agent.set_defaults(func=cmd_agent)
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {k: v for k in ("host", "port") if (v := getattr(args, k, None)) is not None}


def _with_hub(settings: Settings, fn: Callable[[HubCore], Any], **kwargs: Any) -> Any:
    async def go() -> Any:
        from hub.migrate import upgrade

        await upgrade(settings.database_url)
        core = create_hub(_not_routing(settings), **kwargs)
        try:
            return await fn(core)
        finally:
            await core.engine.dispose()
    return asyncio.run(go())


def _not_routing(settings: Settings) -> Settings:
    """A command's short-lived hub never contends for the router: it would lead for a moment,
    restore, and leave its offers' timers to die with it."""
    return settings.model_copy(update={"routing": False})


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from hub.migrate import upgrade

    asyncio.run(upgrade(settings.database_url))
    print(f"database is up to date: {_redact(settings.database_url)}")
    return 0


def cmd_plugins(settings: Settings, _args: argparse.Namespace) -> int:
    from hub.plugins import describe

    async def report(core: HubCore) -> None:
        await core.start()
        try:
            health = await core.health()
        finally:
            await core.stop()
        for row in describe(core.pm):
            print(f"{row['name']}  ({row['module']})")
            print(f"    hooks: {', '.join(row['hooks']) or '-'}")
            for name, plugin in core.channel_plugins.items():
                if plugin == row["name"]:
                    h = health[name]
                    print(f"    channel {name}: {h['state']}{' - ' + h['detail'] if h['detail'] else ''}")
    _with_hub(settings, report)
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from hub.demo import load_demo, remove_demo

    async def act(core: HubCore) -> None:
        await core.start()
        try:
            if args.action == "load":
                logins = await load_demo(core)
                print("demo loaded" if logins else "demo was already loaded")
                _print_logins(logins)
            else:
                await remove_demo(core)
                print("demo organisation removed")
        finally:
            await core.stop()
    _with_hub(settings, act, load_entry_points=False)
    return 0


def cmd_agent(settings: Settings, args: argparse.Namespace) -> int:
    from hub.db import transaction
    from hub.models import Agent
    from hub.web.auth import hash_password

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("password: ")
    password_hash = hash_password(password)

    async def act(core: HubCore) -> None:
        async with transaction(core.sessions) as s:
            agent = (await s.execute(select(Agent).where(Agent.number == args.number))).scalar_one_or_none()
            if args.action == "add":
                if agent is not None:
                    raise InvalidRequest("exists", f"agent {args.number} exists; use `agent passwd`")
                s.add(Agent(number=args.number, name=args.name or args.number, role=args.role,
                            password_hash=password_hash))
            elif agent is None:
                raise InvalidRequest("missing", f"no agent {args.number}")
            else:
                agent.password_hash = password_hash
                s.add(agent)
        print(f"agent {args.number}: {'added' if args.action == 'add' else 'password set'}")
    _with_hub(settings, act, load_entry_points=False)
    return 0


def cmd_worker(settings: Settings, _args: argparse.Namespace) -> int:
    return subprocess.call(_worker_command(settings), env=_child_env(settings))


def _worker_command(settings: Settings) -> list[str]:
    return [sys.executable, "-W", "ignore::UserWarning:celery.platforms", "-m", "celery",
            "-A", "hub.tasks:celery", "--quiet", "worker", "--beat", "--pool", "solo",
            "--loglevel", "warning",
            "--schedule", str(settings.data_dir / "celerybeat-schedule")]


def _child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("data_dir", "database_url", "broker_url", "redis_url", "host", "port",
                 "public_url", "internal_url", "secret_key"):
        env[f"CONTACTHUB_{name.upper()}"] = str(getattr(settings, name))
    return env


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from aiohttp import web

    from hub.web.app import create_app

    first_logins = asyncio.run(_prepare(settings, load_demo_data=not args.no_demo))
    # Until the server installs its own handlers, a SIGTERM must still reach the finally
    # below, or the worker started here would outlive the hub.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    worker = None if args.no_worker else subprocess.Popen(
        _worker_command(settings), env={**_child_env(settings), STARTED_BY: str(os.getpid())})
    try:
        core = create_hub(settings)
        _print_banner(settings, first_logins, worker is not None)
        calm_garbage_collector()
        web.run_app(create_app(core), host=settings.host, port=settings.port, print=None,
                    handle_signals=True, access_log=None)
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
    return 0


def _exit_on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def calm_garbage_collector() -> None:
    """Fewer, cheaper full collections: a server holding thousands of sockets otherwise
    pauses every client for tens of milliseconds each time the oldest generation is scanned.
    Objects alive at start-up (modules, the app) are frozen out of collection for good."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


async def _prepare(settings: Settings, *, load_demo_data: bool) -> list[tuple[str, str, str]]:
    """Migrate; on a first run create the admin (and the demo); returns logins to print."""
    from hub.db import transaction
    from hub.demo import load_demo
    from hub.migrate import upgrade
    from hub.models import Agent
    from hub.web.auth import hash_password

    await upgrade(settings.database_url)
    core = create_hub(_not_routing(settings), load_entry_points=False)
    logins: list[tuple[str, str, str]] = []
    try:
        await core.start()
        async with core.sessions() as s:
            first_run = (await s.execute(select(Agent.id).limit(1))).first() is None
        if first_run:
            password = secrets.token_urlsafe(12)
            async with transaction(core.sessions) as s:
                s.add(Agent(number="0001", name="Administrator", role="admin",
                            password_hash=hash_password(password)))
            logins.append(("0001", "Administrator", password))
            if load_demo_data:
                logins += await load_demo(core)
    finally:
        await core.stop()
    return logins


def _print_logins(logins: list[tuple[str, str, str]]) -> None:
    for number, name, password in logins:
        print(f"    {number:>6}  {password:<20} {name}")


def _print_banner(settings: Settings, logins: list[tuple[str, str, str]], worker: bool) -> None:
    url = settings.public_url.rstrip("/")
    print(f"""
contacthub is running
    agent inbox     {url}/inbox
    chat demo page  {url}/channels/web/demo
    REST API        {url}/api/openapi.json
    database        {_redact(settings.database_url)}
    background jobs {'Celery worker + beat started' if worker else 'no worker started (--no-worker)'}
""")
    if logins:
        print("First run: these logins were created (number, password, name). The admin password")
        print("is shown only now; change it with `contacthub agent passwd 0001`.")
        _print_logins(logins)
    else:
        print("Admin login: agent number 0001 (reset with `contacthub agent passwd 0001`).")
    print("Stop with Ctrl+C.\n", flush=True)


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


if __name__ == "__main__":
    sys.exit(main())
