"""Filters come from URL query parameters: good values are normalised, bad ones refused with
a clear message and a stable error id, and what is logged is what was asked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from multidict import MultiDict

from hub.errors import InvalidRequest
from hub.tickets.search import cursor_text, parse_cursor, phone_forms
from hub.tickets.search_filters import TicketFilters


def test_query_parameters_become_typed_filters() -> None:
    filters = TicketFilters.from_query({
        "customer": "12", "phone": "+86 139-0000-0001", "number": "T202601010000001", "type": "complaint",
        "status": "open", "region": "guangdong/shenzhen/", "unit": "3", "handler_id": "7",
        "created_from": "2026-01-01", "created_to": "2026-01-31", "overdue": "true",
        "text": "  no   signal ", "limit": "20", "before": "x",
    })

    assert filters == TicketFilters(
        customer_id=12, phone="008613900000001", number="T202601010000001",
        type="complaint", status="open", region="guangdong/shenzhen", unit_id=3, handler_id=7,
        created_from=datetime(2026, 1, 1, tzinfo=UTC), created_to=datetime(2026, 2, 1, tzinfo=UTC),
        overdue=True, text="no signal")


def test_empty_values_are_absent_and_naive_times_are_utc() -> None:
    filters = TicketFilters.from_query({"status": "", "created_from": "2026-01-01T08:00:00",
                                        "created_to": "2026-01-02T08:00:00+08:00", "overdue": "no"})

    assert filters == TicketFilters(created_from=datetime(2026, 1, 1, 8, tzinfo=UTC),
                                    created_to=datetime(2026, 1, 2, tzinfo=UTC), overdue=False)


def test_the_log_holds_the_set_filters_only_with_dates_in_iso() -> None:
    filters = TicketFilters(phone="13900000001", status="open", overdue=False,
                            created_from=datetime(2026, 1, 1, tzinfo=UTC))

    assert filters.as_log() == {"phone": "13900000001", "status": "open", "overdue": False,
                                "created_from": "2026-01-01T00:00:00+00:00"}
    assert TicketFilters().as_log() == {}


@pytest.mark.parametrize("query, says", [
    ({"stauts": "open"}, "unknown filter 'stauts'"),
    ({"status": "pending"}, "use 'open' or 'closed'"),
    ({"customer_id": "abc"}, "customer_id: 'abc' is not an id"),
    ({"unit": "0"}, "unit: '0' is not an id"),
    ({"handler_id": "-3"}, "is not an id"),
    ({"phone": "call me"}, "is not a phone number"),
    ({"phone": "12"}, "is not a phone number"),
    ({"region": "guangdong//shenzhen"}, "is not a region path"),
    ({"created_from": "yesterday"}, "is not a date"),
    ({"created_from": "2026-02-01", "created_to": "2026-01-01"}, "created_from must be before created_to"),
    ({"overdue": "maybe"}, "is not true or false"),
    ({"text": "a b c d e f"}, "at most 5 words"),
    ({"number": "T" * 31}, "at most 30 characters"),
])
def test_bad_filters_are_refused_saying_which_and_why(query: dict[str, str], says: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        TicketFilters.from_query(query)

    assert refused.value.error_id == "bad_filter"
    assert says in refused.value.message


def test_a_filter_given_twice_is_refused() -> None:
    with pytest.raises(InvalidRequest) as refused:
        TicketFilters.from_query(MultiDict([("status", "open"), ("status", "closed")]))

    assert (refused.value.error_id, refused.value.message) == ("bad_filter", "status: given twice")


def test_a_cursor_survives_the_round_trip_and_a_forged_one_is_refused() -> None:
    cursor = (datetime(2026, 1, 1, 8, 30, 1, 250, tzinfo=UTC), 42)

    assert parse_cursor(cursor_text(cursor)) == cursor
    with pytest.raises(InvalidRequest) as refused:
        parse_cursor("2026-01-01;drop")
    assert refused.value.error_id == "bad_cursor"


def test_a_phone_is_looked_for_in_every_form_it_may_be_stored_in() -> None:
    assert phone_forms("13900000001") == ["+8613900000001", "008613900000001", "13900000001"]
    assert set(phone_forms("008613900000001")) >= {"13900000001", "+8613900000001"}
    assert set(phone_forms("075512345678")) >= {"075512345678", "+8675512345678"}
