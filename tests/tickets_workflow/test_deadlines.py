"""Deadlines in business minutes: nights, weekends, holidays, weekend working days (调休), spans
past midnight and DST, checked by example and by property."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.routing.schedule import ALWAYS_OPEN, Schedule
from hub.tickets.deadlines import add_business_minutes, business_minutes_between, due_at, warning_at
from hub.tickets.defaults import DEFAULT_CALENDAR

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")

OFFICE = Schedule.from_json({
    "timezone": "Asia/Shanghai",
    "hours": {day: [["09:00", "17:00"]] for day in WEEKDAYS},
    # National Day 2026 (Thursday 1 to Wednesday 7 October) and its make-up Saturday.
    "holidays": [f"2026-10-0{day}" for day in range(1, 8)],
    "open_days": ["2026-10-10"],
})
LUNCH = Schedule.from_json({"timezone": "Asia/Shanghai",
                            "hours": {day: [["08:30", "12:00"], ["13:30", "17:30"]] for day in WEEKDAYS}})
BERLIN_DAY = Schedule.from_json({"timezone": "Europe/Berlin",
                                 "hours": {day: [["08:00", "20:00"]] for day in (*WEEKDAYS, "sat", "sun")}})
NIGHT_SHIFT = Schedule.from_json({"timezone": "Europe/Berlin", "hours": {"sat": [["22:00", "06:00"]]}})
DEFAULT = Schedule.from_json(DEFAULT_CALENDAR)
CALENDARS = {"office": OFFICE, "lunch": LUNCH, "berlin": BERLIN_DAY, "night": NIGHT_SHIFT,
             "default": DEFAULT, "always": ALWAYS_OPEN}


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def berlin(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=BERLIN, fold=fold)


def same(a: datetime, b: datetime) -> bool:
    return a.astimezone(UTC) == b.astimezone(UTC)


def test_within_one_open_day_it_is_plain_addition() -> None:
    assert add_business_minutes(sh(2026, 11, 23, 9, 30), 60, OFFICE) == sh(2026, 11, 23, 10, 30)


def test_time_after_closing_carries_over_to_the_next_morning() -> None:
    assert add_business_minutes(sh(2026, 11, 23, 16, 30), 60, OFFICE) == sh(2026, 11, 24, 9, 30)


def test_a_deadline_may_fall_exactly_at_closing_time() -> None:
    assert add_business_minutes(sh(2026, 11, 23, 16, 0), 60, OFFICE) == sh(2026, 11, 23, 17, 0)


def test_a_friday_evening_ticket_waits_for_monday() -> None:
    assert add_business_minutes(sh(2026, 11, 27, 16, 30), 60, OFFICE) == sh(2026, 11, 30, 9, 30)
    assert add_business_minutes(sh(2026, 11, 28, 10, 0), 30, OFFICE) == sh(2026, 11, 30, 9, 30)


def test_the_national_day_holidays_do_not_count() -> None:
    assert add_business_minutes(sh(2026, 9, 30, 16, 0), 120, OFFICE) == sh(2026, 10, 8, 10, 0)
    assert business_minutes_between(sh(2026, 10, 1, 0, 0), sh(2026, 10, 8, 0, 0), OFFICE) == 0


def test_the_make_up_saturday_counts() -> None:
    assert add_business_minutes(sh(2026, 10, 9, 16, 0), 120, OFFICE) == sh(2026, 10, 10, 10, 0)
    assert add_business_minutes(sh(2026, 10, 17, 10, 0), 60, OFFICE) == sh(2026, 10, 19, 10, 0)


def test_the_lunch_break_does_not_count() -> None:
    assert add_business_minutes(sh(2026, 11, 23, 11, 30), 60, LUNCH) == sh(2026, 11, 23, 14, 0)


def test_a_span_past_midnight_counts_into_the_next_day() -> None:
    late = Schedule.from_json({"timezone": "Asia/Shanghai", "hours": {"mon": [["20:00", "04:00"]]}})
    assert add_business_minutes(sh(2026, 11, 23, 23, 0), 240, late) == sh(2026, 11, 24, 3, 0)
    assert add_business_minutes(sh(2026, 11, 23, 23, 0), 360, late) == sh(2026, 11, 30, 21, 0)
    assert business_minutes_between(sh(2026, 11, 23, 20, 0), sh(2026, 11, 24, 12, 0), late) == 480


def test_the_spring_night_is_an_hour_shorter_in_berlin() -> None:
    saturday = berlin(2026, 3, 28, 22, 0)
    sunday = berlin(2026, 3, 29, 6, 0)
    assert business_minutes_between(saturday, sunday, NIGHT_SHIFT) == 7 * 60
    assert add_business_minutes(saturday, 7 * 60, NIGHT_SHIFT) == sunday
    assert add_business_minutes(saturday, 7 * 60 + 1, NIGHT_SHIFT) == berlin(2026, 4, 4, 22, 1)


def test_the_autumn_night_is_an_hour_longer_in_berlin() -> None:
    saturday = berlin(2026, 10, 24, 22, 0)
    assert business_minutes_between(saturday, berlin(2026, 10, 25, 6, 0), NIGHT_SHIFT) == 9 * 60
    # 5 hours in: 02:00 local for the second time, after the clocks went back at 03:00.
    five = add_business_minutes(saturday, 300, NIGHT_SHIFT)
    assert same(five, berlin(2026, 10, 25, 2, 0, fold=1))
    assert five.fold == 1


def test_always_open_is_elapsed_time_even_across_dst() -> None:
    start = berlin(2026, 3, 29, 1, 30)
    assert add_business_minutes(start, 60, ALWAYS_OPEN) == berlin(2026, 3, 29, 3, 30)
    assert add_business_minutes(start, 60, Schedule.from_json({})) == berlin(2026, 3, 29, 3, 30)
    assert business_minutes_between(start, berlin(2026, 3, 29, 3, 30), ALWAYS_OPEN) == 60


def test_the_answer_is_in_the_start_time_zone() -> None:
    start = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    due = add_business_minutes(start, 30, OFFICE)
    assert due.tzinfo is UTC and due == datetime(2026, 11, 23, 1, 30, tzinfo=UTC)


def test_zero_minutes_is_the_start_even_when_closed() -> None:
    night = sh(2026, 11, 23, 23, 0)
    assert add_business_minutes(night, 0, OFFICE) == night


def test_minutes_between_run_backwards_as_overdue_time() -> None:
    assert business_minutes_between(sh(2026, 11, 24, 10, 0), sh(2026, 11, 23, 16, 0), OFFICE) == -120


def test_no_deadline_stays_none() -> None:
    assert due_at(sh(2026, 11, 23, 9, 0), None, OFFICE) is None
    assert due_at(sh(2026, 11, 23, 9, 0), 30, OFFICE) == sh(2026, 11, 23, 9, 30)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        add_business_minutes(datetime(2026, 11, 23, 9, 0), 30, OFFICE)
    with pytest.raises(ValueError, match="0 or more"):
        add_business_minutes(sh(2026, 11, 23, 9, 0), -1, OFFICE)
    with pytest.raises(ValueError, match="0 or more"):
        add_business_minutes(sh(2026, 11, 23, 9, 0), float("nan"), OFFICE)
    never = Schedule.from_json({"timezone": "Asia/Shanghai", "hours": {}})
    with pytest.raises(ValueError, match="no open time"):
        add_business_minutes(sh(2026, 11, 23, 9, 0), 30, never)
    assert business_minutes_between(sh(2026, 11, 23, 9, 0), sh(2026, 12, 23, 9, 0), never) == 0


def test_the_warning_comes_after_four_fifths_of_the_wall_clock_time() -> None:
    assert warning_at(sh(2026, 11, 23, 9, 0), sh(2026, 11, 23, 19, 0)) == sh(2026, 11, 23, 17, 0)


def test_with_a_calendar_the_warning_comes_in_working_time() -> None:
    # Friday 16:00 to Monday 11:00 is 180 business minutes; 80% = 144: 60 on Friday, 84 on Monday.
    # On the wall clock 80% of the 67 hours would fall on Sunday night, when nobody reads it.
    warn = warning_at(sh(2026, 11, 27, 16, 0), sh(2026, 11, 30, 11, 0), calendar=OFFICE)
    assert warn == sh(2026, 11, 30, 10, 24)


def test_a_deadline_already_due_warns_at_once() -> None:
    due = sh(2026, 11, 23, 9, 0)
    assert warning_at(sh(2026, 11, 23, 10, 0), due) == due
    with pytest.raises(ValueError, match="between 0 and 1"):
        warning_at(sh(2026, 11, 23, 8, 0), due, fraction=1.5)


def test_thousands_of_deadlines_are_quick() -> None:
    start = sh(2026, 11, 20, 15, 0)
    began = time.perf_counter()
    for index in range(2000):
        add_business_minutes(start + timedelta(minutes=7 * index), 2880, DEFAULT)
    assert time.perf_counter() - began < 10  # about 1 ms each; a minute-by-minute loop takes 100x


# --- properties ------------------------------------------------------------------------------

starts = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31),
                      timezones=st.sampled_from([SHANGHAI, BERLIN, UTC]), allow_imaginary=False)
calendars = st.sampled_from(sorted(CALENDARS)).map(CALENDARS.__getitem__)
slow = settings(deadline=None, max_examples=150)


@slow
@given(start=starts, minutes=st.floats(min_value=0, max_value=20_000), calendar=calendars)
def test_adding_then_measuring_gives_the_minutes_back(start: datetime, minutes: float,
                                                      calendar: Schedule) -> None:
    due = add_business_minutes(start, minutes, calendar)
    assert business_minutes_between(start, due, calendar) == pytest.approx(minutes, abs=1e-4)


@slow
@given(start=starts, fewer=st.integers(0, 10_000), more=st.integers(0, 10_000), calendar=calendars)
def test_more_minutes_never_come_due_earlier(start: datetime, fewer: int, more: int,
                                             calendar: Schedule) -> None:
    fewer, more = sorted((fewer, more))
    early = add_business_minutes(start, fewer, calendar)
    late = add_business_minutes(start, more, calendar)
    assert early.astimezone(UTC) <= late.astimezone(UTC)


@slow
@given(start=starts, minutes=st.integers(1, 20_000), calendar=calendars)
def test_a_deadline_ends_open_time(start: datetime, minutes: int, calendar: Schedule) -> None:
    due = add_business_minutes(start, minutes, calendar)
    assert calendar.is_open(due - timedelta(microseconds=1))
    assert due.astimezone(UTC) - start.astimezone(UTC) >= timedelta(minutes=minutes)


@slow
@given(first=starts, hours=st.integers(0, 2000), split=st.floats(0, 1), calendar=calendars)
def test_minutes_between_add_up(first: datetime, hours: int, split: float, calendar: Schedule) -> None:
    first = first.astimezone(UTC)  # a zoned datetime plus a timedelta moves the wall clock
    last = first + timedelta(hours=hours)
    middle = first + timedelta(hours=hours * split)
    whole = business_minutes_between(first, last, calendar)
    parts = business_minutes_between(first, middle, calendar) + business_minutes_between(middle, last,
                                                                                          calendar)
    assert whole == pytest.approx(parts, abs=1e-6)
    assert 0 <= whole <= hours * 60 + 1e-6


@slow
@given(start=starts, minutes=st.integers(1, 10_000), calendar=calendars)
def test_the_warning_falls_between_start_and_due(start: datetime, minutes: int, calendar: Schedule) -> None:
    due = add_business_minutes(start, minutes, calendar)
    warn = warning_at(start, due, calendar=calendar)
    assert start.astimezone(UTC) <= warn.astimezone(UTC) <= due.astimezone(UTC)
    assert business_minutes_between(start, warn, calendar) == pytest.approx(0.8 * minutes, abs=1e-3)
