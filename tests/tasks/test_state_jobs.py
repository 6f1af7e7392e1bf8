"""The agent-state sweeps, called directly on both databases: automatic wrap-ups the router's
timer lost are ended once, and overdue leaves and adjusts are told once per reminder period,
however many workers sweep and whether or not one restarted."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub import tasks as hub_tasks
from hub.core import HubCore, create_hub
from hub.models import Agent, AgentStateSpan
from hub.routing.state_jobs import (
    SUPERVISORS,
    FileClaims,
    RedisClaims,
    end_due_wrap_ups,
    notify_overdue,
    state_policy,
)
from hub.routing.state_reasons import ensure_reasons
from hub.routing.states import TOPIC, AgentState, AgentStates, StatePolicy
from hub.settings import load_settings
from tests.routing_states.conftest import add_agent

S = AgentState
NINE = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
POLICY = StatePolicy(wrap_up_seconds=30, adjust_warning_seconds=300)
REMINDER = 600.0


def at(minutes: float) -> datetime:
    """``minutes`` after nine."""
    return NINE + timedelta(minutes=minutes)


class Heard:
    """What a hub's bus carried, by topic."""

    def __init__(self, core: HubCore, *topics: str) -> None:
        self.got: list[tuple[str, dict[str, Any]]] = []
        for topic in topics:
            core.bus.subscribe(topic, self._listen)

    async def _listen(self, topic: str, payload: dict[str, Any]) -> None:
        self.got.append((topic, payload))

    def on(self, topic: str) -> list[dict[str, Any]]:
        return [payload for got, payload in self.got if got == topic]


