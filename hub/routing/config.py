"""Routing configuration from the database: the rows of ``hub.models.routing_config`` as the
engine's frozen dataclasses, read with one query per table.

The router loads it when it starts and again whenever ``CONFIG_TOPIC`` is published (the
admin API publishes after every committed change).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import pluggy
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.errors import ConfigError
from hub.models import (
    Agent,
    AgentRouting,
    AgentSkill,
    BlockedAddress,
    CustomerTier,
    EntryRule,
    Queue,
    QueueRules,
    RegionPrefix,
)
from hub.plugins import call_register
from hub.routing.entry_rules import EntryRuleSpec
from hub.routing.model import (
    AgentConfig,
    Capacity,
    Membership,
    Overflow,
    QueueConfig,
    RelaxStep,
    ServiceTarget,
)
from hub.routing.regions import PrefixTable
from hub.routing.schedule import Schedule
from hub.routing.strategies import STRATEGIES, KeyFunction

CONFIG_TOPIC = "routing-config"
"""Bus topic published after every committed admin change, with the payload
``{"event": "routing-config", "what": "queues" | "skills" | "tiers" | "prefixes" | "blocklist"
| "entry-rules"}``; the router reloads its configuration when it hears it."""

BUILT_IN = "built-in"
STRATEGY_HOOK = "hub_register_strategies"
DEFAULT_OFFER_TIMEOUT = float(QueueRules.model_fields["offer_timeout_seconds"].default)


@dataclass(frozen=True)
class RoutingConfig:
    """Everything the router needs, as stored at one moment; never mutated after loading."""

    queues: tuple[QueueConfig, ...]
    """Every queue row; the engine's defaults when the queue has no rules row."""
    agents: Mapping[int, AgentConfig]
    """Active agents with at least one skill; capacity from their row or the hub's default."""
    tiers: tuple[str, ...]
    """Customer tier names by rank ascending (the engine serves later ones first)."""
    vip_tiers: frozenset[str]
    offer_timeout: Mapping[str, float]
    """Queue name -> seconds an offer rings before it counts as missed (every queue)."""
    daily_limits: Mapping[str, int]
    """Queue name -> contacts per day, only for queues with a limit."""
    schedules: Mapping[str, Schedule]
    """Queue name -> opening hours, only for queues with a non-empty schedule."""
    closed_messages: Mapping[str, str]
    """Queue name -> what a customer is told while it is closed, only where one is set."""
    queue_regions: Mapping[str, str]
    """Queue name -> the region path it serves, only for queues with a region."""
    regional_children: Mapping[str, tuple[tuple[str, str], ...]]
    """Parent queue -> ((child queue, child region), ...). A queue with a region is a regional
    group of every queue it overflows to; the most specific region (most path segments) comes
    first, then by region and queue name."""
    prefixes: PrefixTable
    entry_rules: tuple[EntryRuleSpec, ...]
    """Active entry rules ordered by entry, position and id."""
    blocked: frozenset[tuple[str, str]]
    """Blocklisted (kind, address) pairs."""
    strategies: Mapping[str, KeyFunction]
    """Built-in strategies plus those plugins registered."""


def strategy_sources(pm: pluggy.PluginManager) -> dict[str, str]:
    """Every strategy name -> ``"built-in"`` or the name of the plugin that registered it.

    Raises ``ConfigError`` (one line) for a name registered twice or a bad registration.
    """
    sources = dict.fromkeys(STRATEGIES, BUILT_IN)
    sources.update({name: plugin for name, (plugin, _key) in _registered(pm).items()})
    return sources


def plugin_strategies(pm: pluggy.PluginManager) -> dict[str, KeyFunction]:
    """The strategies plugins registered through ``hub_register_strategies``, by name.

    Raises ``ConfigError`` (one line) when a name collides with a built-in strategy or with
    another plugin's, or when a registration is not ``(str, callable)``.
    """
    return {name: key for name, (_plugin, key) in _registered(pm).items()}


def _registered(pm: pluggy.PluginManager) -> dict[str, tuple[str, KeyFunction]]:
    found: dict[str, tuple[str, KeyFunction]] = {}
    for plugin, args in call_register(pm, STRATEGY_HOOK):
        name, key = args if isinstance(args, tuple) and len(args) == 2 else (None, None)
        if not isinstance(name, str) or not 0 < len(name) <= 40 or not callable(key):
            raise ConfigError(f"plugin {plugin!r} must call register(name, key_function) in {STRATEGY_HOOK}")
        if name in STRATEGIES:
            raise ConfigError(f"strategy {name!r} from plugin {plugin!r} has the name of a built-in strategy")
        if name in found:
            raise ConfigError(f"strategy {name!r} is registered twice: by plugin "
                              f"{found[name][0]!r} and by plugin {plugin!r}")
        found[name] = (plugin, key)
    return found


