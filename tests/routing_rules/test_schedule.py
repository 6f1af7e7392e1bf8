"""Opening hours of a queue, read as the specification of ``QueueRules.schedule``."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.routing import schedule as schedule_module
from hub.routing.schedule import ALWAYS_OPEN, DAYS, Schedule

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = {day: [["08:00", "20:00"]] for day in DAYS[:5]}
EVERY_DAY = {day: [["08:00", "20:00"]] for day in DAYS}


def shanghai(day: str, clock: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=SHANGHAI)


def berlin_utc(day: str, clock: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=UTC)


def office(**extra: object) -> Schedule:
    return Schedule.from_json({"timezone": "Asia/Shanghai", "hours": WEEKDAYS, **extra})


# Opening hours


def test_an_empty_document_is_always_open():
    schedule = Schedule.from_json({})
    assert schedule == ALWAYS_OPEN
    assert schedule.is_open(shanghai("2026-10-01", "03:00"))
    assert schedule.next_change(shanghai("2026-10-01", "03:00")) is None
    assert schedule.to_json() == {}


def test_a_span_includes_its_start_and_excludes_its_end():
    schedule = office()
    assert not schedule.is_open(shanghai("2026-06-01", "07:59:59"))
    assert schedule.is_open(shanghai("2026-06-01", "08:00"))
    assert schedule.is_open(shanghai("2026-06-01", "19:59:59"))
    assert not schedule.is_open(shanghai("2026-06-01", "20:00"))


def test_a_day_missing_from_hours_is_closed():
    assert not office().is_open(shanghai("2026-06-06", "12:00"))  # a Saturday


def test_an_empty_day_is_closed_and_empty_hours_never_open():
    never = Schedule.from_json({"timezone": "Asia/Shanghai", "hours": {}})
    assert not never.is_open(shanghai("2026-06-01", "12:00"))
    assert never.next_change(shanghai("2026-06-01", "12:00")) is None


def test_without_hours_every_day_is_open_all_day_except_holidays():
    schedule = Schedule.from_json({"timezone": "Asia/Shanghai", "holidays": ["2026-10-01"]})
    assert schedule.is_open(shanghai("2026-06-06", "03:00"))
    assert not schedule.is_open(shanghai("2026-10-01", "12:00"))
    assert schedule.next_change(shanghai("2026-09-30", "12:00")) == shanghai("2026-10-01", "00:00")


def test_a_span_may_end_at_midnight_written_24_00():
    schedule = Schedule.from_json({"timezone": "Asia/Shanghai", "hours": {"mon": [["20:00", "24:00"]]}})
    assert schedule.is_open(shanghai("2026-06-01", "23:59:59"))
    assert not schedule.is_open(shanghai("2026-06-02", "00:00"))


def test_a_span_crossing_midnight_runs_until_its_end_the_next_morning():
    schedule = Schedule.from_json({"timezone": "Asia/Shanghai", "hours": {"fri": [["22:00", "02:00"]]}})
    assert schedule.is_open(shanghai("2026-06-05", "23:00"))
    assert schedule.is_open(shanghai("2026-06-06", "01:59"))
    assert not schedule.is_open(shanghai("2026-06-06", "02:00"))


def test_a_span_crossing_midnight_belongs_to_the_day_it_starts():
    schedule = Schedule.from_json({"timezone": "Asia/Shanghai", "hours": {"fri": [["22:00", "02:00"]]}})
    assert not schedule.is_open(shanghai("2026-06-05", "01:00"))  # Friday's small hours: Thursday's


def test_a_holiday_closes_the_whole_day():
    schedule = office(holidays=["2026-10-01"])
    assert not schedule.is_open(shanghai("2026-10-01", "12:00"))
    assert schedule.is_open(shanghai("2026-10-02", "12:00"))


def test_a_span_started_the_evening_before_a_holiday_still_runs_past_midnight():
    schedule = Schedule.from_json({"timezone": "Asia/Shanghai", "hours": {"wed": [["22:00", "02:00"]],
                                   "thu": [["08:00", "20:00"]]}, "holidays": ["2026-10-01"]})
    assert schedule.is_open(shanghai("2026-10-01", "01:00"))
    assert not schedule.is_open(shanghai("2026-10-01", "09:00"))


def test_an_open_day_on_a_weekend_follows_mondays_hours():
    schedule = office(hours={**WEEKDAYS, "mon": [["09:00", "17:00"]]}, open_days=["2026-10-10"])
    assert schedule.is_open(shanghai("2026-10-10", "09:00"))
    assert not schedule.is_open(shanghai("2026-10-10", "08:30"))
    assert not schedule.is_open(shanghai("2026-10-10", "17:00"))
    assert not schedule.is_open(shanghai("2026-10-11", "12:00"))  # the Sunday after stays closed


def test_hours_are_read_on_the_clock_of_the_schedules_time_zone():
    at = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    assert office().is_open(at)
    assert not Schedule.from_json({"timezone": "Europe/Berlin", "hours": WEEKDAYS}).is_open(at)


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError, match="no time zone"):
        office().is_open(datetime(2026, 6, 1, 9))
    with pytest.raises(ValueError, match="no time zone"):
        ALWAYS_OPEN.next_change(datetime(2026, 6, 1, 9))


# The next change


def test_while_open_the_next_change_is_the_closing_time():
    assert office().next_change(shanghai("2026-06-01", "09:00")) == shanghai("2026-06-01", "20:00")


def test_while_closed_the_next_change_is_the_opening_time():
    assert office().next_change(shanghai("2026-06-01", "20:00")) == shanghai("2026-06-02", "08:00")


def test_the_next_change_skips_the_weekend_and_holidays():
    schedule = office(holidays=["2026-10-01", "2026-10-02", "2026-10-05"])
    assert schedule.next_change(shanghai("2026-09-30", "20:00")) == shanghai("2026-10-06", "08:00")


def test_the_next_change_is_strictly_after_the_given_instant():
    assert office().next_change(shanghai("2026-06-01", "08:00")) == shanghai("2026-06-01", "20:00")


def test_spans_that_touch_across_midnight_are_one_opening():
    schedule = Schedule.from_json({"timezone": "Asia/Shanghai",
                                   "hours": {"mon": [["00:00", "24:00"]], "tue": [["00:00", "12:00"]]}})
    assert schedule.next_change(shanghai("2026-06-01", "12:00")) == shanghai("2026-06-02", "12:00")


def test_a_schedule_open_around_the_clock_has_no_next_change():
    hours = {day: [["00:00", "24:00"]] for day in DAYS}
    always = Schedule.from_json({"timezone": "Asia/Shanghai", "hours": hours})
    assert always.is_open(shanghai("2026-06-01", "12:00"))
    assert always.next_change(shanghai("2026-06-01", "12:00")) is None


def test_an_opening_more_than_400_days_away_is_no_next_change():
    holidays = [(date(2026, 6, 2) + timedelta(days=n)).isoformat() for n in range(420)]
    schedule = office(holidays=holidays)
    assert schedule.next_change(shanghai("2026-06-01", "20:00")) is None


def test_the_next_change_is_given_in_the_callers_time_zone():
    change = office().next_change(datetime(2026, 6, 1, 1, 0, tzinfo=UTC))
    assert change is not None and change.tzinfo is UTC and change == shanghai("2026-06-01", "20:00")


# Daylight saving time (Europe/Berlin: 2026-03-29 02:00 -> 03:00, 2026-10-25 03:00 -> 02:00)


def test_opening_hours_follow_the_local_clock_across_daylight_saving():
    schedule = Schedule.from_json({"timezone": "Europe/Berlin", "hours": EVERY_DAY})
    assert schedule.next_change(berlin_utc("2026-03-28", "19:30")) == berlin_utc("2026-03-29", "06:00")
    assert schedule.next_change(berlin_utc("2026-10-24", "19:30")) == berlin_utc("2026-10-25", "07:00")


def test_a_span_starting_in_the_skipped_hour_opens_when_the_clock_jumps():
    schedule = Schedule.from_json({"timezone": "Europe/Berlin", "hours": {"sun": [["02:30", "05:00"]]}})
    jump = berlin_utc("2026-03-29", "01:00")  # 02:00 CET becomes 03:00 CEST
    assert schedule.next_change(berlin_utc("2026-03-28", "12:00")) == jump
    assert not schedule.is_open(jump - timedelta(microseconds=1))
    assert schedule.is_open(jump)
    assert schedule.next_change(jump) == berlin_utc("2026-03-29", "03:00")


def test_a_span_touching_the_repeated_hour_uses_its_first_pass_and_stays_open():
    schedule = Schedule.from_json({"timezone": "Europe/Berlin", "hours": {"sun": [["02:30", "04:00"]]}})
    assert schedule.next_change(berlin_utc("2026-10-24", "12:00")) == berlin_utc("2026-10-25", "00:30")
    assert schedule.is_open(berlin_utc("2026-10-25", "01:15"))  # 02:15 again, on the second pass
    assert schedule.next_change(berlin_utc("2026-10-25", "00:30")) == berlin_utc("2026-10-25", "03:00")


def test_a_span_ending_in_the_repeated_hour_closes_on_its_first_pass():
    schedule = Schedule.from_json({"timezone": "Europe/Berlin", "hours": {"sat": [["22:00", "02:30"]]}})
    assert schedule.next_change(berlin_utc("2026-10-24", "21:00")) == berlin_utc("2026-10-25", "00:30")
    assert not schedule.is_open(berlin_utc("2026-10-25", "01:15"))


def test_a_day_whose_midnight_is_skipped_opens_when_the_clock_jumps():
    santiago = Schedule.from_json({"timezone": "America/Santiago", "hours": {"sun": [["00:00", "12:00"]]}})
    assert santiago.next_change(datetime(2026, 9, 5, 12, tzinfo=UTC)) == datetime(2026, 9, 6, 4, tzinfo=UTC)


# The document


def test_to_json_gives_back_a_complete_document():
    doc = {"timezone": "Asia/Shanghai",
           "hours": {**{d: [] for d in DAYS}, "mon": [["08:00", "12:00"], ["13:00", "24:00"]],
                     "sat": [["22:00", "02:00"]]},
           "holidays": ["2026-10-01", "2026-10-02"], "open_days": ["2026-10-10"]}
    assert Schedule.from_json(doc).to_json() == doc


def test_days_left_out_of_hours_come_back_as_empty_days():
    hours = Schedule.from_json({"timezone": "Asia/Shanghai", "hours": WEEKDAYS}).to_json()["hours"]
    assert hours["sat"] == hours["sun"] == []


@pytest.mark.parametrize(("doc", "message"), [
    ({"timezone": "Asia/Shanghai", "hours": {"mon": [["25:00", "20:00"]]}},
     "hours.mon[0]: '25:00' is not a time HH:MM"),
    ({"timezone": "Asia/Shanghai", "hours": {"tue": [["08:00", "20:00"], ["08:60", "21:00"]]}},
     "hours.tue[1]: '08:60' is not a time HH:MM"),
    ({"timezone": "Asia/Shanghai", "hours": {"mon": [["8:00", "20:00"]]}}, "'8:00' is not a time HH:MM"),
    ({"timezone": "Asia/Shanghai", "hours": {"mon": [["24:00", "02:00"]]}}, "'24:00' can only end a span"),
    ({"timezone": "Asia/Shanghai", "hours": {"mon": [["08:00", "08:00"]]}}, "cannot start and end"),
    ({"timezone": "Asia/Shanghai", "hours": {"mon": [["08:00"]]}}, "hours.mon[0]: expected a pair"),
    ({"timezone": "Asia/Shanghai", "hours": {"mon": ["08:00", "20:00"]}}, "hours.mon[0]: expected a pair"),
    ({"timezone": "Asia/Shanghai", "hours": {"mon": "08:00-20:00"}}, "hours.mon: expected a list of spans"),
    ({"timezone": "Asia/Shanghai", "hours": {"monday": []}}, "hours: unknown day 'monday'"),
    ({"timezone": "Asia/Shanghai", "hours": []}, "hours: expected an object"),
    ({"timezone": "Mars/Base"}, "unknown time zone 'Mars/Base'"),
    ({"timezone": ""}, "timezone: expected a time zone name"),
    ({"hours": WEEKDAYS}, "timezone: required"),
    ({"timezone": "Asia/Shanghai", "hour": {}}, "unknown key 'hour'"),
    ({"timezone": "Asia/Shanghai", "holidays": ["2026-13-01"]}, "holidays[0]: '2026-13-01' is not a date"),
    ({"timezone": "Asia/Shanghai", "holidays": ["2026-10-1"]}, "holidays[0]: '2026-10-1' is not a date"),
    ({"timezone": "Asia/Shanghai", "open_days": "2026-10-10"}, "open_days: expected a list of dates"),
    ({"timezone": "Asia/Shanghai", "holidays": ["2026-10-10"], "open_days": ["2026-10-10"]},
     "2026-10-10 is both a holiday and an open day"),
])
def test_a_bad_document_is_refused_with_what_to_fix(doc: dict[str, object], message: str):
    with pytest.raises(ValueError, match=re.escape(message)):
        Schedule.from_json(doc)


def test_a_missing_time_zone_database_is_named_in_the_error(monkeypatch: pytest.MonkeyPatch):
    def no_database(key: str) -> ZoneInfo:
        raise ZoneInfoNotFoundError(f"No time zone found with key {key}")

    monkeypatch.setattr(schedule_module, "ZoneInfo", no_database)
    with pytest.raises(ValueError, match=r"no time zone database is installed .*tzdata"):
        Schedule.from_json({"timezone": "Asia/Shanghai"})


# Properties over random schedules

ZONES = ["Asia/Shanghai", "Europe/Berlin", "Australia/Lord_Howe", "America/Santiago"]
HALF_HOURS = st.integers(0, 47).map(lambda n: f"{n // 2:02d}:{n % 2 * 30:02d}")


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    hours = {}
    for day in draw(st.lists(st.sampled_from(DAYS), unique=True)):
        spans = draw(st.lists(st.tuples(HALF_HOURS, HALF_HOURS | st.just("24:00")), max_size=2))
        hours[day] = [list(span) for span in spans if span[0] != span[1]]
    dates = st.dates(date(2026, 1, 1), date(2027, 6, 30)).map(date.isoformat)
    holidays = draw(st.lists(dates, max_size=8, unique=True))
    open_days = draw(st.lists(dates.filter(lambda d: d not in holidays), max_size=3, unique=True))
    doc = {"timezone": draw(st.sampled_from(ZONES)), "holidays": holidays, "open_days": open_days}
    if draw(st.booleans()) or hours:
        doc["hours"] = hours
    return Schedule.from_json(doc)


INSTANTS = st.datetimes(datetime(2026, 1, 1), datetime(2027, 6, 30), timezones=st.just(UTC))
QUARTER = timedelta(minutes=15)


@settings(max_examples=300, deadline=None)
@given(schedules(), INSTANTS)
def test_next_change_is_the_first_instant_the_queue_opens_or_closes(schedule: Schedule, at: datetime):
    before = schedule.is_open(at)
    change = schedule.next_change(at)
    end = min(change, at + timedelta(days=3)) if change else at + timedelta(days=3)
    # Every opening starts and ends on a UTC quarter hour, so quarter hours see every flip.
    tick = datetime(at.year, at.month, at.day, tzinfo=UTC) + QUARTER
    while tick < end:
        assert tick <= at or schedule.is_open(tick) == before, f"flipped at {tick}, before {change}"
        tick += QUARTER
    if change is not None:
        assert change > at
        assert schedule.is_open(change) != before
        assert schedule.is_open(change - timedelta(microseconds=1)) == before


@settings(max_examples=200, deadline=None)
@given(schedules(), INSTANTS)
def test_away_from_clock_changes_is_open_reads_the_wall_clock(schedule: Schedule, at: datetime):
    zone = ZoneInfo(schedule.timezone)
    if len({(at + timedelta(days=n)).astimezone(zone).utcoffset() for n in (-2, 0, 1)}) > 1:
        return
    wall = at.astimezone(zone)
    minute = wall.hour * 60 + wall.minute + (wall.second + wall.microsecond / 1e6) / 60
    today = wall.date()
    expected = any(start <= minute < end for start, end in schedule.spans_on(today)) or any(
        start <= minute + 1440 < end for start, end in schedule.spans_on(today - timedelta(days=1)))
    assert schedule.is_open(at) == expected


@given(schedules())
def test_to_json_and_from_json_round_trip(schedule: Schedule):
    assert Schedule.from_json(schedule.to_json()) == schedule
