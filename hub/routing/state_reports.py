"""What agent-state spans add up to: an agent's day for the status bar, and the leaves and
adjusts that have gone on too long, for a periodic job to notify about."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.models import AgentStateSpan, StateReason
from hub.routing.state_table import AgentState

MISSED_OFFER = "missed_offer"
"""The busy reason the router gives an agent who let an offer ring out."""


@dataclass(frozen=True, slots=True)
class DaySummary:
    """An agent's day so far: seconds per state, contacts handled, talk and wrap-up time."""

    agent_id: int
    state: AgentState
    since: datetime | None
    seconds: dict[AgentState, float] = field(default_factory=dict)
    contacts: int = 0
    talk_seconds: float = 0.0
    current_talk_seconds: float = 0.0
    missed_offers: int = 0

    @property
    def average_talk_seconds(self) -> float:
        return self.talk_seconds / self.contacts if self.contacts else 0.0

    @property
    def wrap_up_seconds(self) -> float:
        return self.seconds.get(AgentState.WRAP_UP, 0.0)


@dataclass(frozen=True, slots=True)
class Overdue:
    """An open leave or adjust past its limit; ``notify`` says who should hear of it."""

    agent_id: int
    state: AgentState
    reason: str
    since: datetime
    limit_seconds: int
    over_seconds: float
    notify: tuple[str, ...]


def midnight(now: datetime) -> datetime:
    """The start of ``now``'s day, in ``now``'s own time zone."""
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


async def day_summary(sessions: async_sessionmaker[AsyncSession], agent_id: int, now: datetime) -> DaySummary:
    start = midnight(now)
    query = (select(AgentStateSpan)
             .where(AgentStateSpan.agent_id == agent_id, AgentStateSpan.started_at < now,
                    or_(AgentStateSpan.ended_at.is_(None), AgentStateSpan.ended_at > start))  # type: ignore[union-attr]
             .order_by(AgentStateSpan.started_at))  # type: ignore[arg-type]
    async with sessions() as s:
        spans = list((await s.execute(query)).scalars())
    seconds: dict[AgentState, float] = defaultdict(float)
    talk: dict[int | None, float] = defaultdict(float)
    missed = 0
    for span in spans:
        missed += span.state == AgentState.BUSY and span.reason == MISSED_OFFER and span.started_at >= start
        length = (min(span.ended_at or now, now) - max(span.started_at, start)).total_seconds()
        seconds[AgentState(span.state)] += max(length, 0.0)
        if span.state == AgentState.ACTIVE:
            talk[span.interaction_id] += max(length, 0.0)
    last = spans[-1] if spans and spans[-1].ended_at is None else None
    in_contact = last is not None and last.state in (AgentState.ACTIVE, AgentState.HOLD)
    state = AgentState(last.state) if last else AgentState.LOGGED_OUT
    return DaySummary(
        agent_id, state, last.started_at if last else None, dict(seconds),
        contacts=len(talk), talk_seconds=sum(talk.values()), missed_offers=missed,
        current_talk_seconds=talk.get(last.interaction_id, 0.0) if in_contact and last else 0.0,
    )


async def overdue(sessions: async_sessionmaker[AsyncSession], now: datetime,
                  adjust_warning_seconds: int) -> list[Overdue]:
    query = select(AgentStateSpan).where(AgentStateSpan.ended_at.is_(None),  # type: ignore[union-attr]
                                         AgentStateSpan.state.in_((AgentState.LEAVE, AgentState.ADJUST)))  # type: ignore[attr-defined]
    async with sessions() as s:
        spans = list((await s.execute(query)).scalars())
        limits = dict((await s.execute(select(StateReason.code, StateReason.limit_minutes)
                                       .where(StateReason.state == AgentState.LEAVE))).all())  # type: ignore[arg-type]
    found = []
    for span in spans:
        if span.state == AgentState.LEAVE:
            minutes = limits.get(span.reason)
            limit, notify = (None if minutes is None else minutes * 60), ("agent", "supervisor")
        else:
            limit, notify = adjust_warning_seconds, ("supervisor",)
        if limit is None or now - span.started_at <= timedelta(seconds=limit):
            continue
        over = (now - span.started_at).total_seconds() - limit
        found.append(Overdue(span.agent_id, AgentState(span.state), span.reason, span.started_at,
                             limit, over, notify))
    return sorted(found, key=lambda item: item.since)
