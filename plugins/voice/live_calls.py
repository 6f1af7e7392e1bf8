"""Calls an agent has taken, followed from the answer to the last hangup.

Ringing hands over a call once the agent's phone is bridged to the caller; from then on the
switch's events say what happens (hold, recording, hangups) and this keeps the picture the
agent's screen shows (``Hub.live``), moves the agent between active and hold, and writes
the call's record when it ends (``Hub.contact_ended``): its legs, IVR path, wait, ring,
talk and hold times, who hung up and why, the recordings.

The switch's own clock stamps the events, so times are the call's, not the hub's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from plugins.voice.calls import event_time
from plugins.voice.esl.events import Event

if TYPE_CHECKING:
    from hub.facade import Hub

log = logging.getLogger("contacthub.channel.voice")
ON_CALL = ("talking", "held")
"""The states of a call the agent and the caller are on together."""


@dataclass(slots=True)
class AgentLeg:
    """One agent's part of a call: their phone's leg, rung, answered and ended."""

    uuid: str
    agent_id: int
    number: str
    rung_at: float
    answered_at: float
    ended_at: float | None = None
    cause: str = ""
    bridged_at: float | None = None
    """When the caller was put through: after the agent's number was announced to them."""
    outcome: str = ""
    """How it ended: ``hangup`` (someone hung up), ``transferred`` (to a queue or a number)."""

    def as_dict(self) -> dict[str, Any]:
        return {"uuid": self.uuid, "agent_id": self.agent_id, "agent_number": self.number,
                "ring_seconds": _seconds(self.rung_at, self.answered_at),
                "announce_seconds": self.announce_seconds,
                "talk_seconds": _seconds(self.talking_from, self.ended_at),
                "cause": self.cause, "outcome": self.outcome}

    @property
    def talking_from(self) -> float:
        return self.bridged_at if self.bridged_at is not None else self.answered_at

    @property
    def announce_seconds(self) -> float:
        """The agent's number announced to the caller: the customer's service time, not the
        agent's talk time."""
        return _seconds(self.answered_at, self.bridged_at)


