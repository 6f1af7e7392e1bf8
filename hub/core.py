"""HubCore: one hub instance, its engine, plugin manager, channels and live bus."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import pluggy
from sqlalchemy import select

from hub.channel import Channel, HealthState
from hub.db import create_engine, session_factory
from hub.errors import ConfigError, NotReady
from hub.events import (
    EventBus,
    InteractionEvent,
    MessageEvent,
    RedisEventBus,
    RelayEventBus,
    TicketEvent,
    event_dict,
)
from hub.facade import Hub
from hub.files import FileStore
from hub.jobs import plugin_jobs, run_in_process
from hub.plugins import call_all, call_register, create_plugin_manager
from hub.settings import Settings

log = logging.getLogger("contacthub.core")
DELIVERIES = "deliveries"
"""Bus topic on which workers ask the web process to deliver a stored message."""


class HubCore:
    """Everything one running hub owns. Plugins never see this: they get a ``Hub`` facade."""

    def __init__(self, settings: Settings, pm: pluggy.PluginManager, *, serves_channels: bool = True) -> None:
        self.settings = settings
        self.pm = pm
        self.serves_channels = serves_channels
        """True in the web process, which holds the channels' live connections; False in
        workers, which store outbound messages and ask the web process to deliver them."""
        self.engine = create_engine(settings.database_url)
        self.sessions = session_factory(self.engine)
        self.bus = self._make_bus()
        self.files = FileStore(settings.files_dir, settings.upload_max_bytes, settings.upload_types)
        self.queue_names: set[str] = set()
        self.channels: dict[str, Channel] = {}
        self.channel_plugins: dict[str, str] = {}
        self.presence: dict[int, int] = {}
        """Live agent screens: agent id -> open agent websockets. The agent socket keeps it;
        plugins read it through ``Hub.agents_online`` (a chat widget's offline form)."""
        self._facades: dict[str, Hub] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.services = self._register_services()
        """Self-services by name (``hub_register_services``), for channels' automated flows."""
        self._register_channels()
        self.jobs = plugin_jobs(pm)
        """Plugins' background jobs by task name (``hub_register_tasks``)."""
        from hub.routing.service import RoutingService
        from hub.routing.state_jobs import state_policy
        from hub.routing.states import AgentStates

        self.states = AgentStates(self, state_policy(settings))
        """Agents' states, recorded as spans; every process may change them."""
        self.routing = RoutingService(self, self.states)
        """The ACD; it routes only in the process that holds the leader lock."""

    def _make_bus(self) -> EventBus:
        if self.settings.redis_url:
            return RedisEventBus(self.settings.redis_url)
        if not self.serves_channels:
            return RelayEventBus(self.settings.internal_url, self.settings.secret_key)
        return EventBus()

    def _register_services(self) -> dict[str, Any]:
        services: dict[str, Any] = {}
        owners: dict[str, str] = {}
        for plugin, registered in call_register(self.pm, "hub_register_services"):
            if not (isinstance(registered, tuple) and len(registered) == 2 and isinstance(registered[0], str)
                    and callable(registered[1])):
                raise ConfigError(f"plugin {plugin!r} must call register(name, service) "
                                  "in hub_register_services")
            name, service = registered
            if name in services:
                raise ConfigError(f"self-service {name!r} is registered twice: by plugin {owners[name]!r} "
                                  f"and by plugin {plugin!r}")
            services[name], owners[name] = service, plugin
        return services

    def _register_channels(self) -> None:
        for plugin, cls in call_register(self.pm, "hub_register_channels"):
            name = getattr(cls, "name", None)
            if not name:
                raise ConfigError(f"plugin {plugin!r} registered a channel class without a name")
            if name in self.channel_plugins:
                raise ConfigError(
                    f"channel {name!r} is registered twice: by plugin "
                    f"{self.channel_plugins[name]!r} and by plugin {plugin!r}"
                )
            self.channel_plugins[name] = plugin
            self.channels[name] = cls(self.facade(name))

    @functools.cached_property
    def celery(self) -> Any:
        """The Celery app this hub enqueues background jobs on."""
        from hub.tasks import celery_app

        return celery_app(self.settings)

    def enqueue(self, task: str, *args: Any) -> None:
        """Run a background job by task name: on the Celery worker, or on this event loop
        for a plugin job when the hub runs jobs in process. Raises ``NotReady`` when the
        broker would not take it twice."""
        job = self.jobs.get(task)
        if job is not None and self.settings.run_jobs_in_process:
            self.spawn(run_in_process(self, job, args))
            return
        try:
            self.celery.send_task(task, args=args)
        except Exception:
            # kombu can leave a pooled connection broken after a broker error (a SQLite broker
            # locked past its wait has left one without its transport), so the second try
            # starts from a new app and its new connections.
            log.warning("queueing %s on the broker failed; trying again on a new connection",
                        task, exc_info=True)
            self.__dict__.pop("celery").close()
            try:
                self.celery.send_task(task, args=args)
            except Exception as err:
                raise NotReady(f"the job queue did not take {task}: {err}") from err

    def facade(self, scope: str) -> Hub:
        """The facade handed to the plugin or channel called ``scope``."""
        if scope not in self._facades:
            self._facades[scope] = Hub(self, scope)
        return self._facades[scope]

    def channel(self, name: str) -> Channel:
        try:
            return self.channels[name]
        except KeyError:
            raise ConfigError(f"no channel named {name!r} is loaded") from None

    async def start(self) -> None:
        from hub.bootstrap import load_reference_data

        await self.bus.start()
        await load_reference_data(self)
        if not self.serves_channels:
            return
        self.bus.subscribe(DELIVERIES, self._on_delivery_request)
        for name, channel in self.channels.items():
            try:
                await channel.start()
            except Exception as err:
                channel.report_health(HealthState.DOWN, f"failed to start: {err}")
                log.exception("channel %s failed to start", name)
        await self.routing.start()

    async def _on_delivery_request(self, _topic: str, payload: dict[str, Any]) -> None:
        from hub.outbound import deliver

        self.spawn(deliver(self, int(payload["message_id"])))

    async def stop(self) -> None:
        if self.serves_channels:
            await self.routing.stop()
        for channel in self.channels.values() if self.serves_channels else ():
            try:
                await channel.stop()
            except Exception:
                log.exception("channel %s failed to stop cleanly", channel.name)
            channel.report_health(HealthState.STOPPED)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for facade in self._facades.values():
            await facade.close()
        await self.bus.stop()
        await self.engine.dispose()

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        """Run ``coro`` in the background, kept alive until it ends or the hub stops."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def interaction_event(self, event: InteractionEvent) -> None:
        await call_all(self.pm, "hub_on_interaction", event=event)
        payload = event_dict(event)
        await self.bus.publish("inbox", payload)
        await self.bus.publish(f"interaction:{event.interaction_id}", payload)

    async def message_event(self, event: MessageEvent, message: dict[str, Any] | None = None) -> None:
        """Hooks hear of it; the conversation's watchers get the whole message (they were
        allowed to watch it), the shared inbox topic only ids. ``message`` is the stored
        message as ``hub.history.message_dict`` gives it, when the caller has it at hand."""
        await call_all(self.pm, "hub_on_message", event=event)
        payload = event_dict(event)
        await self.bus.publish("inbox", payload)
        if event.kind in ("inbound", "outbound"):
            if message is None:
                from hub.history import messages_after

                async with self.sessions() as s:
                    found = await messages_after(s, event.interaction_id, event.seq - 1, limit=1)
                message = found[0] if found else None
            payload = {**payload, "message": message}
        await self.bus.publish(f"interaction:{event.interaction_id}", payload)

    async def ticket_event(self, event: TicketEvent) -> None:
        await call_all(self.pm, "hub_on_ticket", event=event)
        await self.bus.publish("tickets", event_dict(event))

    async def health(self) -> dict[str, dict[str, Any]]:
        report = {}
        for name, channel in self.channels.items():
            try:
                report[name] = (await channel.health()).as_dict()
            except Exception as err:
                report[name] = {"state": "down", "detail": f"health check failed: {err}"}
        return report

    async def refresh_queue_names(self) -> None:
        from hub.models import Queue

        async with self.sessions() as s:
            self.queue_names = set((await s.execute(select(Queue.name))).scalars())


def create_hub(
    settings: Settings, *, plugins: list[object] | None = None, load_entry_points: bool = True,
    serves_channels: bool = True,
) -> HubCore:
    """Build a hub with its own plugin manager: installed plugins unless told otherwise,
    plus ``plugins`` (objects or modules with hook implementations)."""
    pm = create_plugin_manager(
        blocked=settings.blocked_plugins, load_entry_points=load_entry_points, extra=plugins or ()
    )
    return HubCore(settings, pm, serves_channels=serves_channels)