async def load_routing_config(
    sessions: async_sessionmaker[AsyncSession], default_capacity: Capacity,
    strategies: Mapping[str, KeyFunction],
) -> RoutingConfig:
    """Read the routing configuration: one query per table, whatever the number of agents.

    ``strategies`` are added to the built-in ones (a plugin's, from ``plugin_strategies``).
    Stored documents are trusted to have passed the admin API's validation; a schedule that
    no longer parses raises ``ValueError``.
    """
    async with sessions() as s:
        names = list((await s.execute(select(Queue.name).order_by(Queue.name))).scalars())
        rules = {r.queue: r for r in (await s.execute(select(QueueRules))).scalars()}
        skills = (await s.execute(
            select(AgentSkill).join(Agent, Agent.id == AgentSkill.agent_id)
            .where(Agent.active).order_by(AgentSkill.agent_id, AgentSkill.level, AgentSkill.queue)
        )).scalars().all()
        routing = {r.agent_id: r for r in (await s.execute(select(AgentRouting))).scalars()}
        tiers = list((await s.execute(
            select(CustomerTier).order_by(CustomerTier.rank, CustomerTier.name))).scalars())
        prefixes = dict((await s.execute(select(RegionPrefix.prefix, RegionPrefix.region))).all())
        entry = (await s.execute(select(EntryRule).where(EntryRule.active).order_by(
            EntryRule.entry, EntryRule.position, EntryRule.id))).scalars().all()
        blocked = (await s.execute(select(BlockedAddress.kind, BlockedAddress.address))).all()
    return RoutingConfig(
        queues=tuple(queue_config(name, rules.get(name)) for name in names),
        agents=_frozen(agent_configs(skills, routing, default_capacity)),
        tiers=tuple(t.name for t in tiers),
        vip_tiers=frozenset(t.name for t in tiers if t.vip),
        offer_timeout=_frozen({n: _offer_timeout(rules.get(n)) for n in names}),
        daily_limits=_frozen({q: r.daily_limit for q, r in rules.items() if r.daily_limit is not None}),
        schedules=_frozen({q: Schedule.from_json(r.schedule) for q, r in rules.items() if r.schedule}),
        closed_messages=_frozen({q: r.closed_message for q, r in rules.items() if r.closed_message}),
        queue_regions=_frozen({q: r.region for q, r in rules.items() if r.region}),
        regional_children=_frozen(regional_children(rules.values())),
        prefixes=PrefixTable(prefixes),
        entry_rules=tuple(entry_rule_spec(row) for row in entry),
        blocked=frozenset((kind, address) for kind, address in blocked),
        strategies=_frozen({**STRATEGIES, **strategies}),
    )


def _frozen(mapping: dict[Any, Any]) -> Mapping[Any, Any]:
    return MappingProxyType(mapping)


def _offer_timeout(rules: QueueRules | None) -> float:
    return DEFAULT_OFFER_TIMEOUT if rules is None else float(rules.offer_timeout_seconds)


def queue_config(name: str, rules: QueueRules | None) -> QueueConfig:
    """The engine's view of one queue; the engine's defaults when it has no rules row."""
    if rules is None:
        return QueueConfig(name=name)
    return QueueConfig(
        name=name,
        strategy=rules.strategy,
        min_proficiency=rules.min_proficiency,
        steps=tuple(RelaxStep(float(s["after"]), int(s["min_proficiency"])) for s in rules.steps),
        overflow=tuple(Overflow(float(o["after"]), str(o["queue"])) for o in rules.overflow),
        max_waiting=rules.max_waiting,
        targets=_frozen({tier: ServiceTarget(float(t["fraction"]), float(t["seconds"]))
                         for tier, t in rules.targets.items()}),
        default_target=ServiceTarget(rules.target_fraction, rules.target_seconds),
    )


def agent_configs(
    skills: Iterable[AgentSkill], routing: Mapping[int, AgentRouting], default: Capacity,
) -> dict[int, AgentConfig]:
    """Agents with at least one skill, their capacity and top-down position."""
    memberships: dict[int, list[Membership]] = {}
    for skill in skills:
        memberships.setdefault(skill.agent_id, []).append(
            Membership(skill.queue, skill.level, skill.proficiency))
    configs = {}
    for agent_id, members in memberships.items():
        row = routing.get(agent_id)
        capacity = default if row is None else capacity_of(row)
        configs[agent_id] = AgentConfig(agent_id, tuple(members), capacity, row.position if row else 0)
    return configs


def capacity_of(row: AgentRouting) -> Capacity:
    """An agent's own capacity row as the engine's ``Capacity``."""
    return Capacity(limits=_frozen({str(k): int(v) for k, v in row.limits.items()}),
                    exclusive=frozenset(row.exclusive), interruptible=frozenset(row.interruptible))


def regional_children(rules: Iterable[QueueRules]) -> dict[str, tuple[tuple[str, str], ...]]:
    """Parent queue -> its regional groups: every queue with a region, under each queue it
    overflows to, the most specific region first."""
    children: dict[str, list[tuple[str, str]]] = {}
    for row in rules:
        if not row.region:
            continue
        for target in {str(o["queue"]) for o in row.overflow}:
            children.setdefault(target, []).append((row.queue, row.region))
    return {parent: tuple(sorted(kids, key=lambda kid: (-kid[1].count("/"), kid[1], kid[0])))
            for parent, kids in children.items()}


def entry_rule_spec(row: EntryRule) -> EntryRuleSpec:
    """A stored entry rule as the validated, frozen ``EntryRuleSpec``."""
    return EntryRuleSpec.from_json(row.model_dump())
