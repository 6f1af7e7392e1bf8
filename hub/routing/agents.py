"""Free agents per (queue, level, proficiency, channel), heaps ordered by the queue's strategy."""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable, Mapping

from hub.routing.model import MAX_PROFICIENCY, QueueConfig
from hub.routing.strategies import AgentRuntime, KeyFunction, strategy_key

HeapKey = tuple[str, int, int, str]
Entry = tuple[tuple[float, int, int], int, int]


class FreeAgents:
    """Index of agents able to take one more interaction; stale entries are dropped lazily."""

    def __init__(self, queues: Mapping[str, QueueConfig], rng: random.Random,
                 strategies: Mapping[str, KeyFunction], channels: Iterable[str] = ()) -> None:
        self._queues = queues
        self._channels = tuple(channels)
        self._strategies = strategies
        self._rng = rng
        self._heaps: dict[HeapKey, list[Entry]] = {}
        self._live: dict[HeapKey, int] = {}
        self._member_of: dict[int, list[HeapKey]] = {}
        self.agents: dict[int, AgentRuntime] = {}

    def refresh(self, agent: AgentRuntime) -> None:
        """Re-index ``agent`` after any change of availability, load or strategy metrics."""
        agent.version += 1
        for key in self._member_of.pop(agent.config.id, ()):
            self._live[key] -= 1
        if agent.available:
            self._member_of[agent.config.id] = self._push_all(agent)

    def _push_all(self, agent: AgentRuntime) -> list[HeapKey]:
        keys = []
        capacity = agent.config.capacity
        named = self._channels or tuple(ch for ch in capacity.limits if ch != "*")
        channels = [ch for ch in named if capacity.allows(agent.load, ch)]
        for member in agent.config.memberships:
            queue = self._queues.get(member.queue)
            if queue is None:
                continue
            order = strategy_key(self._strategies[queue.strategy], agent, member.queue, self._rng)
            for channel in channels:
                key = (member.queue, member.level, member.proficiency, channel)
                self._push(key, (order, agent.config.id, agent.version))
                keys.append(key)
        return keys

    def _push(self, key: HeapKey, entry: Entry) -> None:
        heap = self._heaps.setdefault(key, [])
        live = self._live.get(key, 0) + 1
        self._live[key] = live
        if len(heap) > 4 * live + 64:
            heap[:] = [item for item in heap if self._valid(item)]
            heapq.heapify(heap)
        heapq.heappush(heap, entry)

    def _valid(self, entry: Entry) -> bool:
        return self.agents[entry[1]].version == entry[2]

    def _top(self, key: HeapKey) -> Entry | None:
        heap = self._heaps.get(key)
        while heap:
            if self._valid(heap[0]):
                return heap[0]
            heapq.heappop(heap)
        return None

    def best(self, queue: str, level: int, min_proficiency: int, channel: str) -> int | None:
        """The id of the strategy's first free agent at ``level`` with enough proficiency."""
        best: Entry | None = None
        for proficiency in range(max(min_proficiency, 1), MAX_PROFICIENCY + 1):
            top = self._top((queue, level, proficiency, channel))
            if top is not None and (best is None or top < best):
                best = top
        return None if best is None else best[1]
