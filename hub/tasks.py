"""Background jobs: the Celery app and its tasks. Tasks take ids, re-read, and are idempotent."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sqlite3
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import worker_ready
from sqlalchemy import select

from hub.core import HubCore, create_hub
from hub.db import transaction
from hub.errors import InvalidRequest
from hub.events import InteractionEvent
from hub.inbox import close_row
from hub.jobs import PluginJob, run_once
from hub.models import Interaction, InteractionStatus, Message, utcnow
from hub.outbound import send_message
from hub.routing import state_jobs
from hub.settings import STARTED_BY, Settings, load_settings

log = logging.getLogger("contacthub.tasks")
SQLITE_BROKER = "sqla+sqlite:///"
SQLITE_BROKER_WAIT = 20.0
"""Seconds a process waits for the embedded broker's write lock before its queueing fails."""


def celery_app(settings: Settings) -> Celery:
    """A Celery app for these settings: Redis in production, a SQLite file broker embedded."""
    app = Celery("contacthub", broker=settings.broker_url, set_as_current=False)
    if settings.broker_url.startswith(SQLITE_BROKER):
        _prepare_sqlite_broker(settings.broker_url.removeprefix(SQLITE_BROKER))
        # The hub and every worker share the file: a writer waits for the others' short locks
        # rather than failing at SQLite's default five seconds on a busy machine.
        app.conf.broker_transport_options = {"connect_args": {"timeout": SQLITE_BROKER_WAIT}}
    sweep = state_jobs.sweep_seconds(settings)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        timezone="UTC",
        beat_schedule={
            "close-idle-chats": {
                "task": "hub.close_idle_chats", "schedule": settings.chat_idle_sweep_seconds,
            },
            # A sweep still queued when the next one is due is dropped: a worker back from an
            # outage runs one sweep, not one for every period it missed.
            "end-due-wrap-ups": {
                "task": "hub.end_due_wrap_ups", "schedule": sweep, "options": {"expires": sweep},
            },
            "notify-overdue": {
                "task": "hub.notify_overdue", "schedule": sweep, "options": {"expires": sweep},
            },
            "ticket-deadlines": {
                "task": "hub.ticket_deadlines", "schedule": settings.ticket_sweep_seconds,
                "options": {"expires": settings.ticket_sweep_seconds},
            },
        },
    )
    _add_plugin_jobs(app, settings)
    app.task(name="hub.close_idle_chats")(close_idle_chats)
    app.task(name="hub.close_idle_chat")(close_idle_chat)
    app.task(name="hub.end_due_wrap_ups")(end_due_wrap_ups)
    app.task(name="hub.notify_overdue")(notify_overdue)
    app.task(name="hub.ticket_deadlines")(ticket_deadlines)
    return app


def _prepare_sqlite_broker(path: str) -> None:
    """Put the embedded broker's file in write-ahead-log mode (kept in the file), so that the
    workers polling it never block the hub queueing a job."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(path, timeout=SQLITE_BROKER_WAIT)) as db:
        db.execute("PRAGMA journal_mode=WAL")


def _add_plugin_jobs(app: Celery, settings: Settings) -> None:
    """Every plugin's ``PluginJob`` as a Celery task, retried with its backoff on NotReady."""
    from hub.jobs import plugin_jobs
    from hub.plugins import create_plugin_manager

    for job in plugin_jobs(create_plugin_manager(blocked=settings.blocked_plugins)).values():
        def run(task: Any, *args: Any, _job: PluginJob = job) -> None:
            delay = _worker.run(run_once, _job, args, task.request.retries)
            if delay is not None:
                # max_retries=None: the job counts its own retries and gives up itself.
                raise task.retry(countdown=delay, max_retries=None)

        app.task(name=job.task_name, bind=True)(run)
        if job.every is not None:
            app.conf.beat_schedule[job.task_name] = {
                "task": job.task_name, "schedule": job.every, "options": {"expires": job.every},
            }


class _WorkerHub:
    """One hub and one event loop per worker process, reused by every task it runs."""

    def __init__(self) -> None:
        self._runner: asyncio.Runner | None = None
        self._core: HubCore | None = None
        self._lock = threading.Lock()

    def run(self, coro_fn: Any, *args: Any) -> Any:
        with self._lock:
            if self._runner is None:
                self._runner = asyncio.Runner()
            return self._runner.run(self._call(coro_fn, *args))

    async def _call(self, coro_fn: Any, *args: Any) -> Any:
        if self._core is None:
            core = create_hub(load_settings(), serves_channels=False)
            await core.start()
            self._core = core
        return await coro_fn(self._core, *args)


_worker = _WorkerHub()


