"""The plugin contract: every hook the hub calls, who calls it, when, and what it expects.

Naming: ``hub_register_*`` contributes objects through a ``register`` callable;
``hub_on_*`` observes an event (every implementation is called, results ignored); the
decision hooks (``hub_identify_customer``, ``hub_pick_queue``) are asked plugin by plugin
and the first answer that is not None wins. Any implementation may be ``async def``: the
hub awaits what is awaitable. A failing implementation is logged with its plugin's name and
does not stop the others, except in ``hub_register_*``, where it stops start-up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from hub.channel import Channel
    from hub.events import AgentStateEvent, InteractionEvent, MessageEvent, OfferEvent, TicketEvent
    from hub.facade import Hub
    from hub.jobs import PluginJob
    from hub.messages import InboundMessage
    from hub.routing.strategies import KeyFunction
    from hub.tickets.outages import OutageEvent

SelfService = Callable[[Mapping[str, str]], Awaitable[Mapping[str, Any] | None]]
"""A self-service (``hub_register_services``): the flow's variables in, its values out."""

PROJECT = "contacthub"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def hub_register_channels(register: Callable[[type[Channel]], None]) -> None:
    """Contribute channel classes.

    Called once, synchronously, while the hub is created. Call ``register(cls)`` for each
    ``Channel`` subclass the plugin provides; the hub instantiates it with the ``Hub`` facade
    and starts it with the web server. Two channels with the same ``name`` stop start-up
    with one line naming both plugins. Return nothing.
    """


@hookspec
def hub_identify_customer(hub: Hub, channel: str, address: str) -> int | None:
    """Decide which customer an inbound address belongs to.

    Called by ``ingest`` when (channel, address) is not yet a known identity, before the
    hub creates a new customer. A back-office adapter (billing, CRM) returns the id of an
    existing customer row (it may create or update one through ``hub`` first) or None to
    let the next plugin, and finally the hub, decide. First non-None answer wins. May be
    async; it runs inside the ingest path, so keep it fast (a few ms).
    """


@hookspec
def hub_pick_queue(hub: Hub, interaction: dict[str, Any], message: InboundMessage) -> str | None:
    """Choose the queue a new interaction waits in.

    Called once per new interaction, after it is stored, with the interaction as a dict
    (id, channel, customer_id, thread_key, subject) and its first message. Return a queue
    name or None to pass. First non-None answer wins; when every plugin passes the queue
    named like the channel is used, then ``default``. May be async.
    """


@hookspec
def hub_on_interaction(event: InteractionEvent) -> None:
    """Observe an interaction's life: ``opened``, ``assigned``, ``followup`` (set aside to be
    answered later, e.g. a chat left while nobody was online), ``closed`` (with its disposition).

    Called after the change is committed, for every plugin; the return value is ignored.
    May be async. Slow work belongs in a background job, not here.
    """


@hookspec
def hub_on_message(event: MessageEvent) -> None:
    """Observe a stored message: inbound from a customer, outbound from an agent, and each
    change of an outbound message's delivery status.

    Called after the commit, for every plugin, never twice for the same stored message and
    status. The return value is ignored. May be async.
    """


@hookspec
def hub_on_ticket(event: TicketEvent) -> None:
    """Observe a work order's change (created, moved, urged, replied, closed).

    Called after the change is committed, for every plugin, by the ticket service (the
    work-order issue builds it on ``HubCore.ticket_event``). The return value is ignored.
    May be async.
    """


@hookspec
def hub_on_agent_state(event: AgentStateEvent) -> None:
    """Observe an agent's state change (idle, busy, offered, active, wrap-up, leave...).

    Called by ``hub.routing.states.AgentStates.change`` after the change is committed, for
    every plugin, once per change; the same event then goes to live screens on the
    ``agent-states`` topic. The return value is ignored. May be async.
    """


