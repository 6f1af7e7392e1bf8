"""Voice benchmark: many calls at once through the IVR and routing to ringing agents' phones.

The switch is the FreeSWITCH double the tests use (tests/plugins/voice/), speaking the Event
Socket over loopback in this process; the hub runs in a process of its own, as in
production, with the voice channel and the router on an empty database and N agents, each
with a phone that answers. C callers then ring at once: each is handed to the hub's socket,
hears the greeting, presses 1 for billing as soon as the menu plays, and waits in the queue
until routing offers the call and the hub rings an agent's phone. Measured:

- from each caller's digit to an agent's phone ringing (p50, p99): the IVR's answer, the
  interaction stored, admitted and offered, the agent's state changed, the originate sent;
- the call events per second a subscriber to the hub's events received over the run, and
  the commands the hub sent the switch.

No baseline: nothing simpler does the same work. Usage: ``python bench/voice.py [--calls C]
[--agents N] [--database-url postgresql+asyncpg://...]``; the last line is one JSON object.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "plugins" / "voice")]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from contextlib import suppress  # noqa: E402
from typing import Any  # noqa: E402

from freeswitch_double import FreeSwitchDouble  # noqa: E402
from scratch_database import scratch_database  # noqa: E402
from voice_support import FLOW, answer_menu  # noqa: E402

import plugins.voice  # noqa: E402
from hub.core import HubCore, create_hub  # noqa: E402
from hub.db import transaction  # noqa: E402
from hub.migrate import upgrade  # noqa: E402
from hub.models import Agent, AgentSkill, Queue, QueueRules  # noqa: E402
from hub.routing.config import CONFIG_TOPIC  # noqa: E402
from hub.routing.states import AgentState  # noqa: E402
from hub.settings import load_settings  # noqa: E402
from plugins.voice.channel import CALL_EVENTS  # noqa: E402
from plugins.voice.esl.connection import EslConnection  # noqa: E402
from plugins.voice.esl.errors import ConnectionLost  # noqa: E402

PASSWORD = "bench-pass"


class Rang(list[Any]):
    """An endpoint's legs, each with the moment the phone began to ring."""

    def __init__(self) -> None:
        super().__init__()
        self.at: list[float] = []

    def append(self, leg: Any) -> None:
        self.at.append(time.monotonic())  # the event loop's clock, as answer_menu's
        super().append(leg)


async def start_hub(url: str, data_dir: Path, esl_port: int, outbound_port: int, flow: Path) -> HubCore:
    await upgrade(url)
    section = {"esl_port": esl_port, "esl_password": PASSWORD, "outbound_port": outbound_port,
               "ivr_flow": str(flow), "reconnect_max_seconds": 1}
    settings = load_settings(data_dir=data_dir, database_url=url, redis_url="", blocked_plugins=[],
                             plugins={"voice": section}, run_jobs_in_process=True, routing=True,
                             leader_retry_seconds=0.1, wrap_up_seconds=0)
    core = create_hub(settings, plugins=[plugins.voice], load_entry_points=False)
    await core.start()
    for _ in range(500):
        if core.routing.router is not None:
            break
        await asyncio.sleep(0.01)
    return core


async def staff(core: HubCore, agents: int) -> None:
    async with transaction(core.sessions) as s:
        s.add(Queue(name="billing", title="Billing"))
        s.add(QueueRules(queue="billing", offer_timeout_seconds=20))
        made = [Agent(number=str(5000 + n), name=f"Agent {n}", password_hash="") for n in range(agents)]
        s.add_all(made)
        await s.flush()
        for agent in made:
            s.add(AgentSkill(agent_id=agent.id, queue="billing", level=1, proficiency=3))
    await core.bus.publish(CONFIG_TOPIC, {"event": "routing-config", "what": "bench"})
    await core.routing.settled()
    for agent in made:
        await core.states.change(int(agent.id or 0), AgentState.IDLE, by=agent.id)
    await core.routing.settled()


def phones(switch: FreeSwitchDouble, agents: int) -> list[Rang]:
    """Every agent's phone: it answers after 50 ms and hangs up 200 ms later."""
    made = []
    for n in range(agents):
        endpoint = switch.endpoint(f"user/{5000 + n}", answers=True, answer_after=0.05, hangup_after=0.2)
        endpoint.legs = Rang()
        made.append(endpoint.legs)
    return made


async def serve_hub(url: str, data_dir: Path, esl_port: int, outbound_port: int, flow: Path,
                    agents: int) -> None:
    """The child process: the hub, staffed, until its parent closes stdin."""
    core = await start_hub(url, data_dir, esl_port, outbound_port, flow)
    await staff(core, agents)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await core.stop()


