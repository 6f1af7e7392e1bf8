"""Number-level entry rules: where a contact to an entry goes, or whether its area is blocked."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from hub.routing.regions import PrefixTable, check_region, number_forms, within
from hub.routing.schedule import (
    ALWAYS_OPEN,
    DAYS,
    Schedule,
    load_zone,
    make_span,
    parse_clock,
    require_aware,
)

ROUTE = "route"
BLOCK = "block"
ANY_ENTRY = "*"
_WINDOW_KEYS = ("days", "from", "to", "timezone")


@dataclass(frozen=True)
class EntryRuleSpec:
    """A validated entry rule (see ``hub.models.EntryRule``); building a bad one raises ``ValueError``.

    ``areas`` holds region paths and digit prefixes (``[]``: anywhere). ``window`` is
    ``{"days": [...], "from": "HH:MM", "to": "HH:MM", "timezone": ...}`` (``{}``: any time);
    without ``days`` it is every day, without ``from``/``to`` the whole day, and a window
    crossing midnight belongs to the day it starts. A block rule ignores ``destinations``.
    ``schedule`` is the window as a ``Schedule``.
    """

    id: int
    entry: str
    position: int
    areas: tuple[str, ...]
    window: Mapping[str, Any]
    action: str
    destinations: tuple[tuple[str, int], ...]
    message: str
    schedule: Schedule = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = f"entry rule {self.id}"
        _check_scalars(self, where)
        object.__setattr__(self, "areas", _areas(self.areas, where))
        object.__setattr__(self, "destinations", _destinations(self.destinations, self.action, where))
        object.__setattr__(self, "schedule", window_schedule(self.window, f"{where}: window"))
        object.__setattr__(self, "window", MappingProxyType(dict(self.window)))

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> EntryRuleSpec:
        """A rule from a row-shaped document (``destinations`` as ``[{"queue", "weight"}]``);
        missing fields take the table's defaults and ``id`` defaults to 0 for a rule not stored."""
        if not isinstance(doc, Mapping):
            raise ValueError(f"an entry rule is an object, got {type(doc).__name__}")
        destinations = doc.get("destinations", [])
        if not isinstance(destinations, list) or not all(isinstance(d, Mapping) for d in destinations):
            raise ValueError('destinations: expected a list like [{"queue": "a", "weight": 3}]')
        areas = doc.get("areas", [])
        if not isinstance(areas, list):
            raise ValueError(f"areas: expected a list of region paths or prefixes, got {areas!r}")
        return cls(
            id=doc.get("id") or 0, entry=doc.get("entry", ANY_ENTRY), position=doc.get("position", 0),
            areas=tuple(areas), window=doc.get("window", {}), action=doc.get("action", ROUTE),
            destinations=tuple((d.get("queue"), d.get("weight", 1)) for d in destinations),
            message=doc.get("message", ""),
        )

    @classmethod
    def validate(cls, doc: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` saying what to fix if ``from_json`` would refuse ``doc``."""
        cls.from_json(doc)


@dataclass(frozen=True)
class EntryDecision:
    """What a matching rule decided: ``"route"`` to ``queue`` or ``"block"`` with ``message``."""

    action: str
    queue: str | None
    message: str
    rule_id: int


class EntryRules:
    """The active entry rules, tried in order, with each rule's weighted round-robin state."""

    def __init__(self, rules: Iterable[EntryRuleSpec], prefixes: PrefixTable | None = None) -> None:
        self._prefixes = prefixes
        self._by_entry: dict[str, list[EntryRuleSpec]] = {}
        self._weights: dict[int, list[int]] = {}
        for rule in sorted(rules, key=lambda rule: (rule.position, rule.id)):
            if rule.id in self._weights:
                raise ValueError(f"entry rule {rule.id}: the id is used twice")
            self._by_entry.setdefault(rule.entry, []).append(rule)
            self._weights[rule.id] = [0] * len(rule.destinations)

    def decide(self, entry: str, *, region: str | None, number: str | None,
               at: datetime) -> EntryDecision | None:
        """The decision of the first matching rule for a contact to ``entry``; None if none matches.

        Rules for ``entry`` come before ``"*"`` rules, each by position. A rule matches when
        the contact is in one of its areas (its region within a region path, or its number
        starting with a prefix; without ``region``, the prefix table's region of ``number``)
        and ``at`` falls in its window.
        """
        require_aware(at)
        if not region and number and self._prefixes is not None:
            region = self._prefixes.region_of(number)
        forms = number_forms(number) if number else ()
        for rule in self._rules_for(entry):
            if _in_areas(rule.areas, region, forms) and rule.schedule.is_open(at):
                return self._decision(rule)
        return None

    def _rules_for(self, entry: str) -> list[EntryRuleSpec]:
        general = self._by_entry.get(ANY_ENTRY, [])
        return general if entry == ANY_ENTRY else self._by_entry.get(entry, []) + general

    def _decision(self, rule: EntryRuleSpec) -> EntryDecision:
        if rule.action == BLOCK:
            return EntryDecision(BLOCK, None, rule.message, rule.id)
        return EntryDecision(ROUTE, self._next_queue(rule), rule.message, rule.id)

    def _next_queue(self, rule: EntryRuleSpec) -> str:
        # nginx's smooth weighted round robin: exact shares over every run of sum(weights)
        # contacts, with the heavier queue's turns spread out rather than bunched.
        current = self._weights[rule.id]
        total, best = 0, 0
        for index, (_, weight) in enumerate(rule.destinations):
            current[index] += weight
            total += weight
            if current[index] > current[best]:
                best = index
        current[best] -= total
        return rule.destinations[best][0]


def window_schedule(window: Mapping[str, Any], where: str = "window") -> Schedule:
    """The schedule an entry rule's ``window`` describes; ``ValueError`` names the bad part."""
    if not isinstance(window, Mapping):
        raise ValueError(f'{where}: expected an object like {{"days": ["mon"], "from": "08:00", '
                         f'"to": "20:00", "timezone": "Asia/Shanghai"}}, got {window!r}')
    unknown = sorted(set(window) - set(_WINDOW_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r} (expected {', '.join(_WINDOW_KEYS)})")
    if not window:
        return ALWAYS_OPEN
    if "timezone" not in window:
        raise ValueError(f"{where}: timezone is required, e.g. 'Asia/Shanghai'")
    load_zone(window["timezone"], f"{where}.timezone")
    days = _window_days(window.get("days", list(DAYS)), f"{where}.days")
    span = make_span(parse_clock(window.get("from", "00:00"), f"{where}.from"),
                     parse_clock(window.get("to", "24:00"), f"{where}.to", end=True), where)
    return Schedule(window["timezone"], tuple((span,) if day in days else () for day in DAYS))


def _window_days(days: object, where: str) -> set[str]:
    if not isinstance(days, list) or not days:
        raise ValueError(f'{where}: expected a non-empty list like ["mon", "tue"]; leave it out for '
                         "every day")
    unknown = sorted({str(day) for day in days} - set(DAYS))
    if unknown:
        raise ValueError(f"{where}: unknown day {unknown[0]!r} (use {', '.join(DAYS)})")
    return set(days)


def _check_scalars(rule: EntryRuleSpec, where: str) -> None:
    if not isinstance(rule.id, int) or isinstance(rule.id, bool):
        raise ValueError(f"{where}: id must be an integer")
    if not isinstance(rule.entry, str) or not rule.entry:
        raise ValueError(f"{where}: entry must be a number, an address or '*'")
    if not isinstance(rule.position, int) or isinstance(rule.position, bool):
        raise ValueError(f"{where}: position must be an integer, got {rule.position!r}")
    if rule.action not in (ROUTE, BLOCK):
        raise ValueError(f"{where}: action {rule.action!r} is neither 'route' nor 'block'")
    if not isinstance(rule.message, str):
        raise ValueError(f"{where}: message must be text")


def _in_areas(areas: tuple[str, ...], region: str | None, forms: tuple[str, ...]) -> bool:
    if not areas:
        return True
    for area in areas:
        if area.isdigit():
            if any(form.startswith(area) for form in forms):
                return True
        elif region and within(region, area):
            return True
    return False


def _areas(areas: Sequence[str], where: str) -> tuple[str, ...]:
    if isinstance(areas, str):
        raise ValueError(f"{where}: areas must be a list of region paths or prefixes, not one string")
    for index, area in enumerate(areas):
        if not (isinstance(area, str) and area.isascii() and area.isdigit()):
            check_region(area, f"{where}: areas[{index}]")
    return tuple(areas)


def _destinations(destinations: Sequence[tuple[str, int]], action: str,
                  where: str) -> tuple[tuple[str, int], ...]:
    if action == ROUTE and not destinations:
        raise ValueError(f"{where}: a route rule needs at least one destination queue")
    seen: set[str] = set()
    for index, pair in enumerate(destinations):
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise ValueError(f"{where}: destinations[{index}]: expected (queue, weight), got {pair!r}")
        queue, weight = pair
        if not isinstance(queue, str) or not queue:
            raise ValueError(f"{where}: destinations[{index}]: queue must be a queue name, got {queue!r}")
        if not isinstance(weight, int) or isinstance(weight, bool) or weight < 1:
            raise ValueError(f"{where}: destinations[{index}]: weight must be a positive integer, "
                             f"got {weight!r}")
        if queue in seen:
            raise ValueError(f"{where}: destinations[{index}]: queue {queue!r} is named twice")
        seen.add(queue)
    return tuple(destinations)