@hookspec
def hub_on_offer(event: OfferEvent) -> None:
    """Observe routing's offers: ``offered``, ``accepted``, ``declined``, ``timeout``, ``withdrawn``.

    Called once per change, for every plugin, by the process that decided it: the leading
    router (``hub.routing.service.RoutingService``) for ``offered``, ``timeout`` and
    ``withdrawn``, the process that took the agent's answer for ``accepted`` and ``declined``
    — after the offer is stored or its end is decided in the database. The same event then
    goes to the ``routing`` bus topic and to the agent's screens. A voice
    channel rings the agent's phone on ``offered`` and stops it on the others; reports count
    them. The return value is ignored. May be async.
    """


@hookspec
def hub_on_outage(event: OutageEvent) -> None:
    """Observe a major outage being ``declared`` or ``ended``.

    Called by ``hub.tickets.outages`` after the change is committed, for every plugin; the
    same event then goes to live screens on the ``outages`` topic (the inbox banner). A
    voice channel plays ``event.wording`` to callers from ``event.region`` while it lasts.
    The return value is ignored. May be async.
    """


@hookspec
def hub_register_dispositions(register: Callable[[str, dict[str, str]], None]) -> None:
    """Contribute disposition categories an agent may close an interaction with.

    Called once while the hub starts, synchronously. ``register(code, labels)`` with a
    stable code and labels per locale, e.g. ``register("refund", {"en": "Refund",
    "zh_CN": "退款"})``. Categories already stored are kept; new codes are added.
    """


@hookspec
def hub_register_strategies(register: Callable[[str, KeyFunction], None]) -> None:
    """Contribute distribution strategies a queue may name in its rules.

    Called synchronously whenever the hub builds its routing configuration's strategy
    table (when routing starts, and for the admin API's list). ``register(name, key)`` with
    a name that is not a built-in strategy's (``longest_idle``, ``least_talk_time``,
    ``fewest_contacts``, ``round_robin``, ``top_down``, ``random``) nor another plugin's,
    and a key function ``key(agent, queue, rng) -> float``: ``agent`` is the
    ``hub.routing.strategies.AgentRuntime`` of a free agent, ``queue`` the queue's name,
    ``rng`` the router's ``random.Random``; among free agents of the same skill level the
    smallest value is offered first (ties: top-down position, then agent id). The function
    must be pure and fast: it runs on every re-index of a free agent. A duplicate name
    stops start-up with one line naming both registrants. Return nothing.
    """


@hookspec
def hub_register_services(register: Callable[[str, SelfService], None]) -> None:
    """Contribute self-services a channel's automated flow may call: an IVR's balance or
    bill query after the caller's service password, a chat bot's order lookup.

    Called once, synchronously, while the hub is created. ``register(name, service)`` with a
    name the flows refer to (``balance``) and ``async def service(variables) -> dict | None``:
    ``variables`` are the flow's strings (the caller's number, their customer id, the digits
    they entered, e.g. ``password``); return the values the flow speaks (``{"balance":
    "42.50"}``), or None for "no" (a wrong password, an unknown account). The channel bounds
    each call by a deadline and takes an exception or a late answer as a failure, so a back
    office that is down never holds a customer. A name two plugins register stops start-up
    with one line naming both. Return nothing.
    """


@hookspec
def hub_register_tasks(register: Callable[[PluginJob], None]) -> None:
    """Contribute background jobs (``hub.jobs.PluginJob``): sending through a slow peer,
    periodic sweeps.

    Called synchronously wherever jobs are run or sent: by the Celery app as it is built
    (each job becomes the task ``<scope>.<name>``, with its ``every`` in the beat schedule)
    and by the hub, so that ``Hub.enqueue("<scope>.<name>", *ids)`` can run it in-process
    when the hub has ``run_jobs_in_process``. ``register(job)`` once per job; a task name
    registered twice stops start-up. The job runs with the facade of its ``scope`` and must
    be idempotent. Return nothing.
    """
