"""Plugins' background jobs: what a plugin registers, and how a failed run is retried.

A job is an async function ``run(hub, *args)`` taking the plugin's ``Hub`` facade and ids.
The Celery worker runs it (``hub.tasks`` registers every plugin job as a Celery task named
``<scope>.<name>``); a hub started with ``run_jobs_in_process`` runs it as a task of its own
event loop instead, with the same retry policy. Either way a job must be idempotent: it may
run again after a crash, a retry or a sweep that finds its work unfinished.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hub.errors import NotReady

if TYPE_CHECKING:
    from hub.core import HubCore
    from hub.facade import Hub

log = logging.getLogger("contacthub.jobs")
JobFunction = Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class PluginJob:
    """One background job a plugin contributes through ``hub_register_tasks``.

    ``every`` (seconds) also runs it periodically with no arguments (Celery beat); a periodic
    run still queued when the next is due is dropped. A run raising ``NotReady`` is retried
    after ``backoff * 2**attempt`` seconds (jittered, at most ``backoff_max``) up to
    ``max_retries`` times; then ``on_give_up(hub, error, *args)`` is awaited, if given.
    """

    scope: str
    name: str
    run: JobFunction
    every: float | None = None
    max_retries: int = 8
    backoff: float = 2.0
    backoff_max: float = 600.0
    on_give_up: JobFunction | None = None

    @property
    def task_name(self) -> str:
        return f"{self.scope}.{self.name}"

    def delay(self, attempt: int) -> float:
        """Seconds before retry number ``attempt`` (0-based)."""
        return min(self.backoff_max, self.backoff * 2 ** attempt) * random.uniform(1.0, 1.25)


def plugin_jobs(pm: Any) -> dict[str, PluginJob]:
    """Every plugin's jobs by task name; a name registered twice is a configuration error."""
    from hub.errors import ConfigError
    from hub.plugins import call_register

    jobs: dict[str, PluginJob] = {}
    for plugin, job in call_register(pm, "hub_register_tasks"):
        if not isinstance(job, PluginJob):
            raise ConfigError(f"plugin {plugin!r} registered a task that is not a PluginJob: {job!r}")
        if job.task_name in jobs:
            raise ConfigError(f"task {job.task_name!r} is registered twice (again by plugin {plugin!r})")
        jobs[job.task_name] = job
    return jobs


async def run_once(core: HubCore, job: PluginJob, args: tuple[Any, ...], attempt: int) -> float | None:
    """Run ``job`` once; the seconds to wait before retrying it, or None when it is done
    (succeeded, gave up, or failed in a way a retry cannot mend, which is logged)."""
    hub: Hub = core.facade(job.scope)
    try:
        await job.run(hub, *args)
        return None
    except NotReady as err:
        if attempt < job.max_retries:
            delay = job.delay(attempt)
            log.info("job %s%s not done (%s); retry %d in %.1f s", job.task_name, args, err,
                     attempt + 1, delay)
            return delay
        log.warning("job %s%s gave up after %d retries: %s", job.task_name, args, attempt, err)
        if job.on_give_up is not None:
            await job.on_give_up(hub, err, *args)
        return None


async def run_in_process(core: HubCore, job: PluginJob, args: tuple[Any, ...]) -> None:
    """Run ``job`` with retries on this event loop (hubs without a worker: tests, embedding)."""
    attempt = 0
    while True:
        try:
            delay = await run_once(core, job, args, attempt)
        except Exception:
            log.exception("job %s%s crashed", job.task_name, args)
            return
        if delay is None:
            return
        await asyncio.sleep(delay)
        attempt += 1
