"""Agent states: the service that records every change as a span with a start and an end.

The transition table is pure data (``hub.routing.state_table``, re-exported here);
``AgentStates`` applies it over the database, one transaction per change, and tells plugins
(``hub_on_agent_state``) and live screens (the ``agent-states`` bus topic) after the commit.
"""

from __future__ import annotations

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
from hub.routing.state_table import (
    CONTACT,
    NEEDS_INTERACTION,
    REASON_FROM_TABLE,
    REASON_REQUIRED,
    TRANSITIONS,
    WITH_INTERACTION,
    AgentState,
    Mover,
    check_transition,
    may_receive_offers,
)

if TYPE_CHECKING:
    from hub.core import HubCore
    from hub.routing.state_reports import DaySummary, Overdue

__all__ = [
    "TOPIC", "TRANSITIONS", "AgentState", "AgentStates", "Change", "Current", "Mover", "StatePolicy",
    "check_transition", "may_receive_offers",
]
S = AgentState
TOPIC = "agent-states"
"""Bus topic every agent-state change is published on."""


@dataclass(frozen=True, slots=True)
class StatePolicy:
    """How long automatic wrap-up lasts and when an adjust needs a supervisor's eye."""

    wrap_up_seconds: float = 30
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
        await _lock_agent(s, agent_id)
        span = await _open_span(s, agent_id)
        source = current_of(agent_id, span)
        # Read the clock once the open span is ours: a change that waited for another must
        # not end before it began. Another process's clock may lag: never a negative span.
        at = max(now or utcnow(), span.started_at) if span is not None else now or utcnow()
        _check_expected(source, *expect)
        check_transition(source.state, target, mover, manual_wrap_up=self.policy.manual_wrap_up)
        reason = await self._reason(s, source.state, target, mover, reason)
        interaction_id = _interaction_for(source, target, interaction_id)
        new = await _record(s, span, AgentStateSpan(
            agent_id=agent_id, state=target, reason=reason, interaction_id=interaction_id, changed_by=by,
            started_at=at))
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


def _interaction_for(source: Current, target: AgentState, given: int | None) -> int | None:
    """The interaction a new span is for: given, or carried over within a contact."""
    if target not in WITH_INTERACTION:
        return None
    if given is None and source.state in CONTACT:
        given = source.interaction_id
    if target in NEEDS_INTERACTION and given is None:
        raise InvalidRequest("interaction_required", f"{target} needs the interaction it is for")
    return given


async def _lock_agent(s: AsyncSession, agent_id: int) -> None:
    """Changes for one agent queue on the agent's row on PostgreSQL, so each reads the span
    the one before it left open (SQLite's immediate transactions queue them already)."""
    if s.bind.dialect.name == "postgresql":
        await s.execute(select(Agent.id).where(Agent.id == agent_id).with_for_update(key_share=True))


async def _open_span(s: AsyncSession, agent_id: int) -> AgentStateSpan | None:
    query = select(AgentStateSpan).where(AgentStateSpan.agent_id == agent_id,
                                         AgentStateSpan.ended_at.is_(None))  # type: ignore[union-attr]
    return (await s.execute(query)).scalars().first()


async def _record(s: AsyncSession, open_span: AgentStateSpan | None, new: AgentStateSpan) -> AgentStateSpan:
    """End the open span when the new one starts, and store the new one."""
    if open_span is not None:
        still_open = (AgentStateSpan.id == open_span.id, AgentStateSpan.ended_at.is_(None))  # type: ignore[union-attr]
        closed = await s.execute(update(AgentStateSpan).where(*still_open).values(ended_at=new.started_at))
        if closed.rowcount != 1:  # type: ignore[attr-defined]
            raise _Raced
    s.add(new)
    await s.flush()
    return new
