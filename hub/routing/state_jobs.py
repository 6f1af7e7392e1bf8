"""The agent-state sweeps a worker runs on beat: end automatic wrap-ups whose timer was lost,
and alert agents and supervisors to leaves and adjusts that went on too long.

The bodies are plain coroutines over ``AgentStates`` (testable without Celery);
``wrap_up_sweep`` and ``overdue_sweep`` are what ``hub.tasks`` runs on a worker's hub.

Telling an overdue span once: an alert is keyed by the span and by its *step*, the number of
whole reminder periods (``overdue_reminder_minutes``, 10 by default) it is past its limit.
Step 0 is the threshold crossing; step 1 is "still overdue after 10 minutes", which
supervisors want anyway. Before publishing, a sweep *claims* the key where every worker
sees it: a Redis ``SET NX`` when ``redis_url`` is set (production), else a file created with
``O_EXCL`` under ``data_dir`` (the embedded set-up, whose SQLite database already keeps every
process on one machine). So two workers sweeping at once, a task redelivered after a crash
(acks late), or a restarted worker tell each step once. No column and no migration: a claim
only has to outlive its step, and a lost one costs at most one repeated alert.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select

from hub.errors import InvalidRequest
from hub.models import Agent, utcnow
from hub.routing.state_reports import Overdue
from hub.routing.states import AgentStates, StatePolicy

if TYPE_CHECKING:
    from hub.core import HubCore
    from hub.settings import Settings

log = logging.getLogger("contacthub.routing.state_jobs")

SUPERVISORS = "supervisors"
"""Bus topic of alerts for every supervisor's screen."""
CLAIM_TTL_SECONDS = 24 * 3600
"""How long a told alert is remembered. Longer than any step, so it only matters with
reminders off: a span overdue for more than a day is then told again once a day."""


def agent_topic(agent_id: int) -> str:
    """Bus topic of alerts for one agent's own screen."""
    return f"agent:{agent_id}"


def sweep_seconds(settings: Settings) -> float:
    """How often both sweeps run (``state_sweep_seconds``, 15 s by default)."""
    return settings.state_sweep_seconds


def reminder_seconds(settings: Settings) -> float:
    """How long after an alert an overdue span is told again; 0 turns reminders off."""
    return settings.overdue_reminder_minutes * 60


def state_policy(settings: Settings) -> StatePolicy:
    """The wrap-up length and adjust warning the sweeps apply; they must be the router's own,
    or a sweep would end wrap-ups the router still times."""
    return StatePolicy(wrap_up_seconds=settings.wrap_up_seconds,
                       adjust_warning_seconds=settings.adjust_warning_seconds,
                       manual_wrap_up=settings.manual_wrap_up)


async def end_due_wrap_ups(states: AgentStates, now: datetime | None = None) -> list[int]:
    """Return to idle every agent whose automatic wrap-up is past its end; the agents this run
    moved, each once.

    Safe to run in several workers at once and to repeat: ``end_wrap_up`` names the span it
    ends, so a wrap-up that the router's timer, the agent or another sweep ended first is
    left alone. An agent whose change fails is logged and left to the next sweep, not the
    others' problem. ``now`` (default: the clock) picks the due wrap-ups and dates their end.
    """
    ended = []
    for wrap_up in await states.wrap_ups_due(now or utcnow()):
        assert wrap_up.span_id is not None  # an open span always has an id
        try:
            change = await states.end_wrap_up(wrap_up.agent_id, wrap_up.span_id, now=now)
        except InvalidRequest as err:
            log.warning("could not end agent %s's wrap-up: %s", wrap_up.agent_id, err.message)
            continue
        if change is not None:
            ended.append(wrap_up.agent_id)
    return ended


class Claims(Protocol):
    """Where sweeps remember the alerts they told, visible to every worker."""

    async def claim(self, key: str, ttl_seconds: float) -> bool:
        """True for the first caller of ``key`` within ``ttl_seconds``, False for the rest."""
        ...

    async def release(self, key: str) -> None:
        """Forget ``key``, so the alert is told again (its publish failed)."""
        ...


class RedisClaims:
    """Claims as Redis keys that expire on their own; every worker of the hub shares them."""

    PREFIX = "contacthub:alerted:"

    def __init__(self, redis: Any, prefix: str = PREFIX) -> None:
        self._redis = redis
        self._prefix = prefix

    async def claim(self, key: str, ttl_seconds: float) -> bool:
        return bool(await self._redis.set(self._prefix + key, b"1", nx=True, ex=int(ttl_seconds)))

    async def release(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)


