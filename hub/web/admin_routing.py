"""The routing admin API: queues' rules and agents' skills and capacity (the lists are in
``admin_routing_lists``). Admins write, supervisors read; every write is audited, then
announced on ``CONFIG_TOPIC`` after its commit so the router reloads."""

from __future__ import annotations

import re

from aiohttp import web
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.core import HubCore
from hub.db import transaction
from hub.errors import InvalidRequest, NotFound
from hub.models import (
    Agent,
    AgentRole,
    AgentRouting,
    AgentSkill,
    CustomerTier,
    EntryRule,
    Interaction,
    Queue,
    QueueRules,
    utcnow,
)
from hub.routing.config import CONFIG_TOPIC, strategy_sources
from hub.routing.regions import check_region
from hub.routing.schedule import Schedule
from hub.web.access import require
from hub.web.admin_routing_bodies import (
    CHANNEL_NAME,
    QUEUE_NAME,
    AgentRoutingBody,
    AgentRoutingView,
    CapacityBody,
    Done,
    QueueList,
    QueueRulesBody,
    QueueView,
    Skill,
)
from hub.web.api import api
from hub.web.auth import audit, client_ip
from hub.web.keys import CORE

ADMIN = AgentRole.ADMIN
READ = AgentRole.SUPERVISOR
TAG = "routing-admin"
PROTECTED_QUEUE = "default"


async def changed(request: web.Request, action: str, target: str, detail: str, what: str) -> None:
    """After a committed change: an audit line, then the event the router reloads on."""
    core = request.app[CORE]
    await audit(core, require(request), action, target, detail, ip=client_ip(request))
    await core.bus.publish(CONFIG_TOPIC, {"event": CONFIG_TOPIC, "what": what})


def conflict(error_id: str, message: str) -> InvalidRequest:
    return InvalidRequest(error_id, message, status=409)


async def queue_names(s: AsyncSession) -> set[str]:
    return set((await s.execute(select(Queue.name))).scalars())


async def check_queues_exist(s: AsyncSession, names: set[str]) -> None:
    """Refuse references to queues that do not exist, naming them."""
    missing = sorted(names - await queue_names(s))
    if missing:
        raise InvalidRequest("unknown_queue", f"no queue named {', '.join(missing)}; create it first "
                                              "with PUT /api/admin/routing/queues/{name}")


# Queues


def queue_view(queue: Queue, rules: QueueRules | None) -> QueueView:
    fields = {} if rules is None else rules.model_dump(exclude={"queue"})
    return QueueView(name=queue.name, title=queue.title, has_rules=rules is not None, **fields)


@api.route("GET", "/api/admin/routing/queues", summary="Every queue with its routing rules",
           role=READ, reply=QueueList, tag=TAG)
async def list_queues(request: web.Request) -> QueueList:
    async with request.app[CORE].sessions() as s:
        rows = (await s.execute(select(Queue, QueueRules).outerjoin(
            QueueRules, QueueRules.queue == Queue.name).order_by(Queue.name))).all()
    return QueueList(items=[queue_view(queue, rules) for queue, rules in rows])


@api.route("GET", "/api/admin/routing/queues/{name}", summary="One queue's routing rules",
           role=READ, reply=QueueView, tag=TAG)
async def get_queue(request: web.Request) -> QueueView:
    async with request.app[CORE].sessions() as s:
        return await _queue_view(s, request.match_info["name"])


async def _queue_view(s: AsyncSession, name: str) -> QueueView:
    queue = (await s.execute(select(Queue).where(Queue.name == name))).scalar_one_or_none()
    if queue is None:
        raise NotFound("queue")
    return queue_view(queue, await s.get(QueueRules, name))


@api.route("PUT", "/api/admin/routing/queues/{name}",
           summary="Create a queue or replace its routing rules", role=ADMIN, body=QueueRulesBody,
           reply=QueueView, tag=TAG)
