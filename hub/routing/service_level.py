"""Service level per (queue, tier) over a sliding window: answered in target / answered or abandoned."""

from __future__ import annotations

from collections import deque


class ServiceLevel:
    """A sliding window of outcomes; ``level(now)`` expires old ones in amortised O(1)."""

    __slots__ = ("_events", "_ok", "window")

    def __init__(self, window: float) -> None:
        self.window = window
        self._events: deque[tuple[float, bool]] = deque()
        self._ok = 0

    def record(self, now: float, in_target: bool) -> None:
        """Count one answered (``in_target`` or late) or abandoned (never in target) interaction."""
        self._events.append((now, in_target))
        self._ok += in_target

    def counts(self, now: float) -> tuple[int, int]:
        """(in target, total) within the window ending at ``now``."""
        events = self._events
        horizon = now - self.window
        while events and events[0][0] <= horizon:
            self._ok -= events.popleft()[1]
        return self._ok, len(events)

    def level(self, now: float) -> float:
        """The fraction in target; 1.0 when nothing happened in the window."""
        ok, total = self.counts(now)
        return ok / total if total else 1.0
