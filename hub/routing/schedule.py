"""Opening hours of a queue: weekly spans in a time zone, holidays and weekend working days (调休)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MINUTES = 24 * 60
HORIZON = timedelta(days=400)
"""``next_change`` looks no further ahead than this."""

Span = tuple[int, int]
"""Minutes after the local midnight of the day a span starts; the end passes 1440 after midnight."""

_KEYS = ("timezone", "hours", "holidays", "open_days")
_CLOCK = re.compile(r"(\d\d):(\d\d)")
_DATE = re.compile(r"\d{4}-\d\d-\d\d")


def parse_clock(value: object, where: str, *, end: bool = False) -> int:
    """Minutes after midnight of ``"HH:MM"``; ``"24:00"`` is accepted only as an ``end``."""
    match = _CLOCK.fullmatch(value) if isinstance(value, str) else None
    if match and int(match[2]) < 60:
        minutes = int(match[1]) * 60 + int(match[2])
        if minutes < DAY_MINUTES or (end and minutes == DAY_MINUTES):
            return minutes
        if minutes == DAY_MINUTES:
            raise ValueError(f"{where}: '24:00' can only end a span")
    raise ValueError(f"{where}: {value!r} is not a time HH:MM")


def make_span(start: int, end: int, where: str) -> Span:
    """The span from ``start`` to ``end`` minutes; an end at or before the start is the next day."""
    if start == end:
        raise ValueError(f'{where}: a span cannot start and end at the same time; ["00:00", "24:00"] '
                         "is the whole day")
    return (start, end if end > start else end + DAY_MINUTES)


def load_zone(name: object, where: str = "timezone") -> ZoneInfo:
    """The time zone called ``name``; the error says whether the zone or the whole database is missing."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}: expected a time zone name like 'Asia/Shanghai', got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as err:
        if not _have_zone_database():
            raise ValueError(f"{where}: cannot load time zone {name!r}: no time zone database is "
                             "installed (install the tzdata package)") from err
        raise ValueError(f"{where}: unknown time zone {name!r}") from err


def _have_zone_database() -> bool:
    try:
        ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def require_aware(at: datetime) -> None:
    """Refuse a naive datetime: the hours of a schedule mean nothing without a time zone."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at!r} has no time zone; pass an aware datetime")


@dataclass(frozen=True)
class Schedule:
    """When a queue is open. ``timezone=""`` is always open; ``week=None`` is open all day every day.

    ``week`` holds Monday's to Sunday's spans. A span belongs to the day it starts, so a span
    crossing midnight still runs into a following holiday; a holiday closes the spans that start
    on it; an open day follows Monday's spans. Spans are read on the local wall clock: one that
    starts in the hour skipped in spring opens when the clock jumps, and one that touches the
    hour repeated in autumn uses its first pass, so an open span never closes and reopens.
    """

    timezone: str = ""
    week: tuple[tuple[Span, ...], ...] | None = None
    holidays: frozenset[date] = frozenset()
    open_days: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if not self.timezone:
            if self.week is not None or self.holidays or self.open_days:
                raise ValueError("timezone: required when hours, holidays or open_days are given")
            return
        load_zone(self.timezone)
        if self.week is not None:
            if len(self.week) != len(DAYS):
                raise ValueError(f"hours: expected {len(DAYS)} days, got {len(self.week)}")
            object.__setattr__(self, "week", tuple(tuple(sorted(spans)) for spans in self.week))
        both = sorted(self.holidays & self.open_days)
        if both:
            raise ValueError(f"{both[0].isoformat()} is both a holiday and an open day")

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Schedule:
        """Parse the ``QueueRules.schedule`` document; ``ValueError`` names the bad part."""
        if not isinstance(doc, Mapping):
            raise ValueError(f"a schedule is an object, got {type(doc).__name__}")
        unknown = sorted(set(doc) - set(_KEYS))
        if unknown:
            raise ValueError(f"unknown key {unknown[0]!r} (expected {', '.join(_KEYS)})")
        if not doc:
            return ALWAYS_OPEN
        if "timezone" not in doc:
            raise ValueError("timezone: required when hours, holidays or open_days are given, "
                             "e.g. 'Asia/Shanghai'")
        load_zone(doc["timezone"])
        week = _parse_week(doc["hours"]) if "hours" in doc else None
        return cls(doc["timezone"], week, _parse_dates(doc.get("holidays", []), "holidays"),
                   _parse_dates(doc.get("open_days", []), "open_days"))

    def to_json(self) -> dict[str, Any]:
        """The document ``from_json`` reads back as an equal schedule."""
        if not self.timezone:
            return {}
        doc: dict[str, Any] = {"timezone": self.timezone}
        if self.week is not None:
            doc["hours"] = {day: [[_clock(start), _clock(end)] for start, end in spans]
                            for day, spans in zip(DAYS, self.week, strict=True)}
        if self.holidays:
            doc["holidays"] = sorted(day.isoformat() for day in self.holidays)
        if self.open_days:
            doc["open_days"] = sorted(day.isoformat() for day in self.open_days)
        return doc

    def is_open(self, at: datetime) -> bool:
        """Whether the queue is open at the aware instant ``at``."""
        require_aware(at)
        if not self.timezone:
            return True
        at = at.astimezone(UTC)
        # Two days back catch a span crossing midnight; one ahead, a midnight the clock repeats.
        first = at.astimezone(ZoneInfo(self.timezone)).date() - timedelta(days=2)
        return any(start <= at < end for start, end in self._intervals(first, 4))

    def next_change(self, at: datetime) -> datetime | None:
        """The first instant after ``at`` where ``is_open`` differs from ``is_open(at)``, in ``at``'s
        time zone; None when there is none within ``HORIZON``."""
        require_aware(at)
        if not self.timezone:
            return None
        utc = at.astimezone(UTC)
        first = utc.astimezone(ZoneInfo(self.timezone)).date() - timedelta(days=2)
        for start, end in _merged(self._intervals(first, HORIZON.days + 5)):
            if end > utc:
                change = start if start > utc else end
                return change.astimezone(at.tzinfo) if change <= utc + HORIZON else None
        return None

    def spans_on(self, day: date) -> tuple[Span, ...]:
        """The spans that start on the local date ``day``."""
        if day in self.holidays:
            return ()
        if self.week is None:
            return ((0, DAY_MINUTES),)
        return self.week[0 if day in self.open_days else day.weekday()]

    def _intervals(self, first: date, days: int) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals in UTC of the spans starting on ``days`` dates from ``first``, by start."""
        zone = ZoneInfo(self.timezone)
        for offset in range(days):
            day = first + timedelta(days=offset)
            midnight = datetime(day.year, day.month, day.day)
            for start, end in self.spans_on(day):
                yield (_instant(midnight + timedelta(minutes=start), zone),
                       _instant(midnight + timedelta(minutes=end), zone))


