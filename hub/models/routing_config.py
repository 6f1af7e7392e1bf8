"""Routing as data: skill groups' rules, agents' skills and capacity, customer tiers, region
prefixes, the blocklist, entry rules and the durable offers of the running router.

The JSON columns hold small documents whose formats are given on each field; the admin API
validates them before they are stored, and ``hub.routing.config`` turns rows into the
routing engine's frozen dataclasses.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from hub.models.base import optional_timestamp, timestamp


def json_column(default: Any) -> Any:
    factory = (lambda: list(default)) if isinstance(default, list) else (lambda: dict(default))
    return Field(default_factory=factory, sa_column=Column(JSON, nullable=False))


class QueueRules(SQLModel, table=True):
    """How one skill group (queue) routes; one row per ``queue.name``.

    - ``steps``: ``[{"after": 30, "min_proficiency": 2}, ...]`` — after ``after`` seconds of
      waiting, agents with that proficiency or more qualify.
    - ``overflow``: ``[{"after": 120, "queue": "billing"}, ...]`` — after ``after`` seconds,
      that queue's agents are offered the interaction too.
    - ``targets``: ``{"gold": {"fraction": 0.9, "seconds": 20}, ...}`` per customer tier;
      tiers not named use ``target_fraction`` within ``target_seconds``.
    - ``schedule``: ``{"timezone": "Asia/Shanghai", "hours": {"mon": [["08:00", "20:00"]],
      ..., "sun": []}, "holidays": ["2026-10-01", ...], "open_days": ["2026-10-10", ...]}``;
      ``{}`` means always open. ``open_days`` are working days that fall on a weekend
      (调休): they follow Monday's hours.
    - ``region``: the region this group serves (``"guangdong/shenzhen"``); empty for all.
    """

    __tablename__ = "queue_rules"
    queue: str = Field(primary_key=True, foreign_key="queue.name", ondelete="CASCADE", max_length=80)
    strategy: str = Field(default="longest_idle", max_length=40)
    min_proficiency: int = 1
    steps: list[dict[str, Any]] = json_column([])
    overflow: list[dict[str, Any]] = json_column([])
    targets: dict[str, Any] = json_column({})
    target_fraction: float = 0.8
    target_seconds: float = 20.0
    max_waiting: int | None = None
    daily_limit: int | None = None
    offer_timeout_seconds: int = 20
    schedule: dict[str, Any] = json_column({})
    closed_message: str = Field(default="", max_length=500)
    region: str = Field(default="", max_length=120)
    updated_at: datetime = timestamp()


class AgentSkill(SQLModel, table=True):
    """An agent's membership of a skill group: ``level`` 1 is offered first, ``proficiency`` 1..5."""

    __tablename__ = "agent_skill"
    __table_args__ = (Index("ix_agent_skill_queue", "queue"),)
    agent_id: int = Field(primary_key=True, foreign_key="agent.id", ondelete="CASCADE")
    queue: str = Field(primary_key=True, foreign_key="queue.name", ondelete="CASCADE", max_length=80)
    level: int = 1
    proficiency: int = 3


class AgentRouting(SQLModel, table=True):
    """An agent's capacity across channels and place in top-down order; absent means the
    hub's defaults (``Settings.capacity``).

    ``limits``: ``{"voice": 1, "chat": 3, "email": 5}``; ``exclusive``: channels nothing else
    may run beside (``["voice"]``); ``interruptible``: channels an exclusive contact may
    arrive on top of (``["chat"]`` lets a call interrupt chat work).
    """

    __tablename__ = "agent_routing"
    agent_id: int = Field(primary_key=True, foreign_key="agent.id", ondelete="CASCADE")
    limits: dict[str, Any] = json_column({})
    exclusive: list[str] = json_column([])
    interruptible: list[str] = json_column([])
    position: int = 0


class CustomerTier(SQLModel, table=True):
    """A customer tier (客户层次), data: ``rank`` orders them (higher is served first when
    equally behind target); ``vip`` tiers go ahead of every non-VIP interaction."""

    __tablename__ = "customer_tier"
    name: str = Field(primary_key=True, max_length=40)
    rank: int = 0
    vip: bool = False
    label_en: str = Field(max_length=100)
    label_zh_cn: str = Field(default="", max_length=100)


class RegionPrefix(SQLModel, table=True):
    """A number prefix and the region it belongs to, for callers the hub does not know yet;
    the longest matching prefix wins. ``region`` is a path: ``"guangdong/shenzhen/nanshan"``."""

    __tablename__ = "region_prefix"
    prefix: str = Field(primary_key=True, max_length=20)
    region: str = Field(max_length=120)


class BlockedAddress(SQLModel, table=True):
    """A blocklisted address (黑名单): contacts from it are stored but never offered to a human."""

    __tablename__ = "blocked_address"
    kind: str = Field(primary_key=True, max_length=40)
    address: str = Field(primary_key=True, max_length=320)
    reason: str = Field(default="", max_length=200)
    created_by: int | None = None
    created_at: datetime = timestamp()


class EntryRule(SQLModel, table=True):
    """A number-level rule: for contacts to ``entry`` (a dialled number, a channel address,
    ``"*"`` for any), matched in ``position`` order, the first that matches decides.

    - ``areas``: region paths or number prefixes the customer must be in (``[]``: any).
    - ``window``: ``{"days": ["mon", ...], "from": "08:00", "to": "20:00",
      "timezone": "Asia/Shanghai"}`` (``{}``: any time).
    - ``action``: ``"route"`` to one of ``destinations`` (``[{"queue": "a", "weight": 3},
      {"queue": "b", "weight": 1}]`` splits contacts 3:1), or ``"block"`` (the area is
      blocked: the contact is stored and answered with ``message``, never queued).
    """

    __tablename__ = "entry_rule"
    __table_args__ = (Index("ix_entry_rule_entry_position", "entry", "position"),)
    id: int | None = Field(default=None, primary_key=True)
    entry: str = Field(default="*", max_length=80)
    position: int = 0
    areas: list[str] = json_column([])
    window: dict[str, Any] = json_column({})
    action: str = Field(default="route", max_length=10)
    destinations: list[dict[str, Any]] = json_column([])
    message: str = Field(default="", max_length=500)
    active: bool = True


class RoutingOffer(SQLModel, table=True):
    """An offer ringing at an agent, kept so a restart loses none. Deleting the row is how
    exactly one of accept, decline, timeout and withdrawal wins."""

    __tablename__ = "routing_offer"
    interaction_id: int = Field(primary_key=True, foreign_key="interaction.id", ondelete="CASCADE")
    agent_id: int = Field(foreign_key="agent.id", index=True, ondelete="CASCADE")
    queue: str = Field(max_length=80)
    level: int = 1
    offered_at: datetime = timestamp()
    expires_at: datetime | None = optional_timestamp()
