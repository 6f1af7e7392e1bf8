"""Routing benchmark: the ACD core against a naive linear-scan router on the same data."""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hub.routing.engine import Router
from hub.routing.model import (
    AgentConfig,
    Capacity,
    Interaction,
    Membership,
    Offer,
    Overflow,
    QueueConfig,
    RelaxStep,
    ServiceTarget,
    Strategy,
)
from hub.routing.service_level import ServiceLevel

TIERS = ("ordinary", "silver", "gold", "diamond", "platinum")
VOICE = Capacity(limits={"voice": 1})
DIGITAL = Capacity(limits={"chat": 3, "email": 5})


def build_queues(count: int) -> list[QueueConfig]:
    """Skill groups with every strategy, two relaxation steps, overflow to the next group."""
    strategies = list(Strategy)
    targets = {tier: ServiceTarget(0.7 + 0.05 * rank, 20) for rank, tier in enumerate(TIERS)}
    return [QueueConfig(f"q{n:02}", strategies[n % len(strategies)], min_proficiency=3,
                        steps=(RelaxStep(30, 2), RelaxStep(90, 1)),
                        overflow=(Overflow(120, f"q{(n + 1) % count:02}"),), targets=targets)
            for n in range(count)]


def build_agents(count: int, queues: int, rng: random.Random) -> list[AgentConfig]:
    """Three skills each (first or second level, proficiency 1..5); 60% voice, 40% chat and email."""
    agents = []
    for agent_id in range(count):
        names = rng.sample(range(queues), 3)
        skills = tuple(Membership(f"q{n:02}", rng.choice((1, 1, 2)), rng.randint(1, 5)) for n in names)
        agents.append(AgentConfig(agent_id, skills, VOICE if agent_id % 5 < 3 else DIGITAL, agent_id))
    return agents


def interaction(ix_id: int, rng: random.Random, queues: int, channel: str, at: float) -> Interaction:
    return Interaction(ix_id, f"q{rng.randrange(queues):02}", at, rng.choice(TIERS), channel,
                       vip=rng.random() < 0.01)


@dataclass
class Naive:
    """The same rules by linear scans: every waiting interaction or every agent per decision."""

    queues: dict[str, QueueConfig]
    agents: dict[int, AgentConfig]
    available: set[int]
    load: dict[int, dict[str, int]]
    idle_since: dict[int, float]
    waiting: dict[int, tuple[Interaction, int]]
    service: dict[tuple[str, str], ServiceLevel] = field(default_factory=dict)

    def on_agent_free(self, agent_id: int, now: float) -> int | None:
        agent, load, best, deficits = self.agents[agent_id], self.load[agent_id], None, {}
        for ix, seq in self.waiting.values():
            queue = self._served(agent, ix, load, now)
            if queue is None:
                continue
            if (queue, ix.tier) not in deficits:
                level = self.service.setdefault((queue, ix.tier), ServiceLevel(1800)).level(now)
                deficits[(queue, ix.tier)] = self.queues[queue].target(ix.tier).fraction - level
            key = (ix.vip, deficits[(queue, ix.tier)], TIERS.index(ix.tier), -ix.arrived_at, -seq)
            if best is None or key > best[0]:
                best = (key, ix)
        return None if best is None else self._take(agent_id, best[1])

    def on_arrival(self, ix: Interaction, now: float) -> int | None:
        best = None
        for agent_id in self.available:
            agent = self.agents[agent_id]
            queue = self._served(agent, ix, self.load[agent_id], now)
            if queue is None:
                continue
            level = next(m.level for m in agent.memberships if m.queue == queue)
            key = (queue != ix.queue, level, self.idle_since[agent_id], agent.order)
            if best is None or key < best[0]:
                best = (key, agent_id)
        if best is None:
            self.waiting[ix.id] = (ix, ix.id)
            return None
        self.waiting[ix.id] = (ix, ix.id)
        return self._take(best[1], ix)

    def _served(self, agent: AgentConfig, ix: Interaction, load: dict[str, int], now: float) -> str | None:
        if not agent.capacity.allows(load, ix.channel):
            return None
        waited = now - ix.arrived_at
        home = self.queues[ix.queue]
        open_queues = {ix.queue} | {rule.queue for rule in home.overflow if waited >= rule.after}
        for member in agent.memberships:
            need = self.queues[member.queue].required(waited)
            if member.queue in open_queues and member.proficiency >= need:
                return member.queue
        return None

    def _take(self, agent_id: int, ix: Interaction) -> int:
        del self.waiting[ix.id]
        self.load[agent_id][ix.channel] = self.load[agent_id].get(ix.channel, 0) + 1
        return ix.id


