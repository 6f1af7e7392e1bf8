"""Admission: what happens to a contact before it waits for an agent — the blocklist,
number-level entry rules, region routing, open hours and daily limits. Pure: the service
does the reading and writing around it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from hub.routing.regions import regional_queue

if TYPE_CHECKING:
    from hub.routing.config import RoutingConfig
    from hub.routing.entry_rules import EntryRules
    from hub.routing.offers import OpenWork

PHONE_KINDS = ("phone", "voice", "sms", "fax")


@dataclass(frozen=True, slots=True)
class Admission:
    """``route`` to ``queue``; ``hold`` until ``opens_at`` (closed hours); ``refuse`` with
    ``reason`` (blacklisted, blocked_area, daily_limit) and the ``message`` for the customer.
    ``region`` is set when it was found from the customer's number, to be remembered."""

    action: str
    queue: str
    reason: str = ""
    message: str = ""
    opens_at: datetime | None = None
    region: str | None = None


def phone_number(addresses: list[tuple[str, str]]) -> str | None:
    """The number the prefix table and area rules look at, if the customer has one."""
    for kind, address in addresses:
        if kind in PHONE_KINDS:
            return address
    return None


def admit(config: RoutingConfig, rules: EntryRules, work: OpenWork, addresses: list[tuple[str, str]],
          at: datetime, served_today: dict[str, int]) -> Admission:
    """Decide a new contact's fate; ``served_today`` counts contacts admitted per queue today."""
    if any(address in config.blocked for address in addresses):
        return Admission("refuse", work.queue, "blacklisted")
    number = phone_number(addresses)
    found = None if work.region or number is None else config.prefixes.region_of(number)
    region = work.region or found
    queue = work.queue
    decision = rules.decide(work.entry or "*", region=region, number=number, at=at)
    if decision is not None and decision.action == "block":
        return Admission("refuse", queue, "blocked_area", decision.message, region=found)
    if decision is not None and decision.queue:
        queue = decision.queue
    queue = regional_queue(queue, region, config.regional_children)
    if queue not in {q.name for q in config.queues}:
        queue = "default"
    held = hold(config, queue, at)
    if held is not None:
        return Admission("hold", queue, "closed", held[1], held[0], region=found)
    limit = config.daily_limits.get(queue)
    if limit is not None and served_today.get(queue, 0) >= limit:
        return Admission("refuse", queue, "daily_limit", config.closed_messages.get(queue, ""), region=found)
    return Admission("route", queue, region=found)


def hold(config: RoutingConfig, queue: str, at: datetime) -> tuple[datetime | None, str] | None:
    """(when it opens, the closed message) while ``queue`` is closed at ``at``; None if open."""
    schedule = config.schedules.get(queue)
    if schedule is None or schedule.is_open(at):
        return None
    return schedule.next_change(at), config.closed_messages.get(queue, "")