class OtherWorker:
    """A second worker, like another process: its own thread, event loop and hub on the same
    database. (Two hubs on one loop would deadlock on SQLite's write lock, which two processes
    never do.)"""

    def __init__(self, database_url: str, data_dir: Path) -> None:
        self.settings = load_settings(data_dir=data_dir, database_url=database_url)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.heard: Heard | None = None

    async def __aenter__(self) -> OtherWorker:
        self.thread.start()
        self.core = await self.call(self._start)
        return self

    async def _start(self) -> HubCore:
        core = create_hub(self.settings, load_entry_points=False)
        await core.start()
        self.heard = Heard(core, TOPIC, SUPERVISORS)
        return core

    async def call(self, fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        """``await fn(*args, **kwargs)`` on this worker's loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(fn(*args, **kwargs), self.loop))

    async def __aexit__(self, *_exc: object) -> None:
        await self.call(self.core.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        await asyncio.to_thread(self.thread.join)
        self.loop.close()


@pytest.fixture
async def other_worker(hub_core: HubCore, tmp_path: Path) -> Any:
    async with OtherWorker(hub_core.settings.database_url, tmp_path / "other") as worker:
        yield worker


@pytest.fixture
async def states(hub_core: HubCore) -> AgentStates:
    await ensure_reasons(hub_core)
    return AgentStates(hub_core, POLICY)


@pytest.fixture
def claims(tmp_path: Path) -> FileClaims:
    return FileClaims(tmp_path / "alerted")


async def in_wrap_up(states: AgentStates, since: datetime, interaction_id: int = 1) -> int:
    """A new agent who took a contact and went into automatic wrap-up at ``since``."""
    agent = await add_agent(states.core)
    await states.change(agent, S.IDLE, by=agent, now=since - timedelta(minutes=3))
    await states.change(agent, S.OFFERED, now=since - timedelta(minutes=2), interaction_id=interaction_id)
    await states.change(agent, S.ACTIVE, by=agent, now=since - timedelta(minutes=1))
    change = await states.change(agent, S.WRAP_UP, now=since)
    assert change.event.reason == "auto"
    return agent


async def on_leave(states: AgentStates, since: datetime, reason: str = "restroom",
                   state: AgentState = S.LEAVE) -> int:
    """A new agent, named after the reason, on leave (or adjusting) since ``since``."""
    agent = await add_agent(states.core)
    await states.change(agent, S.IDLE, by=agent, now=since - timedelta(minutes=1))
    await states.change(agent, state, reason=reason, by=agent, now=since)
    return agent


async def spans(core: HubCore, agent: int) -> list[tuple[str, str, datetime, datetime | None]]:
    async with core.sessions() as s:
        rows = (await s.execute(select(AgentStateSpan).where(AgentStateSpan.agent_id == agent)
                                .order_by(AgentStateSpan.id))).scalars()  # type: ignore[arg-type]
        return [(r.state, r.reason, r.started_at, r.ended_at) for r in rows]


async def agent_name(core: HubCore, agent: int) -> str:
    async with core.sessions() as s:
        found = await s.get(Agent, agent)
    assert found is not None
    return found.name


# Wrap-up


async def test_an_automatic_wrap_up_past_its_end_returns_the_agent_to_idle(
    states: AgentStates, hub_core: HubCore
) -> None:
    agent = await in_wrap_up(states, at(0))
    heard = Heard(hub_core, TOPIC)

    assert await end_due_wrap_ups(states, now=at(2)) == [agent]

    assert (await spans(hub_core, agent))[-2:] == [
        ("wrap_up", "auto", at(0), at(2)), ("idle", "", at(2), None)]
    [event] = heard.on(TOPIC)
    assert (event["agent_id"], event["from_state"], event["to_state"], event["by"]) == (
        agent, "wrap_up", "idle", None)
    assert await end_due_wrap_ups(states, now=at(3)) == []


async def test_a_wrap_up_not_yet_due_or_entered_by_hand_is_left_alone(
    hub_core: HubCore,
) -> None:
    await ensure_reasons(hub_core)
    states = AgentStates(hub_core, StatePolicy(wrap_up_seconds=30, manual_wrap_up=True))
    fresh = await in_wrap_up(states, at(0))
    manual = await add_agent(hub_core)
    await states.change(manual, S.IDLE, by=manual, now=at(-60))
    await states.change(manual, S.WRAP_UP, by=manual, now=at(-59))

    assert await end_due_wrap_ups(states, now=at(0.4)) == []

    assert (await states.current(fresh)).state == S.WRAP_UP
    assert (await states.current(manual)).state == S.WRAP_UP


async def test_a_wrap_up_the_agent_already_left_is_not_touched(
    states: AgentStates, hub_core: HubCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = await in_wrap_up(states, at(0))
    listed = await states.wrap_ups_due(at(2))
    # The agent takes a break between the sweep's read and its change.
    await states.change(agent, S.BUSY, reason="break", by=agent, now=at(1))
    monkeypatch.setattr(states, "wrap_ups_due", lambda _now: asyncio.sleep(0, listed))

    assert await end_due_wrap_ups(states, now=at(2)) == []

    assert (await states.current(agent)).state == S.BUSY


async def test_two_workers_sweeping_at_once_return_each_agent_to_idle_once(
    states: AgentStates, hub_core: HubCore, other_worker: OtherWorker
) -> None:
    agents = [await in_wrap_up(states, at(0), interaction_id=n) for n in range(6)]
    heard = Heard(hub_core, TOPIC)
    other = AgentStates(other_worker.core, POLICY)

    moved = await asyncio.gather(end_due_wrap_ups(states, now=at(2)),
                                 other_worker.call(end_due_wrap_ups, other, now=at(2)))

    assert sorted(moved[0] + moved[1]) == agents
    for agent in agents:
        assert [state for state, *_ in await spans(hub_core, agent)] == [
            "idle", "offered", "active", "wrap_up", "idle"]
    assert other_worker.heard is not None
    told = [event["agent_id"] for h in (heard, other_worker.heard) for event in h.on(TOPIC)]
    assert sorted(told) == agents


# Overdue


async def test_a_leave_past_its_limit_alerts_the_agent_and_the_supervisors_once(
    states: AgentStates, hub_core: HubCore, claims: FileClaims
) -> None:
    agent = await on_leave(states, at(0))
    heard = Heard(hub_core, f"agent:{agent}", SUPERVISORS)

    assert await notify_overdue(states, claims, now=at(10), reminder_seconds=REMINDER) == []
    [told] = await notify_overdue(states, claims, now=at(11), reminder_seconds=REMINDER)
    assert await notify_overdue(states, claims, now=at(12), reminder_seconds=REMINDER) == []
    assert await notify_overdue(states, claims, now=at(19.9), reminder_seconds=REMINDER) == []

    assert told.agent_id == agent
    alert = {"type": "alert", "kind": "overdue", "agent_id": agent, "state": "leave", "reason": "restroom",
             "since": at(0).isoformat(), "limit_seconds": 600, "over_seconds": 60.0}
    assert heard.got == [(f"agent:{agent}", alert),
                         (SUPERVISORS, {**alert, "agent_name": await agent_name(hub_core, agent)})]


async def test_an_overdue_leave_is_told_again_after_each_reminder_period(
    states: AgentStates, hub_core: HubCore, claims: FileClaims
) -> None:
    agent = await on_leave(states, at(0), reason="meal")  # 30 minutes
    heard = Heard(hub_core, SUPERVISORS)

    for minute in (31, 35, 40, 41, 45, 51, 59):
        await notify_overdue(states, claims, now=at(minute), reminder_seconds=REMINDER)

    assert [alert["over_seconds"] for alert in heard.on(SUPERVISORS)] == [60.0, 600.0, 1260.0]
    assert {alert["agent_id"] for alert in heard.on(SUPERVISORS)} == {agent}


async def test_without_reminders_an_overdue_leave_is_told_once(
    states: AgentStates, hub_core: HubCore, claims: FileClaims
) -> None:
    await on_leave(states, at(0))
    heard = Heard(hub_core, SUPERVISORS)

    for minute in (11, 30, 120, 600):
        await notify_overdue(states, claims, now=at(minute), reminder_seconds=0)

    assert len(heard.on(SUPERVISORS)) == 1


async def test_an_adjust_past_its_warning_alerts_only_the_supervisors(
    states: AgentStates, hub_core: HubCore, claims: FileClaims
) -> None:
    agent = await on_leave(states, at(0), reason="", state=S.ADJUST)
    heard = Heard(hub_core, f"agent:{agent}", SUPERVISORS)

    assert await notify_overdue(states, claims, now=at(5), reminder_seconds=REMINDER) == []
    await notify_overdue(states, claims, now=at(6), reminder_seconds=REMINDER)

    assert heard.on(f"agent:{agent}") == []
    [alert] = heard.on(SUPERVISORS)
    assert (alert["state"], alert["reason"], alert["limit_seconds"], alert["over_seconds"]) == (
        "adjust", "", 300, 60.0)


async def test_a_leave_without_a_limit_a_leave_within_it_and_an_ended_one_alert_nobody(
    states: AgentStates, hub_core: HubCore, claims: FileClaims
) -> None:
    await ensure_reasons(hub_core, [{"state": "leave", "code": "exam", "label_en": "Exam"}])
    await on_leave(states, at(0), reason="exam")
    await on_leave(states, at(0), reason="meal")
    back = await on_leave(states, at(0))
    await states.change(back, S.IDLE, by=back, now=at(8))
    heard = Heard(hub_core, SUPERVISORS)

    assert await notify_overdue(states, claims, now=at(20), reminder_seconds=REMINDER) == []
    assert heard.got == []


async def test_a_restarted_worker_does_not_tell_again_within_the_same_step(
    states: AgentStates, hub_core: HubCore, tmp_path: Path
) -> None:
    await on_leave(states, at(0))
    heard = Heard(hub_core, SUPERVISORS)

    await notify_overdue(states, FileClaims(tmp_path / "alerted"), now=at(11), reminder_seconds=REMINDER)
    restarted = AgentStates(hub_core, POLICY)
    await notify_overdue(restarted, FileClaims(tmp_path / "alerted"), now=at(12), reminder_seconds=REMINDER)

    assert len(heard.on(SUPERVISORS)) == 1


async def test_a_new_leave_after_a_told_one_is_told_on_its_own(
    states: AgentStates, hub_core: HubCore, claims: FileClaims
) -> None:
    agent = await on_leave(states, at(0))
    heard = Heard(hub_core, SUPERVISORS)
    await notify_overdue(states, claims, now=at(11), reminder_seconds=REMINDER)
    await states.change(agent, S.IDLE, by=agent, now=at(12))
    await states.change(agent, S.LEAVE, reason="restroom", by=agent, now=at(13))

    await notify_overdue(states, claims, now=at(24), reminder_seconds=REMINDER)

    assert [alert["since"] for alert in heard.on(SUPERVISORS)] == [at(0).isoformat(), at(13).isoformat()]


async def test_an_alert_whose_publish_failed_is_told_by_the_next_sweep(
    states: AgentStates, hub_core: HubCore, claims: FileClaims, monkeypatch: pytest.MonkeyPatch
) -> None:
    await on_leave(states, at(0))
    heard = Heard(hub_core, SUPERVISORS)
    real = hub_core.bus.publish

    async def down(*_args: Any) -> None:
        raise ConnectionError("Redis went away")

    with monkeypatch.context() as m:
        m.setattr(hub_core.bus, "publish", down)
        with pytest.raises(ConnectionError):
            await notify_overdue(states, claims, now=at(11), reminder_seconds=REMINDER)
    assert hub_core.bus.publish == real

    assert len(await notify_overdue(states, claims, now=at(11.5), reminder_seconds=REMINDER)) == 1
    assert len(heard.on(SUPERVISORS)) == 1


async def two_workers_tell(states: AgentStates, other_worker: OtherWorker,
                           claims_of: Callable[[int], Any]) -> None:
    """Two workers on one database sweep at once, several times: each alert reaches the
    supervisors once, from one worker or the other."""
    agents = [await on_leave(states, at(0)) for _ in range(4)]
    heard = Heard(states.core, SUPERVISORS)
    other = AgentStates(other_worker.core, POLICY)
    for minute in (11, 11, 12):
        await asyncio.gather(
            notify_overdue(states, claims_of(0), now=at(minute), reminder_seconds=REMINDER),
            other_worker.call(notify_overdue, other, claims_of(1), now=at(minute), reminder_seconds=REMINDER))
    assert other_worker.heard is not None
    told = sorted(alert["agent_id"] for h in (heard, other_worker.heard) for alert in h.on(SUPERVISORS))
    assert told == agents


async def test_two_workers_sweeping_at_once_tell_each_alert_once(
    states: AgentStates, other_worker: OtherWorker, tmp_path: Path
) -> None:
    await two_workers_tell(states, other_worker, lambda _n: FileClaims(tmp_path / "alerted"))


async def test_two_workers_sharing_redis_tell_each_alert_once(
    states: AgentStates, other_worker: OtherWorker, redis_url: str
) -> None:
    from redis import asyncio as aioredis

    # One client per worker: each connects on first use, on its own worker's loop. A prefix
    # of the test's own: every test's database starts its agents at id 1.
    mine, theirs = aioredis.from_url(redis_url), aioredis.from_url(redis_url)
    prefix = f"test:{uuid.uuid4().hex}:"
    try:
        await two_workers_tell(states, other_worker,
                               lambda n: RedisClaims(mine if n == 0 else theirs, prefix))
        ttl = await mine.ttl(next(iter(await mine.keys(prefix + "*"))))
        assert 0 < ttl <= 24 * 3600
    finally:
        await mine.aclose()
        await other_worker.call(theirs.aclose)


def test_a_stale_claim_file_is_forgotten(tmp_path: Path) -> None:
    directory = tmp_path / "alerted"

    async def run() -> list[bool]:
        first = FileClaims(directory)
        taken = [await first.claim("k", 3600), await first.claim("k", 3600)]
        old = (directory / "k").stat().st_mtime - 7200
        os.utime(directory / "k", (old, old))
        return [*taken, await FileClaims(directory).claim("k", 3600)]

    assert asyncio.run(run()) == [True, False, True]


# Schedule


def test_both_sweeps_run_on_beat_every_state_sweep_seconds(tmp_path: Path) -> None:
    app = hub_tasks.celery_app(load_settings(data_dir=tmp_path))
    schedule = app.conf.beat_schedule

    sweeps = [("end-due-wrap-ups", "hub.end_due_wrap_ups"), ("notify-overdue", "hub.notify_overdue")]
    for entry, task in sweeps:
        assert schedule[entry]["task"] == task
        assert schedule[entry]["schedule"] == 15.0
        assert schedule[entry]["options"] == {"expires": 15.0}
        assert task in app.tasks
    assert app.conf.task_acks_late is True
    assert schedule["close-idle-chats"]["task"] == "hub.close_idle_chats"


def test_the_sweeps_use_the_routers_policy(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, wrap_up_seconds=45, adjust_warning_seconds=120,
                             state_sweep_seconds=2.5)

    assert state_policy(settings) == StatePolicy(wrap_up_seconds=45, adjust_warning_seconds=120)
    assert hub_tasks.celery_app(settings).conf.beat_schedule["notify-overdue"]["schedule"] == 2.5


# A real worker with beat


Seen = Callable[[AgentStates, int], Awaitable[bool]]


async def worker_sweeps(tmp_path: Path, seen: Seen, **env: str) -> tuple[int, str]:
    """Run the web process and a Celery worker with beat sweeping every second; put an agent in
    a wrap-up whose timer nobody holds and another on an overdue leave; wait until ``seen``
    (states, the wrapping agent) says so. The agent on leave and the worker's log."""
    from tests.tasks.test_worker_process import running_hub

    async with asyncio.timeout(55), running_hub(tmp_path, CONTACTHUB_STATE_SWEEP_SECONDS="1", **env) as hub:
        settings = load_settings(data_dir=hub.data_dir, redis_url=env.get("CONTACTHUB_REDIS_URL", ""))
        core = create_hub(settings, load_entry_points=False, serves_channels=False)
        await core.start()
        try:
            states = AgentStates(core, state_policy(settings))
            now = datetime.now(UTC)
            wrapping = await in_wrap_up(states, now - timedelta(minutes=1))
            leaving = await on_leave(states, now - timedelta(minutes=11))
            while True:
                if await seen(states, wrapping):
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(3)  # three more sweeps, which must tell nothing new
        finally:
            await core.stop()
    return leaving, hub.logs["worker"].read_text()


def succeeded(log: str, task: str) -> list[str]:
    """What each run of ``task`` returned, from the worker's log."""
    return [line.rsplit(": ", 1)[1] for line in log.splitlines()
            if f"Task {task}[" in line and "succeeded" in line]


@pytest.mark.slow
async def test_a_worker_on_beat_ends_a_lost_wrap_up_and_alerts_an_overdue_leave_over_redis(
    tmp_path: Path, redis_url: str
) -> None:
    from redis import asyncio as aioredis

    redis = aioredis.from_url(redis_url)
    pubsub = redis.pubsub()
    await pubsub.subscribe("contacthub:events")
    alerts: list[tuple[str, dict[str, Any]]] = []

    async def seen(states: AgentStates, wrapping: int) -> bool:
        while item := await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.05):
            envelope = json.loads(item["data"])
            if envelope["payload"].get("type") == "alert":
                alerts.append((envelope["topic"], envelope["payload"]))
        return (await states.current(wrapping)).state == S.IDLE and len(alerts) == 2

    try:
        leaving, log = await worker_sweeps(
            tmp_path, seen, CONTACTHUB_REDIS_URL=redis_url,
            CONTACTHUB_BROKER_URL=redis_url.rsplit("/", 1)[0] + "/8")
        await seen_late(pubsub, alerts)
    finally:
        await pubsub.aclose()
        await redis.aclose()

    assert [(topic, alert["agent_id"], alert["state"], alert["reason"]) for topic, alert in alerts] == [
        (f"agent:{leaving}", leaving, "leave", "restroom"), (SUPERVISORS, leaving, "leave", "restroom")]
    assert alerts[1][1]["agent_name"]
    assert "1" in succeeded(log, "hub.end_due_wrap_ups")
    assert succeeded(log, "hub.notify_overdue").count("1") == 1


async def seen_late(pubsub: Any, alerts: list[tuple[str, dict[str, Any]]]) -> None:
    """Alerts published during the last sweeps, still in the subscription."""
    while item := await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2):
        envelope = json.loads(item["data"])
        if envelope["payload"].get("type") == "alert":
            alerts.append((envelope["topic"], envelope["payload"]))


@pytest.mark.slow
async def test_a_worker_on_beat_ends_a_lost_wrap_up_and_alerts_an_overdue_leave_embedded(
    tmp_path: Path,
) -> None:
    async def seen(states: AgentStates, wrapping: int) -> bool:
        told = (tmp_path / "var" / "alerted").exists() and any((tmp_path / "var" / "alerted").iterdir())
        return told and (await states.current(wrapping)).state == S.IDLE

    leaving, log = await worker_sweeps(tmp_path, seen)

    assert [path.name.split("-")[:2] for path in (tmp_path / "var" / "alerted").iterdir()] == [
        [str(leaving), "leave"]]
    assert "1" in succeeded(log, "hub.end_due_wrap_ups")
    assert succeeded(log, "hub.notify_overdue").count("1") == 1