def populate(router: Router, args: argparse.Namespace, rng: random.Random) -> int:
    """Fill every agent's capacity, then keep ``args.waiting`` interactions waiting; returns next id."""
    ix_id = 0
    while sum(router.waiting.count.values()) < args.waiting:
        channel = "voice" if rng.random() < 0.55 else "chat"
        decision = router.on_arrival(interaction(ix_id, rng, args.queues, channel, -rng.uniform(0, 60)), 0.0)
        if isinstance(decision, Offer):
            router.accept(decision, 0.0)
        ix_id += 1
    return ix_id


def timed(samples: list[float], call: Callable[[], object]) -> object:
    start = time.perf_counter()
    result = call()
    samples.append(time.perf_counter() - start)
    return result


def bench_engine(router: Router, ops: list[tuple[str, object]], now: float) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"free": [], "arrive": []}
    for kind, arg in ops:
        if kind == "free":
            agent_id, ix_id, _ = arg  # type: ignore[misc]
            offers = timed(times["free"], lambda a=agent_id, i=ix_id: router.finish(a, i, now))
            for offer in offers:  # type: ignore[attr-defined]
                router.accept(offer, now)
        else:
            decision = timed(times["arrive"], lambda ix=arg: router.on_arrival(ix, now))  # type: ignore[misc]
            if isinstance(decision, Offer):
                router.accept(decision, now)
    return times


def naive_from(router: Router) -> Naive:
    agents = router.agents
    return Naive(router.queues, {a: s.config for a, s in agents.items()},
                 {a for a, s in agents.items() if s.available}, {a: dict(s.load) for a, s in agents.items()},
                 {a: s.idle_since for a, s in agents.items()},
                 {i: (ix, i) for i, (ix, _) in router.waiting.items.items()})


def bench_naive(naive: Naive, ops: list[tuple[str, object]], now: float) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"free": [], "arrive": []}
    for kind, arg in ops:
        if kind == "free":
            agent_id, _, channel = arg  # type: ignore[misc]
            naive.load[agent_id][channel] -= 1
            timed(times["free"], lambda a=agent_id: naive.on_agent_free(a, now))
        else:
            timed(times["arrive"], lambda ix=arg: naive.on_arrival(ix, now))  # type: ignore[misc]
    return times


def plan(
    router: Router, rng: random.Random, count: int, next_id: int, queues: int
) -> list[tuple[str, object]]:
    """Alternate an agent finishing a contact with an arrival (email finds free capacity, voice waits)."""
    active = list(router.active.items())
    rng.shuffle(active)
    ops: list[tuple[str, object]] = []
    for n in range(count):
        ix_id, (agent_id, ix, _) = active[n]
        ops.append(("free", (agent_id, ix_id, ix.channel)))
        channel = "email" if n % 2 else "voice"
        ops.append(("arrive", interaction(next_id + n, rng, queues, channel, 0.0)))
    return ops


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": statistics.median(ordered) * 1e3,
            "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1e3,
            "per_s": len(ordered) / sum(ordered)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, default=5000)
    parser.add_argument("--queues", type=int, default=50)
    parser.add_argument("--waiting", type=int, default=20000)
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument("--naive-decisions", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(42)
    router = Router(build_queues(args.queues), TIERS)
    for agent in build_agents(args.agents, args.queues, rng):
        router.add_agent(agent)
        router.set_available(agent.id, True, -120.0)
    next_id = populate(router, args, rng)
    ops = plan(router, rng, args.decisions, next_id, args.queues)
    naive = naive_from(router)
    engine_times = bench_engine(router, ops, 1.0)
    naive_times = bench_naive(naive, ops[: 2 * args.naive_decisions], 1.0)
    report(args, engine_times, naive_times, sum(router.waiting.count.values()))


def report(args: argparse.Namespace, engine: dict[str, list[float]], naive: dict[str, list[float]],
           waiting: int) -> None:
    figures: dict[str, object] = {"agents": args.agents, "queues": args.queues, "waiting": args.waiting,
                                  "waiting_after": waiting}
    print(f"{'decision':<22}{'router':<8}{'p50 ms':>10}{'p99 ms':>10}{'decisions/s':>14}")
    for kind, label in (("free", "agent frees up"), ("arrive", "interaction arrives")):
        fast, slow = summary(engine[kind]), summary(naive[kind])
        for name, row in (("engine", fast), ("naive", slow)):
            print(f"{label:<22}{name:<8}{row['p50_ms']:>10.4f}{row['p99_ms']:>10.4f}{row['per_s']:>14,.0f}")
        ratio = fast["per_s"] / slow["per_s"]
        print(f"{label:<22}{'ratio':<8}{ratio:>34.0f}x")
        figures[kind] = {"engine": fast, "naive": slow, "ratio": round(ratio, 1)}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
