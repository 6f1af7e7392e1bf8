"""The hub's picture of the calls on the switch, kept from events and checked after reconnects.

Events sent while the hub was not connected are lost for good (reference 1.3), so after
every (re)connect the picture is compared with FreeSWITCH's own table (``show channels``):
a call the hub still thinks is ringing or talking but the switch no longer has is ended
here, and a call the switch has that the hub never heard of is taken in. Without that, an
agent could stay "on a call" forever, or a waiting caller be forgotten.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from plugins.voice.esl.events import Event

_GONE = frozenset({"CS_HANGUP", "CS_REPORTING", "CS_DESTROY"})
_REMEMBER_ENDED = 10_000
LOST = "LOST_WHILE_DISCONNECTED"
"""Hangup cause of a call that ended while the hub was not listening."""


@dataclass(slots=True)
class Call:
    """One leg: a caller's, or an agent's phone that the hub rang."""

    uuid: str
    direction: str
    """``inbound`` (to the switch: a caller) or ``outbound`` (the switch dialled out)."""
    number: str
    """The caller's number on an inbound leg, the dialled one on an outbound leg."""
    destination: str
    state: str = "DOWN"
    """FreeSWITCH's call state: DOWN, RINGING, EARLY, ACTIVE, HELD, HANGUP."""
    created_at: float = 0.0
    answered_at: float | None = None
    bridged_to: str | None = None
    ended_at: float | None = None
    hangup_cause: str = ""

    @property
    def ended(self) -> bool:
        return self.ended_at is not None


class CallTable:
    """Live legs by UUID; ``apply`` an event, ``reconcile`` with ``show channels``."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.calls: dict[str, Call] = {}
        self._ended: dict[str, None] = {}
        """Recently ended legs, oldest first: FreeSWITCH sends some events after a leg's
        HANGUP_COMPLETE (the UNBRIDGE of its partner), which must not bring it back."""

    def __len__(self) -> int:
        return len(self.calls)

    def get(self, uuid: str) -> Call | None:
        return self.calls.get(uuid)

    def apply(self, event: Event) -> Call | None:
        """Update the leg the event is about; the leg, or None for an event about no leg."""
        uuid = event.unique_id
        if not uuid:
            return None
        call = self.calls.get(uuid)
        if call is None:
            if uuid in self._ended or event.get("Channel-State") in _GONE \
                    or event.name == "CHANNEL_HANGUP_COMPLETE":
                return None  # over already: nothing to keep
            call = self.calls[uuid] = _from_event(event, event_time(event, self.clock))
        _APPLY.get(event.name, _state_only)(call, event, event_time(event, self.clock))
        if call.ended:
            self._end(call)
        return call

    def _end(self, call: Call) -> None:
        del self.calls[call.uuid]
        self._ended[call.uuid] = None
        if len(self._ended) > _REMEMBER_ENDED:
            del self._ended[next(iter(self._ended))]

    def reconcile(self, rows: Iterable[dict[str, str]]) -> tuple[list[Call], list[Call]]:
        """Make the table what the switch says (rows of ``show channels as json``);
        returns (legs ended here because the switch no longer has them, legs taken in)."""
        now = self.clock()
        live = {row["uuid"]: row for row in rows if row.get("uuid")}
        lost = [call for uuid, call in self.calls.items() if uuid not in live]
        for call in lost:
            call.state, call.ended_at, call.hangup_cause = "HANGUP", now, LOST
            self._end(call)
        found = [_from_row(row, now) for uuid, row in live.items() if uuid not in self.calls]
        for call in found:
            self.calls[call.uuid] = call
        for uuid, row in live.items():
            self.calls[uuid].state = row.get("callstate") or self.calls[uuid].state
        return lost, found


def event_time(event: Event, clock: Callable[[], float]) -> float:
    """When the switch says the event happened (its own clock, µs), else now."""
    stamp = event.get("Event-Date-Timestamp") or ""
    return int(stamp) / 1_000_000 if stamp.isdigit() else clock()


def _from_event(event: Event, now: float) -> Call:
    direction = event.get("Call-Direction") or event.get("Caller-Direction") or "inbound"
    created = event.get("Caller-Channel-Created-Time")
    return Call(
        uuid=event.unique_id or "", direction=direction,
        number=(event.get("Caller-Caller-ID-Number") if direction == "inbound"
                else event.get("Caller-Destination-Number")) or "",
        destination=event.get("Caller-Destination-Number") or "",
        created_at=int(created) / 1_000_000 if created and created.isdigit() and created != "0" else now)


def _from_row(row: dict[str, str], now: float) -> Call:
    direction = row.get("direction") or "inbound"
    epoch = row.get("created_epoch") or ""
    return Call(uuid=row["uuid"], direction=direction,
                number=(row.get("cid_num") if direction == "inbound" else row.get("dest")) or "",
                destination=row.get("dest") or "", state=row.get("callstate") or "DOWN",
                created_at=float(epoch) if epoch.isdigit() else now)


def _state_only(call: Call, event: Event, now: float) -> None:
    call.state = event.get("Channel-Call-State") or call.state


def _answered(call: Call, event: Event, now: float) -> None:
    _state_only(call, event, now)
    call.answered_at = call.answered_at or now


def _bridged(call: Call, event: Event, now: float) -> None:
    _state_only(call, event, now)
    other = event.get("Other-Leg-Unique-ID") or event.get("Bridge-B-Unique-ID")
    call.bridged_to = other if other != call.uuid else event.get("Bridge-A-Unique-ID")


def _unbridged(call: Call, event: Event, now: float) -> None:
    _state_only(call, event, now)
    call.bridged_to = None


def _hung_up(call: Call, event: Event, now: float) -> None:
    call.state = "HANGUP"
    call.hangup_cause = event.get("Hangup-Cause") or call.hangup_cause or "NORMAL_CLEARING"
    if event.name == "CHANNEL_HANGUP_COMPLETE":
        call.ended_at = now


_APPLY: dict[str, Callable[[Call, Event, float], None]] = {
    "CHANNEL_ANSWER": _answered,
    "CHANNEL_BRIDGE": _bridged,
    "CHANNEL_UNBRIDGE": _unbridged,
    "CHANNEL_HANGUP": _hung_up,
    "CHANNEL_HANGUP_COMPLETE": _hung_up,
}
