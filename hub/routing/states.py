"""Agent states: the states, who may move an agent between them, and the service that
records every change as a span with a start and an end.

The transition table is pure data (``TRANSITIONS``); ``AgentStates`` applies it over the
database, one transaction per change, and tells plugins (``hub_on_agent_state``) and live
screens (the ``agent-states`` bus topic) after the commit.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import transaction
from hub.errors import InvalidRequest, NotFound, PermissionDenied
from hub.events import AgentStateEvent
from hub.models import Agent, AgentStateSpan, StateReason, utcnow
from hub.models.agents import ROLE_RANK, AgentRole
from hub.plugins import call_all

if TYPE_CHECKING:
    from hub.core import HubCore
    from hub.routing.state_reports import DaySummary, Overdue

TOPIC = "agent-states"
"""Bus topic every agent-state change is published on."""


class AgentState(enum.StrEnum):
    LOGGED_OUT = "logged_out"
    IDLE = "idle"  # 示闲: ready for an offer
    BUSY = "busy"  # 示忙: manual with a reason, or automatic (a missed offer)
    OFFERED = "offered"  # an offer is ringing
    ACTIVE = "active"
    HOLD = "hold"
    WRAP_UP = "wrap_up"  # 整理
    ADJUST = "adjust"  # 调整
    LEAVE = "leave"  # 请假
    STUDY = "study"  # 学习
    HANDOVER = "handover"  # signed out for a shift hand-over, still logged in


class Mover(enum.StrEnum):
    """Who moves an agent: the agent, a supervisor forcing it, or the hub (routing, timers)."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    HUB = "hub"


S = AgentState
READY = (S.IDLE, S.BUSY)
AWAY = (S.ADJUST, S.LEAVE, S.STUDY, S.HANDOVER)
CONTACT = (S.OFFERED, S.ACTIVE, S.HOLD)
NEEDS_INTERACTION = CONTACT
WITH_INTERACTION = (*CONTACT, S.WRAP_UP)
"""States whose span records the interaction they are for."""
REASON_REQUIRED = (S.BUSY, S.LEAVE)
REASON_FROM_TABLE = (S.BUSY, S.LEAVE)
"""States whose reason, given by a person, must be an active ``StateReason`` code."""


def _rules() -> dict[tuple[AgentState, AgentState], frozenset[Mover]]:
    agent, supervisor, hub = Mover.AGENT, Mover.SUPERVISOR, Mover.HUB
    rules: list[tuple[tuple[AgentState, ...], tuple[AgentState, ...], tuple[Mover, ...]]] = [
        ((S.LOGGED_OUT,), READY, (agent,)),  # log in
        ((S.IDLE,), (S.BUSY,), (agent, hub)),
        ((S.BUSY,), (S.IDLE, S.BUSY), (agent,)),  # busy -> busy: another reason
        ((*READY, S.WRAP_UP, *AWAY), READY, (supervisor,)),  # force idle, force busy
        ((*READY, S.WRAP_UP, *AWAY), (S.LOGGED_OUT,), (agent,)),
        (tuple(S), (S.LOGGED_OUT,), (supervisor, hub)),  # force logout, session expired
        (READY, AWAY, (agent,)),
        (AWAY, READY, (agent,)),  # back from adjust, leave, study; signed in after hand-over
        ((S.IDLE,), (S.OFFERED,), (hub,)),
        ((S.OFFERED,), (S.ACTIVE,), (agent, hub)),  # accepted
        ((S.OFFERED,), (S.IDLE,), (hub,)),  # withdrawn: the customer left or was served
        ((S.OFFERED,), (S.BUSY,), (hub,)),  # missed: not accepted in time
        (READY, (S.ACTIVE,), (agent, hub)),  # an outbound contact, a picked contact
        ((S.ACTIVE,), (S.HOLD,), (agent, hub)),
        ((S.HOLD,), (S.ACTIVE,), (agent, hub)),
        ((S.ACTIVE, S.HOLD), (S.WRAP_UP, *READY), (agent, hub)),  # the contact ended
        (READY, (S.WRAP_UP,), (agent, supervisor)),  # manual wrap-up, with permission
        ((S.WRAP_UP,), READY, (agent, hub)),
    ]
    table: dict[tuple[AgentState, AgentState], set[Mover]] = {}
    for sources, targets, movers in rules:
        for source in sources:
            for target in targets:
                if source != target or source == S.BUSY:
                    table.setdefault((source, target), set()).update(movers)
    return {pair: frozenset(movers) for pair, movers in table.items()}


TRANSITIONS = _rules()
"""(from, to) -> who may make that move; a pair that is absent is never legal."""


def may_receive_offers(state: AgentState | str) -> bool:
    """Only an idle agent is offered a contact (busy, leave, study, adjust... never)."""
    return state == AgentState.IDLE