async def put_queue(request: web.Request, body: QueueRulesBody) -> QueueView:
    core = request.app[CORE]
    name = request.match_info["name"]
    async with transaction(core.sessions) as s:
        await check_rules(core, s, name, body)
        created = await _upsert_queue(s, name, body)
        view = await _queue_view(s, name)
    if created:
        await core.refresh_queue_names()
    action = "routing.queue.create" if created else "routing.queue.update"
    await changed(request, action, f"queue:{name}", body.model_dump_json(), "queues")
    return view


async def check_rules(core: HubCore, s: AsyncSession, name: str, body: QueueRulesBody) -> None:
    """Cross-references the body's own limits cannot express; raises ``InvalidRequest``."""
    known = strategy_sources(core.pm)
    if body.strategy not in known:
        raise InvalidRequest("unknown_strategy", f"no strategy named {body.strategy!r}; use one of "
                                                 f"{', '.join(sorted(known))}")
    await _check_overflow(s, name, [o.queue for o in body.overflow])
    tiers = set((await s.execute(select(CustomerTier.name))).scalars())
    unknown = sorted(set(body.targets) - tiers)
    if unknown:
        raise InvalidRequest("unknown_tier", f"no customer tier named {', '.join(unknown)}; "
                                             "targets are per tier of /api/admin/routing/tiers")
    _check_documents(body)


async def _check_overflow(s: AsyncSession, name: str, targets: list[str]) -> None:
    if name in targets:
        raise InvalidRequest("overflow_to_itself", "a queue cannot overflow to itself; name another queue")
    if len(set(targets)) != len(targets):
        raise InvalidRequest("duplicate_overflow", "each queue may appear once in overflow")
    await check_queues_exist(s, set(targets))


def _check_documents(body: QueueRulesBody) -> None:
    """The schedule and region, by the routing core's own parsers."""
    try:
        Schedule.from_json(body.schedule)
    except ValueError as err:
        raise InvalidRequest("bad_schedule", f"schedule: {err}") from err
    try:
        if body.region:
            check_region(body.region, "region")
    except ValueError as err:
        raise InvalidRequest("bad_region", str(err)) from err


async def _upsert_queue(s: AsyncSession, name: str, body: QueueRulesBody) -> bool:
    queue = (await s.execute(select(Queue).where(Queue.name == name))).scalar_one_or_none()
    created = queue is None
    if queue is None:
        if not re.match(QUEUE_NAME, name):
            raise InvalidRequest("bad_queue_name", "a queue name is 1 to 80 letters, digits, '_', '.' "
                                                   "or '-', starting with a letter or digit")
        queue = Queue(name=name, title=body.title or name)
    elif body.title is not None:
        queue.title = body.title
    s.add(queue)
    await s.flush()
    rules = await s.get(QueueRules, name) or QueueRules(queue=name)
    for field, value in body.model_dump(exclude={"title"}).items():
        setattr(rules, field, value)
    rules.steps = sorted(rules.steps, key=lambda step: step["after"])
    rules.overflow = sorted(rules.overflow, key=lambda step: step["after"])
    rules.updated_at = utcnow()
    s.add(rules)
    return created


@api.route("DELETE", "/api/admin/routing/queues/{name}",
           summary="Delete a queue (not 'default', not while it has open interactions)",
           role=ADMIN, reply=Done, tag=TAG)
async def delete_queue(request: web.Request) -> Done:
    core = request.app[CORE]
    name = request.match_info["name"]
    if name == PROTECTED_QUEUE:
        raise conflict("queue_protected", "the 'default' queue catches every unrouted contact; "
                                          "it cannot be deleted")
    async with transaction(core.sessions) as s:
        queue = (await s.execute(select(Queue).where(Queue.name == name))).scalar_one_or_none()
        if queue is None:
            raise NotFound("queue")
        await _check_unused(s, name)
        for table in (QueueRules, AgentSkill):
            await s.execute(delete(table).where(table.queue == name))  # type: ignore[attr-defined]
        await s.delete(queue)
    await core.refresh_queue_names()
    await changed(request, "routing.queue.delete", f"queue:{name}", "", "queues")
    return Done()


