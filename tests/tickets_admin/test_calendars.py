"""Business calendars through the admin API: schedule documents checked by the schedule
parser; ``default`` is the one ticket deadlines count in."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hub.tickets.defaults import DEFAULT_CALENDAR
from tests.tickets_admin.conftest import Admin

CALENDAR = "/api/admin/business-calendar"
OFFICE: dict[str, Any] = {
    "timezone": "Asia/Shanghai",
    "hours": {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": ["2026-10-01", "2026-10-02"],
    "open_days": ["2026-09-27"],
}


async def test_the_default_calendar_is_seeded(admin: Admin) -> None:
    assert await admin.get(f"{CALENDAR}/default") == {"code": "default", "schedule": DEFAULT_CALENDAR}
    assert "default" in [c["code"] for c in (await admin.get(CALENDAR))["items"]]
    assert await admin.error("GET", f"{CALENDAR}/nowhere", None, 404) == "not_found"


async def test_a_calendar_is_replaced_and_stored_in_its_checked_form(admin: Admin) -> None:
    reply = await admin.write("PUT", f"{CALENDAR}/default", {"schedule": OFFICE})
    assert reply["schedule"]["hours"]["sat"] == [] and reply["schedule"]["holidays"] == OFFICE["holidays"]
    assert await admin.get(f"{CALENDAR}/default") == reply
    assert (await admin.write("PUT", f"{CALENDAR}/night", {"schedule": {}}))["schedule"] == {}
    assert await admin.audit() == [("tickets.calendar.update", "calendar:default"),
                                   ("tickets.calendar.create", "calendar:night")]


async def test_new_deadlines_count_in_the_default_calendar(admin: Admin) -> None:
    await admin.write("PUT", f"{CALENDAR}/default", {"schedule": {**OFFICE, "holidays": [], "open_days": []}})
    due = (await admin.complaint()).step_due_at
    assert due is not None
    local = due.astimezone(ZoneInfo("Asia/Shanghai"))
    assert local.weekday() < 5 and (9, 0) <= (local.hour, local.minute) <= (18, 0), local


@pytest.mark.parametrize(("schedule", "words"), [
    ({"timezone": "Mars/Olympus"}, "unknown time zone"),
    ({"hours": {"mon": [["09:00", "18:00"]]}}, "timezone: required"),
    ({"timezone": "Asia/Shanghai", "hours": {"monday": []}}, "unknown day 'monday'"),
    ({"timezone": "Asia/Shanghai", "hours": {"mon": [["25:00", "26:00"]]}}, "not a time HH:MM"),
    ({"timezone": "Asia/Shanghai", "holidays": ["2026-02-30"]}, "not a date"),
    ({"timezone": "Asia/Shanghai", "colour": "red"}, "unknown key 'colour'"),
])
async def test_a_bad_calendar_is_refused_with_the_parsers_words(admin: Admin, schedule: dict[str, Any],
                                                                words: str) -> None:
    error, message = await admin.refused("PUT", f"{CALENDAR}/default", {"schedule": schedule})
    assert error == "bad_calendar" and words in message, message
    assert (await admin.get(f"{CALENDAR}/default"))["schedule"] == DEFAULT_CALENDAR
    assert await admin.audit() == []


async def test_a_bad_calendar_code_is_refused(admin: Admin) -> None:
    assert await admin.error("PUT", f"{CALENDAR}/Office Hours", {"schedule": {}}) == "bad_calendar_code"
    assert await admin.error("PUT", f"{CALENDAR}/default", {}) == "invalid_field"