def check_transition(source: AgentState, target: AgentState, mover: Mover,
                     *, manual_wrap_up: bool = False) -> None:
    """Refuse a move that is not in the table or not for this mover; stable error ids."""
    movers = TRANSITIONS.get((source, target))
    if not movers:
        raise InvalidRequest("illegal_transition", f"an agent cannot go from {source} to {target}",
                             status=409)
    if mover not in movers:
        raise InvalidRequest("transition_not_allowed",
                             f"{mover} may not move an agent from {source} to {target}", status=403)
    if (target == S.WRAP_UP and source in READY and mover == Mover.AGENT
            and not manual_wrap_up):
        raise InvalidRequest("wrap_up_not_permitted", "manual wrap-up needs permission", status=403)


@dataclass(frozen=True, slots=True)
class StatePolicy:
    """How long automatic wrap-up lasts and when an adjust needs a supervisor's eye."""

    wrap_up_seconds: int = 30
    adjust_warning_seconds: int = 600
    manual_wrap_up: bool = False
    """Whether agents may enter wrap-up by themselves, outside a contact."""
    attempts: int = 3
    """Tries of one change when a concurrent change for the same agent wins the race."""


@dataclass(frozen=True, slots=True)
class Current:
    """An agent's state now; ``since`` is None for an agent who never logged in."""

    agent_id: int
    state: AgentState
    reason: str = ""
    since: datetime | None = None
    interaction_id: int | None = None
    span_id: int | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """A recorded change; ``due`` is when an automatic wrap-up ends (call ``end_wrap_up``)."""

    event: AgentStateEvent
    span_id: int
    due: datetime | None = None


class _Raced(Exception):
    """Another change closed the open span first."""


def current_of(agent_id: int, span: AgentStateSpan | None) -> Current:
    if span is None:
        return Current(agent_id, AgentState.LOGGED_OUT)
    return Current(agent_id, AgentState(span.state), span.reason, span.started_at,
                   span.interaction_id, span.id)