async def hub_process(url: str, tmp: Path, switch: FreeSwitchDouble, flow: Path,
                      agents: int) -> tuple[asyncio.subprocess.Process, int]:
    """The hub in a process of its own, as in production: the switch's work is not its work."""
    outbound_port = free_port()
    # CONTACTHUB_BENCH_PROFILE=<file>: the hub process runs under cProfile (stats in <file>).
    profile = os.environ.get("CONTACTHUB_BENCH_PROFILE")
    child = await asyncio.create_subprocess_exec(
        sys.executable, *(["-m", "cProfile", "-o", profile] if profile else []), __file__, "--serve-hub",
        url, str(tmp / "hub"), str(switch.port), str(outbound_port), str(flow), str(agents),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert child.stdout is not None
    line = await asyncio.wait_for(child.stdout.readline(), 120)
    if line.strip() != b"ready":
        raise SystemExit("the hub process did not start")
    return child, outbound_port


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def bare_reader(switch: FreeSwitchDouble, counted: list[int]) -> None:
    connection = await EslConnection.connect("127.0.0.1", switch.port, PASSWORD)
    await connection.subscribe(*CALL_EVENTS)
    with suppress(ConnectionLost, asyncio.CancelledError):
        async for _ in connection.events:
            counted[0] += 1
    await connection.close()


async def one_call(switch: FreeSwitchDouble, port: int, n: int, pressed: dict[str, float]) -> None:
    call = await switch.incoming_call(caller=f"+86138{n:08d}", destination="10086", dialplan=[
        ("answer", ""), ("socket", f"127.0.0.1:{port} async full")])
    # The caller answers the menu once it plays: from that digit on, the hub is on the clock.
    pressed[call.uuid] = await answer_menu(call, "1")


async def measure(url: str, tmp: Path, calls: int, agents: int) -> dict[str, Any]:
    flow = tmp / "flow.yaml"
    flow.write_text(FLOW, encoding="utf-8")
    switch = FreeSwitchDouble(password=PASSWORD, default_media_seconds=0.05)
    await switch.start()
    rang = phones(switch, agents)
    child, outbound_port = await hub_process(url, tmp, switch, flow, agents)
    try:
        bare = [0]
        reader = asyncio.create_task(bare_reader(switch, bare))
        await asyncio.sleep(0.1)
        pressed: dict[str, float] = {}
        sent_before = len(switch.command_log)
        started = time.perf_counter()
        await asyncio.gather(*(one_call(switch, outbound_port, n, pressed) for n in range(calls)))
        await all_rang(rang, calls, started)
        await asyncio.sleep(0.5)  # the answered calls' events settle
        elapsed = time.perf_counter() - started
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        waits = await ring_waits(rang, pressed, url)
        return {"calls": calls, "agents": agents, "rang": len(waits), "elapsed_s": round(elapsed, 3),
                "events": bare[0], "events_per_s": round(bare[0] / elapsed, 1),
                "hub_commands": len(switch.command_log) - sent_before, **percentiles(waits)}
    finally:
        assert child.stdin is not None
        child.stdin.close()
        await asyncio.wait_for(child.wait(), 60)
        await switch.stop()


async def all_rang(phones: list[Rang], calls: int, started: float) -> None:
    """Until every call rang a phone (two minutes at most: a call lost shows as not rung)."""
    while sum(len(phone) for phone in phones) < calls and time.perf_counter() - started < 120:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def ring_waits(phones: list[Rang], pressed: dict[str, float], url: str) -> list[float]:
    """Seconds from each caller's digit to the first agent phone that rang for their call."""
    from sqlalchemy import select

    from hub.db import create_engine, session_factory
    from hub.models import Interaction

    engine = create_engine(url)
    async with session_factory(engine)() as s:
        keys = dict((await s.execute(select(Interaction.id, Interaction.thread_key))).all())
    await engine.dispose()
    first: dict[str, float] = {}
    for phone in phones:
        for at, leg in zip(phone.at, phone, strict=True):
            interaction = leg.variables.get("contacthub_interaction", "")
            key = str(keys.get(int(interaction), "")) if interaction.isdigit() else ""
            caller = key.removeprefix("call:")
            if caller in pressed:
                first[caller] = min(first.get(caller, at), at)
    return [at - pressed[caller] for caller, at in first.items()]


def percentiles(waits: list[float]) -> dict[str, float]:
    if not waits:
        return {"p50_ms": 0.0, "p99_ms": 0.0}
    ordered = sorted(waits)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 1), "p99_ms": round(p99 * 1000, 1)}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="contacthub-voice-") as tmp:
        if args.database_url:
            async with scratch_database(args.database_url) as url:
                result = await measure(url, Path(tmp), args.calls, args.agents)
        else:
            url = f"sqlite+aiosqlite:///{tmp}/bench.sqlite"
            result = await measure(url, Path(tmp), args.calls, args.agents)
    result["database"] = "postgresql" if args.database_url else "sqlite"
    return result


def main() -> None:
    if sys.argv[1:2] == ["--serve-hub"]:
        url, data_dir, esl, outbound, flow, agents = sys.argv[2:8]
        asyncio.run(serve_hub(url, Path(data_dir), int(esl), int(outbound), Path(flow), int(agents)))
        return
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100, help="callers ringing at once")
    parser.add_argument("--agents", type=int, default=100, help="agents with a phone, all idle at the start")
    parser.add_argument("--database-url", default="",
                        help="a PostgreSQL server (postgresql+asyncpg://...): the run makes a fresh "
                             "database there and drops it afterwards; embedded SQLite by default")
    result = asyncio.run(run(parser.parse_args()))
    print(f"{'measure':<36}{'value':>12}   ({result['database']}, {result['calls']} calls, "
          f"{result['agents']} agents)")
    print(f"{'calls that rang an agent':<36}{result['rang']:>12}")
    print(f"{'last digit -> agent rings, p50 ms':<36}{result['p50_ms']:>12.1f}")
    print(f"{'last digit -> agent rings, p99 ms':<36}{result['p99_ms']:>12.1f}")
    print(f"{'call events per s (subscribed)':<36}{result['events_per_s']:>12.1f}")
    print(f"{'commands from the hub':<36}{result['hub_commands']:>12}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