@dataclass(slots=True)
class LiveCall:
    """One call interaction while agents have it."""

    interaction_id: int
    customer: str
    """The customer's leg (its UUID is the interaction's thread key)."""
    queued_at: float
    """When the caller began to wait for an agent (an outbound call: when it was placed)."""
    ivr_path: list[dict[str, Any]] = field(default_factory=list)
    agents: list[AgentLeg] = field(default_factory=list)
    state: str = "talking"
    """``dialing`` (an outbound call not answered yet), ``talking``, ``held``, ``consulting``
    (the agent with a colleague, the caller on music),
    ``conference`` (the three together), ``queued`` (sent to another queue), ``ended``."""
    muted: bool = False
    recording: str = "off"
    """``off``, ``on``, or ``paused`` (secure mode: silence is written while a card is read)."""
    recordings: list[str] = field(default_factory=list)
    marks: list[str] = field(default_factory=list)
    held_since: float | None = None
    held_seconds: float = 0.0
    holds: int = 0
    ended_at: float | None = None
    hangup_cause: str = ""
    hangup_side: str = ""
    """``customer``, ``agent``, or ``transferred``: who ended the call for the hub."""
    transfer_target: str = ""
    supervisor_leg: str | None = None
    supervisor_id: int | None = None
    supervisor_number: str = ""
    supervision: str = ""
    """``ringing`` (the supervisor's phone) or ``on`` (eavesdrop runs); empty: nobody."""
    supervision_mode: str = ""
    """``listen``, ``whisper`` (the agent hears the supervisor) or ``barge`` (everyone does)."""
    consult_leg: str | None = None
    consult_target: str = ""
    consult_agent_id: int | None = None
    consult_state: str = ""
    """``ringing``, ``talking`` (the agent with them, the caller on music) or ``conference``."""
    consult_failed: str = ""
    consult_blind: bool = False
    """A transfer to a colleague without talking to them first: their answer completes it."""
    conference: str = ""
    back_to_ivr: str = ""
    """The IVR node the agent sent the caller back to, when they did."""
    direction: str = "inbound"
    """``inbound`` (the customer called), ``outbound`` (the agent called them: click-to-call)."""

    @property
    def agent(self) -> AgentLeg | None:
        """The agent leg on the call now (the last one answered, while it lasts)."""
        return self.agents[-1] if self.agents and self.agents[-1].ended_at is None else None

    def live(self) -> dict[str, Any]:
        """What the agent's screen shows; no personal data (the number is on the panel)."""
        agent = self.agent
        return {"state": self.state, "muted": self.muted, "recording": self.recording,
                "secure": self.recording == "paused",
                "marks": list(self.marks), "held_seconds": round(self.held_seconds, 1),
                "talking_since": agent.talking_from if agent else None,
                "agent_number": agent.number if agent else "",
                "supervision": self.supervision, "supervisor_id": self.supervisor_id,
                "supervisor_number": self.supervisor_number,
                "listening": self.supervision_mode == "listen",
                "whispering": self.supervision_mode == "whisper",
                "barging": self.supervision_mode == "barge",
                "consult": {"state": self.consult_state, "target": self.consult_target,
                            "failed": self.consult_failed},
                "ivr_path": self.ivr_path}

    def record(self) -> dict[str, Any]:
        """The call as kept on the interaction once it is over."""
        first = self.agents[0] if self.agents else None
        talk = sum(_seconds(a.talking_from, a.ended_at) for a in self.agents)
        return {
            "kind": "call", "direction": self.direction, "customer_leg": self.customer,
            "ivr_path": self.ivr_path,
            "wait_seconds": _seconds(self.queued_at, first.answered_at if first else None),
            "ring_seconds": round(sum(_seconds(a.rung_at, a.answered_at) for a in self.agents), 3),
            "announce_seconds": round(sum(a.announce_seconds for a in self.agents), 3),
            "talk_seconds": round(max(0.0, talk - self.held_seconds), 3),
            "hold_seconds": round(self.held_seconds, 3), "holds": self.holds,
            "hangup_cause": self.hangup_cause, "hangup_side": self.hangup_side,
            "transfer_target": self.transfer_target, "recordings": list(self.recordings),
            "media": [{"name": path.rsplit("/", 1)[-1], "content_type": "audio/wav", "path": path}
                      for path in self.recordings],
            "marks": list(self.marks), "legs": [a.as_dict() for a in self.agents],
        }

    def summary(self) -> str:
        record = self.record()
        minutes, seconds = divmod(int(record["talk_seconds"]), 60)
        side = {"customer": "the customer hung up", "agent": "the agent hung up",
                "transferred": f"transferred to {self.transfer_target}"}.get(self.hangup_side, "ended")
        held = f", held {int(self.held_seconds)} s" if self.holds else ""
        return f"call {minutes}:{seconds:02d}{held}, {side} ({self.hangup_cause or 'NORMAL_CLEARING'})"


    def snapshot(self) -> dict[str, Any]:
        """What survives a restart of the hub (``LiveCalls.restore`` reads it back)."""
        return {"interaction_id": self.interaction_id, "customer": self.customer, "queued_at": self.queued_at,
                "ivr_path": self.ivr_path, "agents": [asdict(a) for a in self.agents],
                "recording": self.recording, "recordings": self.recordings, "marks": self.marks,
                "held_seconds": self.held_seconds, "holds": self.holds}


STATE_PREFIX = "live:"
"""Durable state key of a taken call: ``live:<interaction id>``."""


def _seconds(start: float | None, end: float | None) -> float:
    return round(max(0.0, end - start), 3) if start is not None and end is not None else 0.0


