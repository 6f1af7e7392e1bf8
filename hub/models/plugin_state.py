"""Plugins' own durable state: small JSON documents under keys, one namespace per plugin."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from hub.models.base import optional_timestamp, timestamp


class PluginState(SQLModel, table=True):
    """One document a plugin keeps: a mailbox's last UID, an account, a send lease.

    ``scope`` is the plugin's name, so plugins cannot read each other's keys through the
    ``Hub`` facade. ``lease_until`` is set only on keys used as leases (``Hub.claim``).
    """

    __tablename__ = "plugin_state"
    scope: str = Field(primary_key=True, max_length=40)
    key: str = Field(primary_key=True, max_length=300)
    value: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    lease_until: datetime | None = optional_timestamp()
    updated_at: datetime = timestamp()