ALWAYS_OPEN = Schedule()


def _parse_week(hours: object) -> tuple[tuple[Span, ...], ...]:
    if not isinstance(hours, Mapping):
        raise ValueError(f'hours: expected an object like {{"mon": [["08:00", "20:00"]]}}, got {hours!r}')
    unknown = sorted(set(hours) - set(DAYS))
    if unknown:
        raise ValueError(f"hours: unknown day {unknown[0]!r} (use {', '.join(DAYS)})")
    return tuple(_parse_spans(hours.get(day, []), f"hours.{day}") for day in DAYS)


def _parse_spans(spans: object, where: str) -> tuple[Span, ...]:
    if not isinstance(spans, list):
        raise ValueError(f'{where}: expected a list of spans like [["08:00", "20:00"]], got {spans!r}')
    return tuple(_parse_span(pair, f"{where}[{index}]") for index, pair in enumerate(spans))


def _parse_span(pair: object, where: str) -> Span:
    if not isinstance(pair, list | tuple) or len(pair) != 2:
        raise ValueError(f'{where}: expected a pair like ["08:00", "20:00"], got {pair!r}')
    return make_span(parse_clock(pair[0], where), parse_clock(pair[1], where, end=True), where)


def _parse_dates(values: object, where: str) -> frozenset[date]:
    if not isinstance(values, list):
        raise ValueError(f'{where}: expected a list of dates like ["2026-10-01"], got {values!r}')
    return frozenset(_parse_date(value, f"{where}[{index}]") for index, value in enumerate(values))


def _parse_date(value: object, where: str) -> date:
    try:
        if isinstance(value, str) and _DATE.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise ValueError(f"{where}: {value!r} is not a date YYYY-MM-DD")


def _clock(minutes: int) -> str:
    if minutes > DAY_MINUTES:
        minutes -= DAY_MINUTES
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant (UTC) at which the clock in ``zone`` reads ``wall`` or later."""
    first = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: the first pass of a repeated hour
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    # ``wall`` was skipped: find the jump between the readings before and after it.
    low = int(wall.replace(tzinfo=zone, fold=1).timestamp())
    high = int(first.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _merged(intervals: Iterable[tuple[datetime, datetime]]) -> Iterator[tuple[datetime, datetime]]:
    """Join intervals sorted by start that overlap or touch: the queue does not flip between them."""
    current: tuple[datetime, datetime] | None = None
    for start, end in intervals:
        if current is not None and start <= current[1]:
            current = (current[0], max(current[1], end))
            continue
        if current is not None:
            yield current
        current = (start, end)
    if current is not None:
        yield current
