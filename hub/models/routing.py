"""Agent states over time (one span per state, start to end) and the reasons agents give."""

from datetime import datetime

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from hub.models.base import optional_timestamp, timestamp

OPEN_SPAN = text("ended_at IS NULL")


class AgentStateSpan(SQLModel, table=True):
    """One stretch of time an agent spent in one state; ``ended_at`` is None while it lasts.

    An agent has at most one open span: a partial unique index makes the database, not the
    code, refuse a second one when two changes race.
    """

    __tablename__ = "agent_state_span"
    __table_args__ = (
        Index("uq_agent_state_span_open", "agent_id", unique=True,
              sqlite_where=OPEN_SPAN, postgresql_where=OPEN_SPAN),
        Index("ix_agent_state_span_agent_started", "agent_id", "started_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    agent_id: int = Field(foreign_key="agent.id", ondelete="CASCADE")
    state: str = Field(max_length=20)
    reason: str = Field(default="", max_length=40)
    # A log, like the audit: kept as it was when the interaction or the changing agent goes.
    interaction_id: int | None = None
    changed_by: int | None = None
    started_at: datetime = timestamp()
    ended_at: datetime | None = optional_timestamp()


class StateReason(SQLModel, table=True):
    """A reason an agent gives for a state: busy reasons and leave categories; data, translated.

    ``limit_minutes`` is how long a leave of this category may last before the agent and
    their supervisor are told; None means no limit.
    """

    __tablename__ = "state_reason"
    state: str = Field(primary_key=True, max_length=20)
    code: str = Field(primary_key=True, max_length=40)
    label_en: str = Field(max_length=100)
    label_zh_cn: str = Field(default="", max_length=100)
    limit_minutes: int | None = None
    sort: int = 0
    active: bool = True