def close_idle_chats() -> int:
    """Beat job: queue one close for each live chat idle longer than the setting."""
    ids = _worker.run(idle_chat_ids)
    for interaction_id in ids:
        celery.send_task("hub.close_idle_chat", args=(interaction_id,))
    return len(ids)


def close_idle_chat(interaction_id: int) -> bool:
    """Close one idle chat with a closing message; a repeat or a late retry does nothing."""
    return bool(_worker.run(close_if_idle, interaction_id))


def end_due_wrap_ups() -> int:
    """Beat job: return to idle the agents whose automatic wrap-up outlived the router's timer
    (a restart, a lost process); how many it moved. Two at once move each agent once."""
    return len(_worker.run(state_jobs.wrap_up_sweep))


def notify_overdue() -> int:
    """Beat job: alert agents and supervisors to leaves and adjusts past their limit, each
    once per reminder period however many workers sweep; how many alerts it told."""
    return len(_worker.run(state_jobs.overdue_sweep))


def ticket_deadlines() -> dict[str, int]:
    """Beat job: warn before tickets' step deadlines, urge and escalate when they pass; each
    breach told once however many workers sweep (``hub.tickets.escalation``)."""
    from hub.tickets.escalation import sweep as deadline_sweep

    result = _worker.run(deadline_sweep)
    return {"warned": len(result.warned), "breached": len(result.breached), "overdue": len(result.overdue)}


async def idle_chat_ids(core: HubCore) -> list[int]:
    cutoff = utcnow() - timedelta(minutes=core.settings.chat_idle_close_minutes)
    realtime = [name for name, ch in core.channels.items() if ch.capabilities.realtime]
    async with core.sessions() as s:
        return list((await s.execute(select(Interaction.id).where(
            Interaction.channel.in_(realtime),  # type: ignore[attr-defined]
            Interaction.closed_at.is_(None),  # type: ignore[union-attr]
            Interaction.updated_at < cutoff,
        ))).scalars())


async def close_if_idle(core: HubCore, interaction_id: int) -> bool:
    """Send the closing text and close the chat, if it is still open and idle; True if closed."""
    cutoff = utcnow() - timedelta(minutes=core.settings.chat_idle_close_minutes)
    async with core.sessions() as s:
        interaction = await s.get(Interaction, interaction_id)
        if interaction is None or interaction.closed_at is not None:
            return False
        last_seq = interaction.last_seq
        last = (await s.execute(select(Message.external_id).where(
            Message.interaction_id == interaction_id, Message.seq == last_seq))).scalar_one_or_none()
    # The closing message's client id names the interaction and the message it follows: a
    # retried task finds it already stored instead of sending it twice, and a chat that
    # came back to life after a closing message gets a fresh one when it goes quiet again.
    prefix = f"idle-close-{interaction_id}-"
    if last is not None and last.startswith(f"out:{prefix}"):
        closing_id = await send_message(core, interaction_id, core.settings.chat_idle_close_text,
                                        author_type="system", client_id=last.removeprefix("out:"))
    elif interaction.updated_at >= cutoff:
        return False
    else:
        try:
            # after_seq: stored only if the customer has not written since we looked.
            closing_id = await send_message(core, interaction_id, core.settings.chat_idle_close_text,
                                            author_type="system", client_id=f"{prefix}{last_seq}",
                                            after_seq=last_seq)
        except InvalidRequest as err:
            if err.error_id in ("interaction_moved", "interaction_closed"):
                return False
            raise
    async with transaction(core.sessions) as s:
        interaction = await s.get(Interaction, interaction_id)
        closing = await s.get(Message, closing_id)
        if interaction is None or interaction.status == InteractionStatus.CLOSED:
            return False
        if closing is None or interaction.last_seq != closing.seq:
            # The customer wrote again just now: the chat is not idle after all.
            return False
        await close_row(s, interaction, "timeout", "closed by the idle-chat job")
    await core.interaction_event(InteractionEvent(
        "closed", interaction_id, interaction.channel, interaction.customer_id,
        queue=interaction.queue, agent_id=interaction.agent_id, disposition="timeout",
    ))
    log.info("closed idle chat %s", interaction_id)
    return True


@worker_ready.connect
def _stop_with_the_hub(**_kwargs: Any) -> None:
    started_by = os.environ.get(STARTED_BY)
    if started_by:
        threading.Thread(target=_watch_hub, args=(int(started_by),), name="watch-hub", daemon=True).start()


def _watch_hub(pid: int) -> None:
    while os.getppid() == pid:
        time.sleep(1.0)
    log.warning("the hub process %s that started this worker is gone: stopping (running jobs finish, "
                "queued ones wait for the next worker)", pid)
    os.kill(os.getpid(), signal.SIGTERM)


celery = celery_app(load_settings())
"""The app ``celery -A hub.tasks worker`` runs, configured from the environment."""
