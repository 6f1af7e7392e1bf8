"""Deadline maths in business time: minutes count only while a business calendar is open.

Pure. The calendar is a ``hub.routing.schedule.Schedule``, so deadlines and opening hours agree
on nights, weekends, holidays, weekend working days (调休) and DST. Arithmetic is done in UTC:
Python adds a timedelta to a zoned datetime on the wall clock, which is wrong across DST.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hub.routing.schedule import ALWAYS_OPEN, HORIZON, Schedule, require_aware


def add_business_minutes(start: datetime, minutes: float, calendar: Schedule) -> datetime:
    """The earliest instant by which ``minutes`` of open time have passed since ``start``.

    ``start`` must be aware; the answer is in its time zone. With ``minutes > 0`` the answer ends
    an open stretch: it may be a closing time (60 minutes from 19:00 with a 20:00 close is 20:00),
    never the middle of a night. ``minutes == 0`` is ``start``. ``ValueError`` when ``minutes`` is
    negative or the calendar has no open time within ``HORIZON`` of where it is needed.
    """
    require_aware(start)
    if minutes < 0 or not math.isfinite(minutes):
        raise ValueError(f"minutes must be a finite number of 0 or more, got {minutes!r}")
    remaining = timedelta(minutes=minutes)
    at = start.astimezone(UTC)
    if not calendar.timezone or not remaining:
        return (at + remaining).astimezone(start.tzinfo)
    while True:
        if calendar.is_open(at):
            end = _change_or_horizon(calendar, at)
            if at + remaining <= end:
                return (at + remaining).astimezone(start.tzinfo)
            remaining -= end - at
            at = end
        else:
            at = _opening(calendar, at)


def business_minutes_between(start: datetime, end: datetime, calendar: Schedule) -> float:
    """Minutes of open time from ``start`` to ``end``; negative when ``end`` comes first, so
    ``business_minutes_between(due, now, cal)`` is how far overdue a ticket is."""
    require_aware(start)
    require_aware(end)
    at, stop = start.astimezone(UTC), end.astimezone(UTC)
    if stop < at:
        return -business_minutes_between(end, start, calendar)
    if not calendar.timezone:
        return (stop - at) / timedelta(minutes=1)
    total = timedelta()
    while at < stop:
        if calendar.is_open(at):
            change = min(_change_or_horizon(calendar, at), stop)
            total += change - at
            at = change
        else:
            at = calendar.next_change(at) or stop  # never opens again: no more open time
    return total / timedelta(minutes=1)


def due_at(start: datetime, minutes: int | None, calendar: Schedule) -> datetime | None:
    """When a deadline of ``minutes`` business minutes from ``start`` falls; None for no deadline."""
    return None if minutes is None else add_business_minutes(start, minutes, calendar)


def warning_at(start: datetime, due: datetime, fraction: float = 0.8,
               calendar: Schedule = ALWAYS_OPEN) -> datetime:
    """When to warn the owner: once ``fraction`` of the time from ``start`` to ``due`` has passed.

    The time is counted in ``calendar``'s open time, so with the step's own calendar the warning
    comes while people are at work, with a fifth of their working time left; with the default
    ``ALWAYS_OPEN`` it is wall-clock time. A ``due`` at or before ``start`` warns at ``due``.
    """
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction!r}")
    require_aware(start)
    require_aware(due)
    if due.astimezone(UTC) <= start.astimezone(UTC):
        return due
    span = business_minutes_between(start, due, calendar)
    warn = add_business_minutes(start, span * fraction, calendar)
    # Rounding to microseconds may pass ``due`` by one; compare in UTC, not on the wall clock.
    return warn if warn.astimezone(UTC) <= due.astimezone(UTC) else due


def _change_or_horizon(calendar: Schedule, at: datetime) -> datetime:
    """When the open stretch around ``at`` ends; open past the horizon counts as open to it."""
    return calendar.next_change(at) or at + HORIZON


def _opening(calendar: Schedule, at: datetime) -> datetime:
    opens = calendar.next_change(at)
    if opens is None:
        raise ValueError(f"the business calendar has no open time within {HORIZON.days} days of "
                         f"{at.isoformat()}; give it opening hours")
    return opens
