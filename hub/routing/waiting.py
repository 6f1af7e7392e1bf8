"""Waiting interactions: per queue, heaps per (tier, channel, vip) ordered by original arrival."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator

from hub.routing.model import Interaction

BucketKey = tuple[str, str, bool]
Entry = tuple[float, int, int, int]


class Waiting:
    """Who waits where; an interaction may sit in its home queue and in overflow queues at once."""

    def __init__(self) -> None:
        self.items: dict[int, tuple[Interaction, int]] = {}
        self.count: dict[str, int] = {}
        self._buckets: dict[str, dict[BucketKey, list[Entry]]] = {}
        self._seq: dict[int, int] = {}
        self._counter = itertools.count()
        self._epochs = itertools.count(1)

    def add(self, interaction: Interaction) -> int:
        """Start waiting in the home queue with the original arrival time; returns the epoch."""
        epoch = next(self._epochs)
        self.items[interaction.id] = (interaction, epoch)
        self._seq.setdefault(interaction.id, next(self._counter))
        self.count[interaction.queue] = self.count.get(interaction.queue, 0) + 1
        self.place(interaction.id, interaction.queue)
        return epoch

    def place(self, interaction_id: int, queue: str) -> None:
        """Make a waiting interaction visible to ``queue``'s agents too (overflow)."""
        interaction, epoch = self.items[interaction_id]
        bucket = (interaction.tier, interaction.channel, interaction.vip)
        heap = self._buckets.setdefault(queue, {}).setdefault(bucket, [])
        heapq.heappush(heap, (interaction.arrived_at, self._seq[interaction_id], interaction_id, epoch))

    def remove(self, interaction_id: int) -> Interaction | None:
        """Stop waiting (offered or abandoned); heap entries become stale."""
        item = self.items.pop(interaction_id, None)
        if item is None:
            return None
        self.count[item[0].queue] -= 1
        return item[0]

    def forget(self, interaction_id: int) -> None:
        """Drop the FIFO sequence of an interaction that is gone for good."""
        self._seq.pop(interaction_id, None)

    def sequence(self, interaction_id: int) -> int:
        """The FIFO sequence that orders interactions that arrived at the same moment."""
        return self._seq[interaction_id]

    def epoch(self, interaction_id: int) -> int | None:
        """The current waiting epoch of the interaction, None if it does not wait."""
        item = self.items.get(interaction_id)
        return None if item is None else item[1]

    def heads(self, queue: str) -> Iterator[tuple[BucketKey, Interaction, int]]:
        """The oldest waiting interaction of each non-empty bucket of ``queue`` with its sequence."""
        buckets = self._buckets.get(queue)
        if not buckets:
            return
        for key, heap in list(buckets.items()):
            head = self._head(heap)
            if head is None:
                del buckets[key]
            else:
                yield key, self.items[head[2]][0], head[1]

    def _head(self, heap: list[Entry]) -> Entry | None:
        items = self.items
        while heap:
            entry = heap[0]
            item = items.get(entry[2])
            if item is not None and item[1] == entry[3]:
                return entry
            heapq.heappop(heap)
        return None
