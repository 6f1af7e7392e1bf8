"""Agents (every person who logs in), their web sessions, and the audit log."""

import enum
from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from hub.models.base import timestamp


class AgentRole(enum.StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


ROLE_RANK = {AgentRole.AGENT: 1, AgentRole.SUPERVISOR: 2, AgentRole.ADMIN: 3}


class Agent(SQLModel, table=True):
    """A person who logs in: agent, supervisor or admin, known by an agent number."""

    __tablename__ = "agent"
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=20, unique=True)
    name: str = Field(max_length=200)
    password_hash: str = Field(max_length=200)
    role: str = Field(default=AgentRole.AGENT, max_length=20)
    locale: str = Field(default="", max_length=10)
    active: bool = True
    is_demo: bool = False
    created_at: datetime = timestamp()


class WebSession(SQLModel, table=True):
    """A server-side login session; the cookie carries a random token whose hash is the key."""

    __tablename__ = "web_session"
    token_hash: str = Field(primary_key=True, max_length=64)
    agent_id: int = Field(foreign_key="agent.id", index=True, ondelete="CASCADE")
    csrf_token: str = Field(max_length=64)
    created_at: datetime = timestamp()
    expires_at: datetime = timestamp()
    ip: str = Field(default="", max_length=64)


class AuditEntry(SQLModel, table=True):
    """What an agent or admin did, when and from where; never updated, never deleted by the app."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_agent_at", "agent_id", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    agent_id: int | None = Field(default=None, foreign_key="agent.id", ondelete="SET NULL")
    action: str = Field(max_length=60)
    target: str = Field(default="", max_length=120)
    detail: str = Field(default="", max_length=1000)
    ip: str = Field(default="", max_length=64)
    at: datetime = timestamp()
