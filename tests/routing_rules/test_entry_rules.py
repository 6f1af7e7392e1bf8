"""Number-level entry rules, read as the specification of ``hub.models.EntryRule``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.routing.entry_rules import EntryDecision, EntryRules, EntryRuleSpec
from hub.routing.regions import PrefixTable

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_NOON = datetime(2026, 6, 1, 12, tzinfo=SHANGHAI)
HOTLINE = "4008001234"
OFFICE_HOURS = {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "20:00",
                "timezone": "Asia/Shanghai"}


def rule(rule_id: int, entry: str = "*", position: int = 0, areas: tuple[str, ...] = (),
         window: Mapping[str, Any] | None = None, action: str = "route",
         destinations: tuple[tuple[str, int], ...] = (("sales", 1),), message: str = "") -> EntryRuleSpec:
    return EntryRuleSpec(id=rule_id, entry=entry, position=position, areas=areas, window=window or {},
                         action=action, destinations=destinations, message=message)


def queue_of(rules: EntryRules, entry: str = HOTLINE, region: str | None = None, number: str | None = None,
             at: datetime = MONDAY_NOON) -> str | None:
    decision = rules.decide(entry, region=region, number=number, at=at)
    return decision.queue if decision else None


# Which rule decides


def test_rules_for_the_exact_entry_come_before_the_catch_all_rules():
    rules = EntryRules([rule(1, "*", position=0, destinations=(("general", 1),)),
                        rule(2, HOTLINE, position=9, destinations=(("hotline", 1),))])
    assert queue_of(rules, HOTLINE) == "hotline"
    assert queue_of(rules, "4008009999") == "general"


def test_within_an_entry_rules_are_tried_in_position_order():
    rules = EntryRules([rule(1, position=2, destinations=(("second", 1),)),
                        rule(2, position=1, destinations=(("first", 1),))])
    assert rules.decide(HOTLINE, region=None, number=None, at=MONDAY_NOON) == EntryDecision(
        "route", "first", "", 2)


def test_the_first_rule_that_matches_decides_and_later_ones_are_not_consulted():
    rules = EntryRules([rule(1, position=0, areas=("hunan",), destinations=(("hunan", 1),)),
                        rule(2, position=1, destinations=(("everyone", 1),)),
                        rule(3, position=2, destinations=(("never", 1),))])
    assert queue_of(rules, region="hunan/changsha") == "hunan"
    assert queue_of(rules, region="guangdong/shenzhen") == "everyone"


def test_when_no_rule_matches_there_is_no_decision():
    rules = EntryRules([rule(1, HOTLINE, areas=("hunan",))])
    assert rules.decide(HOTLINE, region="guangdong", number=None, at=MONDAY_NOON) is None
    assert rules.decide("other", region="hunan", number=None, at=MONDAY_NOON) is None
    assert EntryRules([]).decide(HOTLINE, region=None, number=None, at=MONDAY_NOON) is None


def test_a_contact_to_no_particular_entry_meets_only_the_catch_all_rules_once():
    rules = EntryRules([rule(1, "*", destinations=(("a", 1), ("b", 1)))])
    assert [queue_of(rules, "*") for _ in range(2)] == ["a", "b"]


# Areas


def test_a_rule_without_areas_matches_every_caller():
    assert queue_of(EntryRules([rule(1)]), region=None, number=None) == "sales"


def test_a_region_area_matches_that_region_and_everything_below_it():
    rules = EntryRules([rule(1, areas=("guangdong/shenzhen",))])
    assert queue_of(rules, region="guangdong/shenzhen") == "sales"
    assert queue_of(rules, region="guangdong/shenzhen/nanshan") == "sales"
    assert queue_of(rules, region="guangdong/shenzhenx") is None
    assert queue_of(rules, region="guangdong") is None
    assert queue_of(rules, region=None) is None


def test_a_digit_area_matches_numbers_that_start_with_it():
    rules = EntryRules([rule(1, areas=("0755",))])
    assert queue_of(rules, number="0755 8123 4567") == "sales"
    assert queue_of(rules, number="+86 755 8123 4567") == "sales"
    assert queue_of(rules, number="020 8123 4567") is None
    assert queue_of(rules, number=None) is None


def test_any_one_area_is_enough():
    rules = EntryRules([rule(1, areas=("hunan", "0755"))])
    assert queue_of(rules, region="hunan/changsha") == "sales"
    assert queue_of(rules, number="075581234567") == "sales"


def test_without_a_region_the_prefix_table_places_the_number():
    rules = EntryRules([rule(1, areas=("guangdong/shenzhen",))],
                       PrefixTable({"0755": "guangdong/shenzhen/nanshan"}))
    assert queue_of(rules, number="+86 755 8123 4567") == "sales"
    assert queue_of(rules, region="hunan", number="+86 755 8123 4567") is None  # a known region wins


# Windows


def test_a_rule_outside_its_window_does_not_match():
    rules = EntryRules([rule(1, window=OFFICE_HOURS, destinations=(("day", 1),)),
                        rule(2, position=1, destinations=(("night", 1),))])
    assert queue_of(rules, at=MONDAY_NOON) == "day"
    assert queue_of(rules, at=datetime(2026, 6, 1, 20, tzinfo=SHANGHAI)) == "night"
    assert queue_of(rules, at=datetime(2026, 6, 6, 12, tzinfo=SHANGHAI)) == "night"  # Saturday


def test_a_window_is_read_on_the_clock_of_its_own_time_zone():
    rules = EntryRules([rule(1, window={**OFFICE_HOURS, "timezone": "Europe/Berlin"})])
    assert queue_of(rules, at=MONDAY_NOON) is None  # 06:00 in Berlin
    assert queue_of(rules, at=datetime(2026, 6, 1, 20, tzinfo=SHANGHAI)) == "sales"


def test_a_window_without_days_or_times_is_every_day_or_the_whole_day():
    every_day = EntryRules([rule(1, window={"from": "08:00", "to": "20:00", "timezone": "Asia/Shanghai"})])
    whole_day = EntryRules([rule(1, window={"days": ["sat"], "timezone": "Asia/Shanghai"})])
    assert queue_of(every_day, at=datetime(2026, 6, 6, 12, tzinfo=SHANGHAI)) == "sales"
    assert queue_of(whole_day, at=datetime(2026, 6, 6, 0, tzinfo=SHANGHAI)) == "sales"
    assert queue_of(whole_day, at=datetime(2026, 6, 7, 0, tzinfo=SHANGHAI)) is None


def test_a_window_crossing_midnight_belongs_to_the_day_it_starts():
    rules = EntryRules([rule(1, window={"days": ["fri"], "from": "22:00", "to": "06:00",
                                        "timezone": "Asia/Shanghai"})])
    assert queue_of(rules, at=datetime(2026, 6, 6, 5, tzinfo=SHANGHAI)) == "sales"  # Saturday morning
    assert queue_of(rules, at=datetime(2026, 6, 5, 5, tzinfo=SHANGHAI)) is None  # Friday morning


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError, match="no time zone"):
        EntryRules([rule(1)]).decide(HOTLINE, region=None, number=None, at=datetime(2026, 6, 1, 12))


# Actions


def test_a_block_rule_answers_with_its_message_and_no_queue():
    rules = EntryRules([rule(7, areas=("0755",), action="block", destinations=(), message="Not served")])
    assert rules.decide(HOTLINE, region=None, number="075581234567", at=MONDAY_NOON) == EntryDecision(
        "block", None, "Not served", 7)


def test_a_route_rule_passes_its_message_along():
    decision = EntryRules([rule(3, message="Welcome")]).decide(HOTLINE, region=None, number=None,
                                                               at=MONDAY_NOON)
    assert decision == EntryDecision("route", "sales", "Welcome", 3)


def test_a_three_to_one_rule_sends_a_a_b_a():
    rules = EntryRules([rule(1, destinations=(("a", 3), ("b", 1)))])
    assert [queue_of(rules) for _ in range(8)] == ["a", "a", "b", "a"] * 2


def test_the_heavier_queue_turns_are_spread_out_not_bunched():
    rules = EntryRules([rule(1, destinations=(("a", 5), ("b", 1), ("c", 1)))])
    assert [queue_of(rules) for _ in range(7)] == ["a", "a", "b", "a", "c", "a", "a"]


def test_each_rule_keeps_its_own_rotation():
    rules = EntryRules([rule(1, HOTLINE, destinations=(("a", 1), ("b", 1))),
                        rule(2, "*", destinations=(("c", 1), ("d", 1)))])
    assert [queue_of(rules, HOTLINE), queue_of(rules, "other"), queue_of(rules, HOTLINE),
            queue_of(rules, "other")] == ["a", "c", "b", "d"]


@given(st.lists(st.integers(1, 9), min_size=1, max_size=5), st.integers(0, 40))
def test_every_run_of_sum_of_weights_contacts_splits_exactly_by_weight(weights: list[int], skip: int):
    destinations = tuple((f"q{index}", weight) for index, weight in enumerate(weights))
    rules = EntryRules([rule(1, destinations=destinations)])
    picks = [queue_of(rules) for _ in range(skip + 2 * sum(weights))]
    for start in range(skip, skip + sum(weights) + 1):
        window = picks[start:start + sum(weights)]
        assert {queue: window.count(queue) for queue, _ in destinations} == dict(destinations)


# Validation


@pytest.mark.parametrize(("fields", "message"), [
    ({"action": "drop"}, "entry rule 1: action 'drop' is neither 'route' nor 'block'"),
    ({"destinations": ()}, "a route rule needs at least one destination"),
    ({"destinations": (("a", 0),)}, "destinations[0]: weight must be a positive integer, got 0"),
    ({"destinations": (("a", "3"),)}, "weight must be a positive integer, got '3'"),
    ({"destinations": (("a", True),)}, "weight must be a positive integer, got True"),
    ({"destinations": (("a", 1), ("a", 2))}, "destinations[1]: queue 'a' is named twice"),
    ({"destinations": (("", 1),)}, "destinations[0]: queue must be a queue name"),
    ({"destinations": ("a",)}, "destinations[0]: expected (queue, weight)"),
    ({"areas": ("guangdong//shenzhen",)}, "areas[0]: 'guangdong//shenzhen' is not a region path"),
    ({"areas": "guangdong"}, "areas must be a list"),
    ({"entry": ""}, "entry must be"),
    ({"window": {"days": ["monday"], "timezone": "Asia/Shanghai"}}, "window.days: unknown day 'monday'"),
    ({"window": {"days": [], "timezone": "Asia/Shanghai"}}, "window.days: expected a non-empty list"),
    ({"window": {"from": "08:00"}}, "window: timezone is required"),
    ({"window": {"from": "8am", "timezone": "Asia/Shanghai"}}, "window.from: '8am' is not a time HH:MM"),
    ({"window": {"to": "24:30", "timezone": "Asia/Shanghai"}}, "window.to: '24:30' is not a time HH:MM"),
    ({"window": {"from": "08:00", "to": "08:00", "timezone": "Asia/Shanghai"}}, "cannot start and end"),
    ({"window": {"timezone": "Mars/Base"}}, "unknown time zone 'Mars/Base'"),
    ({"window": {"start": "08:00", "timezone": "Asia/Shanghai"}}, "window: unknown key 'start'"),
])
def test_a_bad_rule_is_refused_with_what_to_fix(fields: dict[str, Any], message: str):
    with pytest.raises(ValueError, match=re.escape(message)):
        rule(1, **fields)


def test_a_block_rule_needs_no_destinations():
    assert rule(1, action="block", destinations=()).destinations == ()


def test_the_same_rule_id_twice_is_refused():
    with pytest.raises(ValueError, match="entry rule 4: the id is used twice"):
        EntryRules([rule(4), rule(4, HOTLINE)])


def test_from_json_reads_a_stored_row():
    doc = {"id": 5, "entry": HOTLINE, "position": 2, "areas": ["0755", "hunan"], "window": OFFICE_HOURS,
           "action": "route", "destinations": [{"queue": "a", "weight": 3}, {"queue": "b"}],
           "message": "Hi", "active": True}
    assert EntryRuleSpec.from_json(doc) == rule(5, HOTLINE, 2, ("0755", "hunan"), OFFICE_HOURS, "route",
                                                (("a", 3), ("b", 1)), "Hi")


def test_from_json_fills_in_the_tables_defaults_and_validate_refuses_bad_documents():
    assert EntryRuleSpec.from_json({"destinations": [{"queue": "a"}]}) == rule(0, destinations=(("a", 1),))
    EntryRuleSpec.validate({"action": "block"})
    with pytest.raises(ValueError, match="destinations: expected a list"):
        EntryRuleSpec.validate({"destinations": {"queue": "a"}})
    with pytest.raises(ValueError, match="weight must be a positive integer"):
        EntryRuleSpec.validate({"destinations": [{"queue": "a", "weight": -1}]})


def test_a_rule_cannot_be_changed_through_the_window_it_was_given():
    window = dict(OFFICE_HOURS)
    spec = rule(1, window=window)
    window["days"] = ["sun"]
    assert spec.window["days"] == OFFICE_HOURS["days"]
