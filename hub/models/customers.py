"""Customers, the addresses they are known by, and their contact history."""

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from hub.models.base import timestamp


class CustomerBase(SQLModel):
    name: str = Field(default="", max_length=200)
    tier: str = Field(default="ordinary", max_length=40, index=True)
    region: str = Field(default="", max_length=80, index=True)


class Customer(CustomerBase, table=True):
    """A person or account the centre serves, whatever channel they use."""

    __tablename__ = "customer"
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = timestamp()
    is_demo: bool = False


class CustomerIdentity(SQLModel, table=True):
    """One address a customer is known by: (kind, address) is unique across customers.

    ``kind`` is a channel name or an address kind shared by channels (``phone`` for voice,
    SMS and fax; ``email``).
    """

    __tablename__ = "customer_identity"
    __table_args__ = (UniqueConstraint("kind", "address", name="uq_identity_kind_address"),)
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=40)
    address: str = Field(max_length=320)
    created_at: datetime = timestamp()


class HistoryEntry(SQLModel, table=True):
    """One line of a customer's contact history: an interaction opened or closed, on any channel."""

    __tablename__ = "history_entry"
    __table_args__ = (Index("ix_history_customer_at", "customer_id", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", ondelete="CASCADE")
    interaction_id: int = Field(foreign_key="interaction.id", ondelete="CASCADE")
    channel: str = Field(max_length=40)
    kind: str = Field(max_length=40)
    summary: str = Field(default="", max_length=500)
    at: datetime = timestamp()