class FileClaims:
    """Claims as empty files in one directory: ``O_EXCL`` makes creating one atomic between the
    processes of one machine, and the files survive a restart."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._swept = False

    async def claim(self, key: str, ttl_seconds: float) -> bool:
        self._dir.mkdir(parents=True, exist_ok=True)
        if not self._swept:
            self._forget_older_than(ttl_seconds)
            self._swept = True
        try:
            os.close(os.open(self._dir / key, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            return False
        return True

    async def release(self, key: str) -> None:
        (self._dir / key).unlink(missing_ok=True)

    def _forget_older_than(self, ttl_seconds: float) -> None:
        # Only stale files go: a fresh claim another worker just made is never removed.
        cutoff = time.time() - ttl_seconds
        for path in self._dir.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()


@contextlib.asynccontextmanager
async def claims_for(settings: Settings) -> AsyncIterator[Claims]:
    """The claims every worker of these settings shares, for one sweep."""
    if not settings.redis_url:
        yield FileClaims(settings.data_dir / "alerted")
        return
    from redis import asyncio as aioredis

    redis = aioredis.from_url(settings.redis_url)
    try:
        yield RedisClaims(redis)
    finally:
        await redis.aclose()


def alert_key(item: Overdue, reminder_seconds: float) -> str:
    """The span and its step. An agent has one open span, and a later one of the same agent
    cannot start earlier, so agent, state and start name the span without its id."""
    step = int(item.over_seconds // reminder_seconds) if reminder_seconds > 0 else 0
    started = round(item.since.timestamp() * 1_000_000)
    return f"{item.agent_id}-{item.state}-{started}-{step}"


def alert(item: Overdue) -> dict[str, Any]:
    """The payload on the agent's topic; supervisors get it with ``agent_name`` added."""
    return {"type": "alert", "kind": "overdue", "agent_id": item.agent_id, "state": str(item.state),
            "reason": item.reason, "since": item.since.isoformat(), "limit_seconds": item.limit_seconds,
            "over_seconds": round(item.over_seconds, 1)}


async def notify_overdue(states: AgentStates, claims: Claims, *, now: datetime | None = None,
                         reminder_seconds: float = 600.0) -> list[Overdue]:
    """Alert about each leave or adjust past its limit, once per step; what this run told.

    A leave goes to the agent's topic and to ``supervisors``; an adjust to ``supervisors``
    only (``Overdue.notify``). Every database read happens before the first publish.
    """
    found = await states.overdue(now)
    if not found:
        return []
    names = await _names(states, {item.agent_id for item in found})
    told = []
    for item in found:
        key = alert_key(item, reminder_seconds)
        if not await claims.claim(key, CLAIM_TTL_SECONDS):
            continue
        try:
            await _publish(states, item, names.get(item.agent_id, ""))
        except Exception:
            # Untold after all: let the next sweep tell it rather than lose it for a step.
            await claims.release(key)
            raise
        told.append(item)
    return told


async def _names(states: AgentStates, agent_ids: set[int]) -> dict[int, str]:
    query = select(Agent.id, Agent.name).where(Agent.id.in_(agent_ids))  # type: ignore[union-attr]
    async with states.core.sessions() as s:
        return {int(agent_id): name for agent_id, name in (await s.execute(query)).all()}


async def _publish(states: AgentStates, item: Overdue, agent_name: str) -> None:
    payload = alert(item)
    if "agent" in item.notify:
        await states.core.bus.publish(agent_topic(item.agent_id), payload)
    if "supervisor" in item.notify:
        await states.core.bus.publish(SUPERVISORS, {**payload, "agent_name": agent_name})


async def wrap_up_sweep(core: HubCore) -> list[int]:
    """``end_due_wrap_ups`` with the hub's settings, for a worker."""
    return await end_due_wrap_ups(AgentStates(core, state_policy(core.settings)))


async def overdue_sweep(core: HubCore) -> list[Overdue]:
    """``notify_overdue`` with the hub's settings and shared claims, for a worker."""
    states = AgentStates(core, state_policy(core.settings))
    async with claims_for(core.settings) as claims:
        return await notify_overdue(states, claims, reminder_seconds=reminder_seconds(core.settings))