class LiveCalls:
    """The taken calls by interaction and by leg; fed every event of the shared connection."""

    def __init__(self, hub: Hub, clock: Callable[[], float] = time.time) -> None:
        self.hub = hub
        self.clock = clock
        self.by_interaction: dict[int, LiveCall] = {}
        self._by_leg: dict[str, LiveCall] = {}
        self._handoffs: dict[str, asyncio.Queue[str]] = {}
        self.consult_gone: Callable[[LiveCall], Awaitable[None]] | None = None
        """Called when the consulted party hangs up during a consultation (back to the caller)."""

    def follow(self, customer: str) -> asyncio.Queue[str]:
        """The caller's socket hears here when the agent's leg is gone while the caller is not:
        ``requeued`` (hold music again), ``ended`` (the survey, or goodbye), ``transferred``
        (the call left the hub)."""
        return self._handoffs.setdefault(customer, asyncio.Queue())

    def unfollow(self, customer: str) -> None:
        self._handoffs.pop(customer, None)

    def _hand_off(self, customer: str, what: str) -> None:
        queue = self._handoffs.get(customer)
        if queue is not None:
            queue.put_nowait(what)

    def get(self, interaction_id: int) -> LiveCall | None:
        return self.by_interaction.get(interaction_id)

    def of_leg(self, uuid: str) -> LiveCall | None:
        return self._by_leg.get(uuid)

    async def answered(self, interaction_id: int, customer: str, agent: AgentLeg, *, queued_at: float,
                       ivr_path: list[dict[str, Any]]) -> LiveCall:
        """The agent's phone is bridged to the caller: the call is theirs, and their screen
        shows it at once (the screen pop)."""
        call = self.by_interaction.get(interaction_id)
        if call is None:
            call = LiveCall(interaction_id, customer, queued_at, ivr_path)
            self.by_interaction[interaction_id] = self._by_leg[customer] = call
        call.agents.append(agent)
        call.state, call.muted = "talking", False
        self._by_leg[agent.uuid] = call
        await self.publish(call)
        await self.save(call)
        return call

    def dialing(self, interaction_id: int, customer: str) -> LiveCall:
        """An outbound call the agent places: followed from before either phone answers."""
        call = LiveCall(interaction_id, customer, self.clock(), state="dialing", direction="outbound")
        self.by_interaction[interaction_id] = self._by_leg[customer] = call
        return call

    async def save(self, call: LiveCall) -> None:
        """Keep the call where a restarted hub finds it (``restore``)."""
        try:
            await self.hub.put_state(f"{STATE_PREFIX}{call.interaction_id}", call.snapshot())
        except Exception:
            log.exception("voice: could not keep call %s for a restart", call.customer)

    def restore(self, saved: dict[str, Any]) -> LiveCall:
        """Take back a call a previous run of the hub had (its legs are still on the switch)."""
        call = LiveCall(int(saved["interaction_id"]), str(saved["customer"]), float(saved["queued_at"]),
                        list(saved.get("ivr_path") or []), [AgentLeg(**a) for a in saved.get("agents", [])],
                        recording=str(saved.get("recording") or "off"),
                        recordings=list(saved.get("recordings") or []), marks=list(saved.get("marks") or []),
                        held_seconds=float(saved.get("held_seconds") or 0.0),
                        holds=int(saved.get("holds") or 0))
        self.by_interaction[call.interaction_id] = self._by_leg[call.customer] = call
        for agent in call.agents:
            if agent.ended_at is None:
                self._by_leg[agent.uuid] = call
        return call

    async def publish(self, call: LiveCall) -> None:
        try:
            await self.hub.live(call.interaction_id, call.live())
        except Exception:  # the screen misses one update; the call goes on
            log.exception("voice: could not show call %s's state", call.customer)

    async def on_event(self, event: Event) -> None:
        """Follow one event of the shared connection (any leg; most are not ours)."""
        uuid = event.unique_id
        call = self._by_leg.get(uuid or "")
        if call is None:
            return
        when = event_time(event, self.clock)
        agent = call.agent
        if event.name in ("CHANNEL_HOLD", "CHANNEL_UNHOLD") and call.consult_leg is not None:
            pass  # the consultation holds and releases the agent's leg itself
        elif event.name in ("CHANNEL_HOLD", "CHANNEL_UNHOLD") and agent is not None and uuid == agent.uuid:
            await self.held(call, event.name == "CHANNEL_HOLD", when)
        elif event.name in ("RECORD_START", "RECORD_STOP") and uuid == call.customer:
            path = event.get("Record-File-Path") or ""
            if event.name == "RECORD_START" and path and path not in call.recordings:
                call.recordings.append(path)
            call.recording = "on" if event.name == "RECORD_START" else "off"
            await self.publish(call)
        elif event.name == "CHANNEL_HANGUP":
            await self._hung_up(call, uuid or "", event.get("Hangup-Cause") or "NORMAL_CLEARING", when)

    async def held(self, call: LiveCall, held: bool, when: float) -> None:
        """The caller was put on hold or taken off it; a repeat of the last change is ignored."""
        if held and call.held_since is None:
            call.held_since, call.holds, call.state = when, call.holds + 1, "held"
        elif not held and call.held_since is not None:
            call.held_seconds += max(0.0, when - call.held_since)
            call.held_since, call.state = None, "talking"
        else:
            return  # a second report of the same change
        await self.hub.on_hold(call.interaction_id, held)
        await self.publish(call)

    async def _hung_up(self, call: LiveCall, uuid: str, cause: str, when: float) -> None:
        agent = next((a for a in call.agents if a.uuid == uuid and a.ended_at is None), None)
        if agent is not None:
            agent.ended_at, agent.cause = when, cause
            agent.outcome = agent.outcome or "hangup"
            self._by_leg.pop(uuid, None)
            if agent.outcome == "transferred" and call.state == "queued":
                self._hand_off(call.customer, "requeued")
                await self.save(call)
                return
            if agent.outcome in ("transferred", "taken_over") and call.agent is not None:
                await self.save(call)  # a colleague or the supervisor has the call now
                return
            call.hangup_side = call.hangup_side or "agent"
        elif uuid == call.supervisor_leg:
            self.end_supervision(call)
            await self.publish(call)
            return
        elif uuid == call.consult_leg:
            if call.consult_state == "conference":
                self._by_leg.pop(uuid, None)
                return  # they left the room; the caller and the agent go on
            ringing = call.consult_state == "ringing"
            if ringing:  # never answered: the caller stays on hold until the agent resumes
                call.consult_failed = f"{call.consult_target}: {cause}"
            self.end_consult(call)
            if not ringing and self.consult_gone is not None:
                await self.consult_gone(call)
            await self.publish(call)
            return
        elif uuid == call.customer:
            call.hangup_side = call.hangup_side or "customer"
        else:
            return
        call.hangup_cause = call.hangup_cause or cause
        await self.end(call, when)

    async def end(self, call: LiveCall, when: float | None = None) -> None:
        """The call is over for the agent: record it once, free the agent into wrap-up, and
        let the caller's socket go on (the survey) if the caller is still there."""
        if call.ended_at is not None:
            return
        when = self.clock() if when is None else when
        if call.held_since is not None:
            call.held_seconds += max(0.0, when - call.held_since)
            call.held_since = None
        for agent in call.agents:
            if agent.ended_at is None:
                agent.ended_at, agent.outcome = when, agent.outcome or "hangup"
                self._by_leg.pop(agent.uuid, None)
        call.ended_at, call.state = when, "ended"
        # No survey for a call that left the hub or that goes on in a conference room.
        gone = call.hangup_side == "transferred" or bool(call.conference)
        handoff = f"ivr:{call.back_to_ivr}" if call.back_to_ivr else "transferred" if gone else "ended"
        self._hand_off(call.customer, handoff)
        self._forget(call)
        try:
            await self.hub.contact_ended(call.interaction_id, call.record(), call.summary())
            await self.hub.delete_state(f"{STATE_PREFIX}{call.interaction_id}")
        except Exception:
            log.exception("voice: could not record the end of call %s", call.customer)

    def watch(self, call: LiveCall, leg: str) -> None:
        """Another leg of this call (a consulted colleague's) whose events concern it."""
        self._by_leg[leg] = call

    def end_consult(self, call: LiveCall, *, keep_leg: bool = False) -> None:
        if call.consult_leg is not None and not keep_leg:
            self._by_leg.pop(call.consult_leg, None)
        call.consult_leg, call.consult_agent_id, call.consult_blind = None, None, False
        call.consult_state = call.consult_target = ""

    def watch_supervisor(self, call: LiveCall) -> None:
        """The supervisor's phone leg is this call's too: its hangup ends the supervision."""
        if call.supervisor_leg is not None:
            self._by_leg[call.supervisor_leg] = call

    def end_supervision(self, call: LiveCall) -> None:
        if call.supervisor_leg is not None and all(a.uuid != call.supervisor_leg for a in call.agents):
            self._by_leg.pop(call.supervisor_leg, None)
        call.supervisor_leg, call.supervisor_id, call.supervisor_number = None, None, ""
        call.supervision = call.supervision_mode = ""

    def taken_over(self, call: LiveCall) -> None:
        """The supervisor took the call: their leg is now its agent leg and nobody supervises;
        the former agent's hangup event closes their part (outcome ``taken_over``)."""
        self._by_leg[call.agents[-1].uuid] = call
        call.supervisor_leg = None
        self.end_supervision(call)

    def requeued(self, call: LiveCall, queue: str) -> None:
        """The agent sent the call to another queue: their leg goes, the caller waits again."""
        agent = call.agent
        if agent is not None:
            agent.outcome = "transferred"
        call.state, call.transfer_target = "queued", f"queue {queue}"

    def _forget(self, call: LiveCall) -> None:
        self.by_interaction.pop(call.interaction_id, None)
        for uuid in [uuid for uuid, c in self._by_leg.items() if c is call]:
            del self._by_leg[uuid]
