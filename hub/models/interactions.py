"""Interactions (one conversation on one channel), their messages, queues and dispositions."""

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from hub.models.base import optional_timestamp, timestamp


class InteractionStatus(enum.StrEnum):
    QUEUED = "queued"
    ASSIGNED = "assigned"
    FOLLOWUP = "followup"
    CLOSED = "closed"


OPEN_STATUSES = (InteractionStatus.QUEUED, InteractionStatus.ASSIGNED, InteractionStatus.FOLLOWUP)


class Interaction(SQLModel, table=True):
    """One conversation with a customer on one channel, from first contact to close.

    While open, (channel, thread_key) is unique: a partial index makes the database, not the
    code, refuse a second open interaction for the same thread.
    """

    __tablename__ = "interaction"
    __table_args__ = (
        Index(
            "uq_interaction_open_thread", "channel", "thread_key", unique=True,
            sqlite_where=text("closed_at IS NULL"), postgresql_where=text("closed_at IS NULL"),
        ),
        Index("ix_interaction_status_created", "status", "created_at"),
        Index("ix_interaction_customer", "customer_id", "created_at"),
        Index("ix_interaction_agent_status", "agent_id", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", ondelete="CASCADE")
    channel: str = Field(max_length=40)
    thread_key: str = Field(max_length=320)
    status: str = Field(default=InteractionStatus.QUEUED, max_length=20)
    queue: str = Field(default="default", max_length=80)
    agent_id: int | None = Field(default=None, foreign_key="agent.id", ondelete="SET NULL")
    subject: str = Field(default="", max_length=300)
    disposition: str = Field(default="", max_length=40)
    close_note: str = Field(default="", max_length=2000)
    last_seq: int = 0
    customer_read_seq: int = 0
    agent_read_seq: int = 0
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()
    entry: str = Field(default="", max_length=80)
    """The address the customer contacted (a dialled number, a mailbox); entry rules match it."""
    queued_at: datetime | None = optional_timestamp()
    """When routing began to wait for an agent: a restart re-enqueues with this arrival time."""
    assigned_at: datetime | None = optional_timestamp()
    closed_at: datetime | None = optional_timestamp()
    record: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, default=dict, server_default="{}"),
    )
    """What the channel measured of the contact once it ended (``Hub.contact_ended``): for a
    call its legs, wait, ring, talk and hold times, who hung up and why, its recordings."""


class Message(SQLModel, table=True):
    """One message of an interaction, numbered by ``seq`` within it.

    (channel, external_id) is unique, so a channel's retry can never store a message twice.
    """

    __tablename__ = "message"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_message_channel_external"),
        UniqueConstraint("interaction_id", "seq", name="uq_message_interaction_seq"),
    )
    id: int | None = Field(default=None, primary_key=True)
    interaction_id: int = Field(foreign_key="interaction.id", ondelete="CASCADE")
    channel: str = Field(max_length=40)
    external_id: str = Field(max_length=320)
    seq: int
    direction: str = Field(max_length=8)
    author_type: str = Field(max_length=12)
    agent_id: int | None = Field(default=None, foreign_key="agent.id", ondelete="SET NULL")
    author_name: str = Field(default="", max_length=200)
    text: str = ""
    delivery_status: str = Field(default="", max_length=12)
    delivery_error: str = Field(default="", max_length=500)
    provider_id: str = Field(default="", max_length=320)
    created_at: datetime = timestamp()
    meta: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, default=dict, server_default="{}"),
    )
    """What the channel keeps beside the text and shows to agents: an email's subject, sender,
    HTML body file and threading ids; written once with the message (``InboundMessage.meta``)."""


class Queue(SQLModel, table=True):
    """A queue interactions wait in; routing rules and skills come with the ACD."""

    __tablename__ = "queue"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80, unique=True)
    title: str = Field(default="", max_length=200)
    is_demo: bool = False


class Disposition(SQLModel, table=True):
    """A category an agent closes an interaction with; data, editable, translated."""

    __tablename__ = "disposition"
    code: str = Field(primary_key=True, max_length=40)
    label_en: str = Field(max_length=100)
    label_zh_cn: str = Field(default="", max_length=100)
    sort: int = 0
    active: bool = True