async def _check_unused(s: AsyncSession, name: str) -> None:
    open_count = (await s.execute(select(func.count()).select_from(Interaction).where(
        Interaction.queue == name, Interaction.closed_at.is_(None),  # type: ignore[union-attr]
    ))).scalar_one()
    if open_count:
        raise conflict("queue_in_use", f"{open_count} interactions are still open in queue {name!r}; "
                                       "close them or move them to another queue first")
    rules = (await s.execute(select(QueueRules.queue, QueueRules.overflow))).all()
    users = sorted(q for q, overflow in rules if any(o.get("queue") == name for o in overflow))
    entry = (await s.execute(select(EntryRule.id, EntryRule.destinations))).all()
    users += [f"entry rule {i}" for i, dests in entry if any(d.get("queue") == name for d in dests)]
    if users:
        raise conflict("queue_referenced", f"queue {name!r} is still named by {', '.join(users)}; "
                                           "remove it from their overflow or destinations first")


# Agents


@api.route("GET", "/api/admin/routing/agents/{id}", summary="An agent's skills and capacity",
           role=READ, reply=AgentRoutingView, tag=TAG)
async def get_agent_routing(request: web.Request) -> AgentRoutingView:
    async with request.app[CORE].sessions() as s:
        return await _agent_view(s, _agent_id(request))


def _agent_id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError as err:
        raise NotFound("agent") from err


async def _agent_view(s: AsyncSession, agent_id: int) -> AgentRoutingView:
    agent = await s.get(Agent, agent_id)
    if agent is None:
        raise NotFound("agent")
    skills = (await s.execute(select(AgentSkill).where(AgentSkill.agent_id == agent_id)
                              .order_by(AgentSkill.level, AgentSkill.queue))).scalars()
    row = await s.get(AgentRouting, agent_id)
    capacity = None if row is None else CapacityBody(
        limits=row.limits, exclusive=row.exclusive, interruptible=row.interruptible, position=row.position)
    return AgentRoutingView(
        id=agent_id, number=agent.number, name=agent.name, capacity=capacity,
        skills=[Skill(queue=k.queue, level=k.level, proficiency=k.proficiency) for k in skills])


@api.route("PUT", "/api/admin/routing/agents/{id}",
           summary="Replace an agent's skills and capacity (null: the hub's default)",
           role=ADMIN, body=AgentRoutingBody, reply=AgentRoutingView, tag=TAG)
async def put_agent_routing(request: web.Request, body: AgentRoutingBody) -> AgentRoutingView:
    agent_id = _agent_id(request)
    async with transaction(request.app[CORE].sessions) as s:
        if await s.get(Agent, agent_id) is None:
            raise NotFound("agent")
        await _check_agent_body(s, body)
        await s.execute(delete(AgentSkill).where(AgentSkill.agent_id == agent_id))  # type: ignore[arg-type]
        s.add_all(AgentSkill(agent_id=agent_id, **k.model_dump()) for k in body.skills)
        await _store_capacity(s, agent_id, body.capacity)
        await s.flush()
        view = await _agent_view(s, agent_id)
    await changed(request, "routing.agent.update", f"agent:{view.number}", body.model_dump_json(), "skills")
    return view


async def _check_agent_body(s: AsyncSession, body: AgentRoutingBody) -> None:
    queues = [k.queue for k in body.skills]
    if len(set(queues)) != len(queues):
        raise InvalidRequest("duplicate_skill", "each queue may appear once in an agent's skills")
    await check_queues_exist(s, set(queues))
    if body.capacity is not None:
        capacity = body.capacity
        for channel in [*capacity.limits, *capacity.exclusive, *capacity.interruptible]:
            if not re.match(CHANNEL_NAME, channel):
                raise InvalidRequest("bad_channel", f"{channel!r} is not a channel name (lowercase "
                                                    "letters, digits and '_', like 'voice' or 'chat')")


async def _store_capacity(s: AsyncSession, agent_id: int, capacity: CapacityBody | None) -> None:
    row = await s.get(AgentRouting, agent_id)
    if capacity is None:
        if row is not None:
            await s.delete(row)
        return
    row = row or AgentRouting(agent_id=agent_id)
    row.limits, row.position = dict(capacity.limits), capacity.position
    row.exclusive, row.interruptible = sorted(set(capacity.exclusive)), sorted(set(capacity.interruptible))
    s.add(row)
