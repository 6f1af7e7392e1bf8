"""Agents search tickets by customer, phone, number, type, status, region, unit, handler,
dates, overdue and words; results come newest first, a page at a time, and every search is
logged with who searched what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.core import HubCore
from hub.errors import InvalidRequest
from hub.tickets import search as search_module
from hub.tickets.search import cursor_text, parse_cursor, search_tickets
from hub.tickets.search_filters import TicketFilters

from .helpers import NOW, World, build_world, search_log

SHENZHEN = ("guangdong/shenzhen", "guangdong/shenzhen/nanshan", "guangdong/shenzhen/futian")
"""The region and the regions below it; not guangdong/shenzhen-east."""


@pytest.fixture
async def world(hub_core: HubCore) -> World:
    return await build_world(hub_core)


async def ids(world: World, limit: int = 200, agent_id: int | None = 1, **filters: object) -> list[int]:
    page = await search_tickets(world.core.sessions, TicketFilters(**filters), agent_id=agent_id,  # type: ignore[arg-type]
                                limit=limit, now=NOW)
    return [item["id"] for item in page.items]


async def test_without_filters_every_ticket_comes_newest_first(world: World) -> None:
    assert await ids(world) == world.matching(lambda t: True)


@pytest.mark.parametrize("field, value", [
    ("customer_id", 102), ("number", "T202601010000017"), ("type", "fault"), ("status", "closed"),
    ("unit_id", 103), ("handler_id", 104),
])
async def test_each_plain_filter_finds_exactly_its_tickets(world: World, field: str, value: object) -> None:
    column = {"unit_id": "owner_unit_id"}.get(field, field)

    assert await ids(world, **{field: value}) == world.expected(**{column: value})


async def test_a_phone_finds_tickets_opened_from_it_and_tickets_of_customers_who_have_it(
    world: World,
) -> None:
    found = await ids(world, phone="13900000002")

    assert found == world.matching(lambda t: t["phone"] == "13900000002" or t["customer_id"] == 102)
    assert any(t["customer_id"] == 102 and t["phone"] != "13900000002"
               for t in world.tickets if t["id"] in found)


async def test_a_phone_is_found_however_it_is_written(world: World) -> None:
    filters = TicketFilters.from_query({"phone": "+86 139-0000-0002"})

    page = await search_tickets(world.core.sessions, filters, agent_id=1, limit=200, now=NOW)

    assert [i["id"] for i in page.items] == await ids(world, phone="13900000002")
    assert await ids(world, phone="13700000009") == [9]
    assert await ids(world, phone="13800000000") == []


async def test_a_region_finds_itself_and_everything_below_but_not_a_sibling_sharing_its_prefix(
    world: World,
) -> None:
    found = await ids(world, region="guangdong/shenzhen")

    assert found == world.matching(lambda t: t["region"] in SHENZHEN)
    assert await ids(world, region="guangdong/shenzhen/nanshan") == world.expected(
        region="guangdong/shenzhen/nanshan")
    assert await ids(world, region="guangdong") == world.matching(lambda t: True)
    assert await ids(world, region="guangdong/shen") == []
    assert await ids(world, region="hainan") == []


async def test_creation_dates_from_inclusive_to_exclusive(world: World) -> None:
    start, end = NOW - timedelta(hours=60), NOW - timedelta(hours=50)

    found = await ids(world, created_from=start, created_to=end)

    assert found == world.matching(lambda t: start <= t["created_at"] < end)
    assert await ids(world, created_from=start) == world.matching(lambda t: t["created_at"] >= start)
    assert await ids(world, created_to=end) == world.matching(lambda t: t["created_at"] < end)


async def test_overdue_means_open_with_its_step_past_due(world: World) -> None:
    def late(t: dict[str, object]) -> bool:
        return t["status"] == "open" and t["step_due_at"] is not None and t["step_due_at"] < NOW  # type: ignore[operator]

    overdue = await ids(world, overdue=True)

    assert overdue == world.matching(late) and overdue
    not_overdue = await ids(world, overdue=False)
    assert not_overdue == world.matching(lambda t: not late(t))
    assert any(t["status"] == "open" and t["step_due_at"] is None
               for t in world.tickets if t["id"] in not_overdue)
    page = await search_tickets(world.core.sessions, TicketFilters(), agent_id=1, limit=200, now=NOW)
    assert {i["id"] for i in page.items if i["overdue"]} == set(overdue)


async def test_words_are_all_found_in_the_title_or_description_whatever_their_case(world: World) -> None:
    assert await ids(world, text="SIGNAL indoors") == world.matching(
        lambda t: "no signal indoors" in t["title"])
    assert await ids(world, text="signal drop") == world.matching(
        lambda t: "signal" in t["title"] and "drop" in t["description"])
    # '%' is a character to look for, not a wildcard.
    assert await ids(world, text="100%") == world.matching(lambda t: "100%" in t["description"])
    assert await ids(world, text="1%0") == []


async def test_filters_combine(world: World) -> None:
    assert await ids(world, type="complaint", status="open", unit_id=104) == world.expected(
        type="complaint", status="open", owner_unit_id=104)
    assert await ids(world, handler_id=102, status="open") == world.expected(handler_id=102, status="open")
    start = NOW - timedelta(hours=70)
    assert await ids(world, region="guangdong/shenzhen", created_from=start, status="open") == world.matching(
        lambda t: t["region"] in SHENZHEN and t["created_at"] >= start and t["status"] == "open")
    assert await ids(world, phone="13900000001", status="closed") == world.matching(
        lambda t: (t["phone"] == "13900000001" or t["customer_id"] == 101) and t["status"] == "closed")
    assert await ids(world, text="signal", region="guangdong/shenzhen/futian") == world.matching(
        lambda t: "signal" in t["title"] and t["region"] == "guangdong/shenzhen/futian")


async def pages(world: World, filters: TicketFilters, limit: int) -> list[list[int]]:
    found, before = [], None
    while True:
        page = await search_tickets(world.core.sessions, filters, agent_id=1, limit=limit, before=before,
                                    now=NOW)
        found.append([item["id"] for item in page.items])
        if page.next is None:
            return found
        before = parse_cursor(cursor_text(page.next))


@pytest.mark.parametrize("filters", [
    TicketFilters(), TicketFilters(status="open"), TicketFilters(region="guangdong/shenzhen"),
    TicketFilters(phone="13900000001"), TicketFilters(text="billing"),
], ids=["all", "open", "region", "phone", "words"])
async def test_pages_follow_each_other_without_gaps_or_repeats(world: World, filters: TicketFilters) -> None:
    everything = (await search_tickets(world.core.sessions, filters, agent_id=1, limit=200, now=NOW)).items

    found = await pages(world, filters, limit=4)

    assert [i for page in found for i in page] == [item["id"] for item in everything]
    assert all(len(page) == 4 for page in found[:-1])


@pytest.mark.parametrize("region", [None, "guangdong"])
async def test_a_text_search_reads_a_bounded_window_and_its_cursor_continues_past_it(
    world: World, monkeypatch: pytest.MonkeyPatch, region: str | None,
) -> None:
    monkeypatch.setattr(search_module, "TEXT_WINDOW", 7)
    expected = world.matching(lambda t: "signal" in t["title"])

    found = await pages(world, TicketFilters(text="signal", region=region), limit=50)

    assert [i for page in found for i in page] == expected
    assert all(len(page) <= 2 for page in found)  # at most 2 of any 7 consecutive tickets match


async def test_phones_are_masked_unless_the_caller_may_see_them(world: World) -> None:
    filters = TicketFilters(number="T202601010000003")

    masked = await search_tickets(world.core.sessions, filters, agent_id=1, now=NOW)
    plain = await search_tickets(world.core.sessions, filters, agent_id=1, now=NOW, unmasked=True)

    assert masked.items[0]["phone"] == "139****0001"
    assert plain.items[0]["phone"] == "13900000001"
    assert set(masked.items[0]) == {
        "id", "number", "type", "status", "step", "title", "region", "owner_unit_id", "handler_id",
        "customer_id", "phone", "created_at", "step_due_at", "overdue", "urge_count"}


async def test_every_search_is_logged_with_who_searched_what_and_how_many_were_found(world: World) -> None:
    await ids(world, agent_id=3, limit=5, status="open", region="guangdong/shenzhen",
              created_from=datetime(2026, 5, 1, tzinfo=UTC))
    await ids(world, agent_id=4, phone="13800000000")

    first, empty = await search_log(world.core)

    assert (first.agent_id, first.results) == (3, 5)
    assert first.query == {"status": "open", "region": "guangdong/shenzhen",
                           "created_from": "2026-05-01T00:00:00+00:00"}
    assert (empty.agent_id, empty.query, empty.results) == (4, {"phone": "13800000000"}, 0)
    assert first.at <= empty.at <= datetime.now(UTC)  # when it was searched, not the "now" asked about


async def test_a_refused_search_is_not_run_and_not_logged(world: World) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await search_tickets(world.core.sessions, TicketFilters(), agent_id=1, limit=0)

    assert refused.value.error_id == "bad_limit"
    assert await search_log(world.core) == []
