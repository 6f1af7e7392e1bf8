"""Request bodies and replies of the routing admin API; field limits here are the first check
(answered as ``invalid_field``), cross-references are checked by the handlers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from hub.routing.model import MAX_PROFICIENCY

TIER_NAME = r"^[a-z][a-z0-9_]{0,39}$"
QUEUE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$"
CHANNEL_NAME = r"^[a-z][a-z0-9_]{0,39}$"
MAX_PREFIXES = 50_000


class Done(BaseModel):
    """The change was stored."""

    ok: bool = True


# Queues


class Step(BaseModel):
    """After ``after`` seconds of waiting, agents with ``min_proficiency`` or more qualify."""

    after: float = Field(ge=0, le=86_400)
    min_proficiency: int = Field(ge=1, le=MAX_PROFICIENCY)


class OverflowTo(BaseModel):
    """After ``after`` seconds of waiting, ``queue``'s agents are offered the interaction too."""

    after: float = Field(ge=0, le=86_400)
    queue: str = Field(min_length=1, max_length=80)


class Target(BaseModel):
    """``fraction`` of interactions answered within ``seconds``."""

    fraction: float = Field(gt=0, le=1)
    seconds: float = Field(gt=0, le=86_400)


class QueueRulesBody(BaseModel):
    """How a skill group routes; every field is replaced. ``schedule`` ``{}`` is always open."""

    title: str | None = Field(default=None, max_length=200, description="null keeps the title")
    strategy: str = Field(default="longest_idle", min_length=1, max_length=40)
    min_proficiency: int = Field(default=1, ge=1, le=MAX_PROFICIENCY)
    steps: list[Step] = Field(default_factory=list, max_length=20)
    overflow: list[OverflowTo] = Field(default_factory=list, max_length=20)
    targets: dict[str, Target] = Field(default_factory=dict, max_length=40)
    target_fraction: float = Field(default=0.8, gt=0, le=1)
    target_seconds: float = Field(default=20.0, gt=0, le=86_400)
    max_waiting: int | None = Field(default=None, ge=1)
    daily_limit: int | None = Field(default=None, ge=1)
    offer_timeout_seconds: int = Field(default=20, ge=5, le=600)
    schedule: dict[str, Any] = Field(default_factory=dict)
    closed_message: str = Field(default="", max_length=500)
    region: str = Field(default="", max_length=120, description="a region path; empty: every region")


class QueueView(QueueRulesBody):
    """A queue and its routing rules (the defaults when ``has_rules`` is false)."""

    name: str
    title: str = ""
    has_rules: bool
    updated_at: datetime | None = None


class QueueList(BaseModel):
    """Every queue with its rules."""

    items: list[QueueView]


# Agents


class Skill(BaseModel):
    """Membership of a skill group: ``level`` 1 is offered first; ``proficiency`` 1..5."""

    queue: str = Field(min_length=1, max_length=80)
    level: int = Field(default=1, ge=1, le=99)
    proficiency: int = Field(default=3, ge=1, le=MAX_PROFICIENCY)


class CapacityBody(BaseModel):
    """Work held at once per channel; ``exclusive`` channels run alone unless the others are
    ``interruptible``; ``position`` orders top-down distribution."""

    limits: dict[str, Annotated[int, Field(ge=0, le=100)]] = Field(default_factory=dict, max_length=40)
    exclusive: list[str] = Field(default_factory=list, max_length=40)
    interruptible: list[str] = Field(default_factory=list, max_length=40)
    position: int = Field(default=0, ge=0, le=1_000_000)


class AgentRoutingBody(BaseModel):
    """An agent's whole skill list, and their own capacity or null for the hub's default."""

    skills: list[Skill] = Field(default_factory=list, max_length=200)
    capacity: CapacityBody | None = None


class AgentRoutingView(AgentRoutingBody):
    """An agent as routing sees them."""

    id: int
    number: str
    name: str


# Tiers


class Tier(BaseModel):
    """A customer tier; its place in the list is its rank (later is higher)."""

    name: str = Field(pattern=TIER_NAME)
    vip: bool = False
    label_en: str = Field(min_length=1, max_length=100)
    label_zh_cn: str = Field(default="", max_length=100)


class TierList(BaseModel):
    """Customer tiers by rank ascending; a PUT replaces the whole list."""

    items: list[Tier] = Field(min_length=1, max_length=100)


# Prefixes


class PrefixBatch(BaseModel):
    """Number prefix (digits) -> region path, added or replaced; at most 50,000 at once."""

    prefixes: dict[str, str] = Field(max_length=MAX_PREFIXES)


class PrefixRow(BaseModel):
    """A number prefix and its region."""

    prefix: str
    region: str


class PrefixPage(BaseModel):
    """Prefixes in ascending order; ``next`` is the ``after`` of the next page, null at the end."""

    items: list[PrefixRow]
    next: str | None


class PrefixesStored(BaseModel):
    """How many prefixes were added or replaced."""

    stored: int


# Blocklist


class Blocking(BaseModel):
    """An address to block; blocking it again replaces the reason."""

    kind: str = Field(pattern=CHANNEL_NAME)
    address: str = Field(min_length=1, max_length=320)
    reason: str = Field(default="", max_length=200)


class BlockedView(Blocking):
    """A blocked address, who blocked it and when."""

    created_by: int | None
    created_at: datetime


class BlockedPage(BaseModel):
    """Blocked addresses by kind and address; ``next`` is the next ``offset``, null at the end."""

    items: list[BlockedView]
    next: int | None


# Entry rules


class Destination(BaseModel):
    """A queue and its share of the contacts a rule routes."""

    queue: str = Field(min_length=1, max_length=80)
    weight: int = Field(default=1, ge=1, le=1000)


class EntryRuleBody(BaseModel):
    """A number-level rule; see ``hub.models.EntryRule`` for ``areas`` and ``window``."""

    entry: str = Field(default="*", min_length=1, max_length=80)
    position: int = Field(default=0, ge=0, le=1_000_000)
    areas: list[str] = Field(default_factory=list, max_length=500)
    window: dict[str, Any] = Field(default_factory=dict)
    action: Literal["route", "block"] = "route"
    destinations: list[Destination] = Field(default_factory=list, max_length=20)
    message: str = Field(default="", max_length=500)
    active: bool = True


class EntryRuleView(EntryRuleBody):
    """A stored entry rule."""

    id: int


class EntryRuleList(BaseModel):
    """Entry rules by entry, position and id."""

    items: list[EntryRuleView]


# Strategies


class StrategyRow(BaseModel):
    """A distribution strategy and where it comes from: ``built-in`` or a plugin's name."""

    name: str
    source: str


class StrategyList(BaseModel):
    """Every strategy a queue may name."""

    items: list[StrategyRow]
