"""Regions of callers and the regional groups that serve them, read as the specification."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.routing.regions import PrefixTable, number_forms, regional_queue, within

TABLE = PrefixTable({
    "0755": "guangdong/shenzhen",
    "07558": "guangdong/shenzhen/nanshan",
    "020": "guangdong/guangzhou",
    "1380013": "guangdong/shenzhen",
    "001": "north-america",
})


# Prefixes


def test_the_longest_matching_prefix_wins():
    assert TABLE.region_of("075581234567") == "guangdong/shenzhen/nanshan"
    assert TABLE.region_of("075521234567") == "guangdong/shenzhen"


def test_a_number_no_prefix_matches_has_no_region():
    assert TABLE.region_of("02112345678") is None


@pytest.mark.parametrize("number", ["0755 8123 4567", "0755-8123-4567", "(0755) 81234567", "\t075581234567 "])
def test_spaces_dashes_and_parentheses_are_ignored(number: str):
    assert TABLE.region_of(number) == "guangdong/shenzhen/nanshan"


@pytest.mark.parametrize("number", ["+86 755 8123 4567", "0086 755 8123 4567", "+86-(755)-81234567"])
def test_a_landline_after_the_country_code_is_tried_with_its_trunk_zero(number: str):
    assert TABLE.region_of(number) == "guangdong/shenzhen/nanshan"


def test_a_mobile_after_the_country_code_is_matched_as_written():
    assert TABLE.region_of("+86 138 0013 8000") == "guangdong/shenzhen"


def test_a_foreign_number_with_plus_is_compared_in_its_00_form():
    assert number_forms("+1 212 555 0100") == ("0012125550100",)
    assert TABLE.region_of("+1 212 555 0100") == TABLE.region_of("001 212 555 0100") == "north-america"


def test_86_without_plus_or_00_is_not_taken_for_the_country_code():
    assert number_forms("8675581234567") == ("8675581234567",)
    assert TABLE.region_of("8675581234567") is None


@pytest.mark.parametrize("address", ["alice@example.com", "", "+", "+86", "0755 ext. 12", "０７５５"])
def test_an_address_that_is_not_a_number_has_no_region(address: str):
    assert TABLE.region_of(address) is None


def test_between_equally_long_matches_the_number_as_written_wins():
    table = PrefixTable({"7558": "as-written", "0755": "with-trunk-zero"})
    assert table.region_of("+86 755 8123 4567") == "as-written"


@pytest.mark.parametrize(("prefixes", "message"), [
    ({"0755-": "guangdong/shenzhen"}, "prefix '0755-': digits only"),
    ({"+86755": "guangdong/shenzhen"}, "prefix '+86755': digits only"),
    ({"0086755": "guangdong/shenzhen"}, "write '0755'"),
    ({"0755": "guangdong//shenzhen"}, "not a region path"),
    ({"0755": ""}, "not a region path"),
])
def test_a_table_refuses_what_could_never_match(prefixes: dict[str, str], message: str):
    with pytest.raises(ValueError, match=re.escape(message)):
        PrefixTable(prefixes)


DIGITS = st.text("0123456789", min_size=1, max_size=8)


@given(st.dictionaries(DIGITS.filter(lambda p: not p.startswith("0086")), st.sampled_from("abcdef"),
                       max_size=30), st.text("0123456789", max_size=14))
def test_the_region_is_that_of_the_longest_prefix_of_the_number(prefixes: dict[str, str], number: str):
    matching = [prefix for prefix in prefixes if number.startswith(prefix)]
    expected = prefixes[max(matching, key=len)] if matching else None
    if number.startswith("0086"):
        return  # compared in national form, specified above
    assert PrefixTable(prefixes).region_of(number) == expected


def test_a_table_of_tens_of_thousands_of_prefixes_answers_by_lookup():
    table = PrefixTable({f"13{n:05d}": f"mobile/{n % 31}" for n in range(50_000)})
    assert len(table) == 50_000
    assert table.region_of("+86 130 4999 1234") == "mobile/" + str(4999 % 31)
    assert table._lengths == [7]  # one dict lookup per distinct length, whatever the size


# Region paths


def test_a_region_is_within_itself_and_every_area_above_it():
    assert within("guangdong/shenzhen/nanshan", "guangdong/shenzhen/nanshan")
    assert within("guangdong/shenzhen/nanshan", "guangdong/shenzhen")
    assert within("guangdong/shenzhen/nanshan", "guangdong")


def test_a_region_is_not_within_a_sibling_sharing_its_spelling():
    assert not within("guangdong/shenzhenx", "guangdong/shenzhen")
    assert not within("guangdong/shenzhen", "guangdong/shenzhen/nanshan")


def test_every_region_is_within_the_empty_area():
    assert within("guangdong/shenzhen", "")


# Regional groups

CHILDREN = {
    "guangdong": [("shenzhen", "guangdong/shenzhen"), ("guangzhou", "guangdong/guangzhou")],
    "shenzhen": [("nanshan", "guangdong/shenzhen/nanshan")],
}


def test_a_customer_goes_to_the_group_of_their_county():
    assert regional_queue("guangdong", "guangdong/shenzhen/nanshan", CHILDREN) == "nanshan"


def test_without_a_county_group_the_city_group_serves():
    assert regional_queue("guangdong", "guangdong/shenzhen/futian", CHILDREN) == "shenzhen"


def test_without_a_city_group_the_home_queue_serves():
    assert regional_queue("guangdong", "guangdong/foshan", CHILDREN) == "guangdong"


def test_a_customer_from_elsewhere_stays_at_home():
    assert regional_queue("guangdong", "hunan/changsha", CHILDREN) == "guangdong"


@pytest.mark.parametrize("region", [None, ""])
def test_an_unknown_region_stays_at_home(region: str | None):
    assert regional_queue("guangdong", region, CHILDREN) == "guangdong"


def test_the_deepest_group_under_one_queue_is_chosen_directly():
    children = {"guangdong": [("shenzhen", "guangdong/shenzhen"), ("nanshan", "guangdong/shenzhen/nanshan")]}
    assert regional_queue("guangdong", "guangdong/shenzhen/nanshan/shekou", children) == "nanshan"


def test_a_group_without_a_region_is_not_regional():
    children = {"guangdong": [("overflow", "")]}
    assert regional_queue("guangdong", "guangdong/shenzhen", children) == "guangdong"


def test_a_cycle_in_the_groups_ends_the_descent():
    children = {"a": [("b", "guangdong")], "b": [("a", "guangdong/shenzhen")]}
    assert regional_queue("a", "guangdong/shenzhen", children) == "b"