class AgentStates:
    """Changes and reads agents' states over a hub's database; holds no state of its own."""

    def __init__(self, core: HubCore, policy: StatePolicy | None = None) -> None:
        self.core = core
        self.policy = policy or StatePolicy()

    async def change(
        self, agent_id: int, to: AgentState | str, *, reason: str = "", by: int | None = None,
        now: datetime | None = None, interaction_id: int | None = None,
        expect: AgentState | None = None, expect_span: int | None = None,
    ) -> Change:
        """Close the agent's open span and open one in ``to``, in one transaction.

        ``by`` is the agent id of whoever asks (the agent, or a supervisor forcing it); None
        means the hub. ``expect`` refuses the change (``state_changed``) unless the agent is
        in that state, for callers that decided on a state they read earlier;
        ``expect_span`` likewise unless that span (``Current.span_id``) is still the open one.
        """
        target = AgentState(to)
        for _ in range(self.policy.attempts):
            try:
                async with transaction(self.core.sessions) as s:
                    change = await self._apply(s, agent_id, target, reason, by, now, interaction_id,
                                                (expect, expect_span))
            except (IntegrityError, _Raced):
                continue
            await self._publish(change.event)
            return change
        raise InvalidRequest("state_conflict", "the agent's state changed meanwhile; try again",
                             status=409)

    async def _apply(
        self, s: AsyncSession, agent_id: int, target: AgentState, reason: str, by: int | None,
        now: datetime | None, interaction_id: int | None, expect: tuple[AgentState | None, int | None],
    ) -> Change:
        mover = await self._mover(s, agent_id, by)
        span = await _open_span(s, agent_id)
        source = current_of(agent_id, span)
        # Read the clock once the open span is ours: a change that waited for another must
        # not end before it began. Another process's clock may lag: never a negative span.
        at = max(now or utcnow(), span.started_at) if span is not None else now or utcnow()
        _check_expected(source, *expect)
        check_transition(source.state, target, mover, manual_wrap_up=self.policy.manual_wrap_up)
        reason = await self._reason(s, source.state, target, mover, reason)
        if target not in WITH_INTERACTION:
            interaction_id = None
        elif interaction_id is None and source.state in CONTACT:
            interaction_id = source.interaction_id
        if target in NEEDS_INTERACTION and interaction_id is None:
            raise InvalidRequest("interaction_required", f"{target} needs the interaction it is for")
        if span is not None:
            closed = await s.execute(update(AgentStateSpan)
                                     .where(AgentStateSpan.id == span.id, AgentStateSpan.ended_at.is_(None))
                                     .values(ended_at=at))
            if closed.rowcount != 1:  # type: ignore[attr-defined]
                raise _Raced
        new = AgentStateSpan(agent_id=agent_id, state=target, reason=reason, interaction_id=interaction_id,
                             changed_by=by, started_at=at)
        s.add(new)
        await s.flush()
        due = at + timedelta(seconds=self.policy.wrap_up_seconds) if reason == "auto" else None
        event = AgentStateEvent(agent_id, source.state, target, reason, by, at, interaction_id)
        return Change(event, int(new.id), due)  # type: ignore[arg-type]

    async def _mover(self, s: AsyncSession, agent_id: int, by: int | None) -> Mover:
        ids = {agent_id} if by is None else {agent_id, by}
        roles = dict((await s.execute(select(Agent.id, Agent.role).where(Agent.id.in_(ids)))).all())  # type: ignore[union-attr, attr-defined]
        if agent_id not in roles or (by is not None and by not in roles):
            raise NotFound("agent")
        if by is None:
            return Mover.HUB
        if by == agent_id:
            return Mover.AGENT
        if ROLE_RANK.get(AgentRole(roles[by]), 0) >= ROLE_RANK[AgentRole.SUPERVISOR]:
            return Mover.SUPERVISOR
        raise PermissionDenied("only a supervisor may change another agent's state")

    async def _reason(self, s: AsyncSession, source: AgentState, target: AgentState, mover: Mover,
                      reason: str) -> str:
        if target == S.WRAP_UP:
            return "auto" if source in CONTACT else "manual"
        if target in REASON_REQUIRED and not reason:
            raise InvalidRequest("reason_required", f"{target} needs a reason")
        if target in REASON_FROM_TABLE and mover != Mover.HUB:
            known = await s.get(StateReason, (str(target), reason))
            if known is None or not known.active:
                raise InvalidRequest("unknown_reason", f"{reason!r} is not a {target} reason")
        return reason

    async def _publish(self, event: AgentStateEvent) -> None:
        await call_all(self.core.pm, "hub_on_agent_state", event=event)
        await self.core.bus.publish(TOPIC, {"event": "AgentStateEvent", **asdict(event),
                                            "at": event.at.isoformat()})

    async def end_wrap_up(self, agent_id: int, span_id: int, now: datetime | None = None) -> Change | None:
        """End an automatic wrap-up at its due time: idle, unless the agent already left it."""
        try:
            return await self.change(agent_id, S.IDLE, now=now, expect=S.WRAP_UP, expect_span=span_id)
        except InvalidRequest as err:
            if err.error_id == "state_changed":
                return None
            raise

    async def wrap_ups_due(self, now: datetime) -> list[Current]:
        """Automatic wrap-ups past their end, e.g. after a restart lost the caller's timer."""
        limit = now - timedelta(seconds=self.policy.wrap_up_seconds)
        query = select(AgentStateSpan).where(
            AgentStateSpan.ended_at.is_(None), AgentStateSpan.state == S.WRAP_UP,  # type: ignore[union-attr]
            AgentStateSpan.reason == "auto", AgentStateSpan.started_at <= limit)
        async with self.core.sessions() as s:
            return [current_of(span.agent_id, span) for span in (await s.execute(query)).scalars()]

    async def current(self, agent_id: int) -> Current:
        async with self.core.sessions() as s:
            return current_of(agent_id, await _open_span(s, agent_id))

    async def everyone(self) -> dict[int, Current]:
        """Every agent's open span, for a router or wallboard starting up."""
        async with self.core.sessions() as s:
            query = select(AgentStateSpan).where(AgentStateSpan.ended_at.is_(None))  # type: ignore[union-attr]
            spans = (await s.execute(query)).scalars()
            return {span.agent_id: current_of(span.agent_id, span) for span in spans}

    async def today(self, agent_id: int, now: datetime | None = None) -> DaySummary:
        """Time per state since midnight (in ``now``'s time zone), contacts, talk and wrap-up."""
        from hub.routing.state_reports import day_summary

        return await day_summary(self.core.sessions, agent_id, now or utcnow())

    async def overdue(self, now: datetime | None = None) -> list[Overdue]:
        """Leaves past their category's limit and adjusts past the warning threshold."""
        from hub.routing.state_reports import overdue

        return await overdue(self.core.sessions, now or utcnow(), self.policy.adjust_warning_seconds)


def _check_expected(source: Current, state: AgentState | None, span_id: int | None) -> None:
    if (state is not None and source.state != state) or (span_id is not None and source.span_id != span_id):
        raise InvalidRequest("state_changed", f"the agent's state changed: now {source.state}", status=409)


async def _open_span(s: AsyncSession, agent_id: int) -> AgentStateSpan | None:
    if s.bind.dialect.name == "postgresql":
        # Changes for one agent queue on the agent's row, so each reads the span the one
        # before it left open (SQLite's immediate transactions queue them already).
        await s.execute(select(Agent.id).where(Agent.id == agent_id).with_for_update(key_share=True))
    query = select(AgentStateSpan).where(AgentStateSpan.agent_id == agent_id,
                                         AgentStateSpan.ended_at.is_(None))  # type: ignore[union-attr]
    return (await s.execute(query)).scalars().first()
