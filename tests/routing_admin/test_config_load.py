"""load_routing_config returns what was stored, on SQLite and PostgreSQL, in a few queries."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event

from hub.core import HubCore
from hub.db import transaction
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
from hub.routing.config import RoutingConfig, load_routing_config
from hub.routing.model import (
    AgentConfig,
    Capacity,
    Membership,
    Overflow,
    QueueConfig,
    RelaxStep,
    ServiceTarget,
)
from hub.routing.strategies import STRATEGIES

DEFAULT = Capacity(limits={"voice": 1, "chat": 2}, exclusive=frozenset({"voice"}))
CONFIG_TABLES = ("queue", "queue_rules", "agent_skill", "agent_routing", "customer_tier",
                 "region_prefix", "entry_rule", "blocked_address")
SCHEDULE = {"timezone": "Asia/Shanghai", "hours": {"mon": [["08:00", "20:00"]]}}


def fewest_missed(agent: Any, queue: str, rng: Any) -> float:
    return float(agent.missed_offers)


async def store_example(core: HubCore) -> dict[str, int]:
    """Three queues (one without rules), three agents (one inactive, one without skills)."""
    async with transaction(core.sessions) as s:
        s.add_all([Queue(name="billing"), Queue(name="billing_sz"), Queue(name="billing_nanshan")])
        await s.flush()
        s.add_all([
            QueueRules(queue="billing", strategy="fewest_missed", min_proficiency=3,
                       steps=[{"after": 30, "min_proficiency": 2}],
                       overflow=[{"after": 120, "queue": "default"}],
                       targets={"gold": {"fraction": 0.9, "seconds": 15}}, target_fraction=0.7,
                       target_seconds=30, max_waiting=40, daily_limit=500, offer_timeout_seconds=45,
                       schedule=SCHEDULE, closed_message="Closed."),
            QueueRules(queue="billing_sz", region="guangdong/shenzhen",
                       overflow=[{"after": 60, "queue": "billing"}]),
            QueueRules(queue="billing_nanshan", region="guangdong/shenzhen/nanshan",
                       overflow=[{"after": 60, "queue": "billing"}]),
            RegionPrefix(prefix="0755", region="guangdong/shenzhen"),
            BlockedAddress(kind="phone", address="+8613800000001"),
            EntryRule(entry="95555", position=2, areas=["guangdong"], action="route",
                      destinations=[{"queue": "billing", "weight": 3}, {"queue": "default", "weight": 1}]),
            EntryRule(entry="95555", position=1, action="block", message="No.", active=False),
        ])
        ids = {}
        for number, active in (("a1", True), ("a2", True), ("a3", False), ("a4", True)):
            agent = Agent(number=number, name=number, password_hash="", active=active)
            s.add(agent)
            await s.flush()
            ids[number] = int(agent.id)  # type: ignore[arg-type]
        s.add_all([
            AgentSkill(agent_id=ids["a1"], queue="billing", level=1, proficiency=5),
            AgentSkill(agent_id=ids["a1"], queue="default", level=2, proficiency=2),
            AgentSkill(agent_id=ids["a2"], queue="billing_sz"),
            AgentSkill(agent_id=ids["a3"], queue="billing"),
            AgentRouting(agent_id=ids["a2"], limits={"chat": 5}, exclusive=[], interruptible=["chat"],
                         position=3),
            AgentRouting(agent_id=ids["a4"], limits={"chat": 1}),
        ])
    return ids


async def load(core: HubCore) -> RoutingConfig:
    return await load_routing_config(core.sessions, DEFAULT, {"fewest_missed": fewest_missed})


async def test_it_returns_what_was_stored(hub_core: HubCore) -> None:
    ids = await store_example(hub_core)
    config = await load(hub_core)
    queues = {q.name: q for q in config.queues}
    assert sorted(queues) == ["billing", "billing_nanshan", "billing_sz", "default"]
    assert queues["default"] == QueueConfig("default"), "no rules row: the engine's defaults"
    assert queues["billing"] == QueueConfig(
        "billing", strategy="fewest_missed", min_proficiency=3, steps=(RelaxStep(30, 2),),
        overflow=(Overflow(120, "default"),), max_waiting=40,
        targets={"gold": ServiceTarget(0.9, 15)}, default_target=ServiceTarget(0.7, 30))
    assert dict(config.agents) == {
        ids["a1"]: AgentConfig(ids["a1"], (Membership("billing", 1, 5), Membership("default", 2, 2)),
                               DEFAULT, 0),
        ids["a2"]: AgentConfig(ids["a2"], (Membership("billing_sz", 1, 3),),
                               Capacity({"chat": 5}, frozenset(), frozenset({"chat"})), 3),
    }, "inactive agents and agents without skills are left out"
    assert config.offer_timeout == {"billing": 45, "billing_sz": 20, "billing_nanshan": 20, "default": 20}
    assert config.daily_limits == {"billing": 500}
    assert set(config.schedules) == {"billing"}
    assert not config.schedules["billing"].is_open(datetime(2026, 11, 23, 13, tzinfo=UTC))  # 21:00 Mon
    assert config.closed_messages == {"billing": "Closed."}
    assert config.queue_regions == {"billing_sz": "guangdong/shenzhen",
                                    "billing_nanshan": "guangdong/shenzhen/nanshan"}
    assert config.regional_children == {"billing": (("billing_nanshan", "guangdong/shenzhen/nanshan"),
                                                    ("billing_sz", "guangdong/shenzhen"))}
    assert config.prefixes.region_of("+86 755 1234 5678") == "guangdong/shenzhen"
    assert [(r.entry, r.destinations) for r in config.entry_rules] == [
        ("95555", (("billing", 3), ("default", 1)))], "inactive rules are left out"
    assert config.blocked == {("phone", "+8613800000001")}
    assert config.strategies == {**STRATEGIES, "fewest_missed": fewest_missed}


async def test_tiers_come_by_rank_with_the_vip_ones_marked(hub_core: HubCore) -> None:
    config = await load(hub_core)
    assert config.tiers == ("ordinary", "silver", "gold", "diamond", "platinum")
    assert config.vip_tiers == {"diamond", "platinum"}
    async with transaction(hub_core.sessions) as s:
        s.add(CustomerTier(name="black_card", rank=9, vip=True, label_en="Black card"))
    assert (await load(hub_core)).tiers[-1] == "black_card"


async def test_an_empty_hub_loads_the_default_queue_alone(hub_core: HubCore) -> None:
    config = await load(hub_core)
    assert config.queues == (QueueConfig("default"),)
    assert dict(config.agents) == {} and config.entry_rules == () and len(config.prefixes) == 0


async def router_settled(core: HubCore) -> None:
    """Until the hub's own router leads and has read its configuration: it contends in the
    background after start (on PostgreSQL often while a test is already running)."""
    for _ in range(250):
        if core.routing.router is not None:
            break
        await asyncio.sleep(0.02)
    assert core.routing.router is not None, "the hub's router did not take the lead"
    await core.routing.settled()


async def test_it_reads_each_table_once_whatever_the_number_of_agents(hub_core: HubCore) -> None:
    await router_settled(hub_core)  # its reads of the same tables are not load's
    async with transaction(hub_core.sessions) as s:
        agents = [Agent(number=f"n{n}", name="x", password_hash="") for n in range(300)]
        s.add_all(agents)
        await s.flush()
        s.add_all(AgentSkill(agent_id=a.id, queue="default") for a in agents)  # type: ignore[arg-type]
        s.add_all(AgentRouting(agent_id=a.id, position=n) for n, a in enumerate(agents))  # type: ignore[arg-type]
    read: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # Only reads of routing's tables: the hub's own routing service runs beside the test.
        found = re.search(r"\bFROM (\w+)", statement)
        if found and found.group(1) in CONFIG_TABLES:
            read.append(found.group(1))

    event.listen(hub_core.engine.sync_engine, "before_cursor_execute", count)
    try:
        config = await load(hub_core)
    finally:
        event.remove(hub_core.engine.sync_engine, "before_cursor_execute", count)
    assert len(config.agents) == 300
    assert sorted(read) == sorted(CONFIG_TABLES), "one query per table"
