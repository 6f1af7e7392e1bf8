"""Before a contact waits: the blocklist, entry rules, region routing, open hours, limits."""

from __future__ import annotations

from typing import Any

from hub.models import BlockedAddress, Customer, EntryRule, RegionPrefix
from tests.routing_service.conftest import Centre

SHANGHAI_OFFICE = {"timezone": "Asia/Shanghai", "hours": {}}
"""A schedule with no open hours at all: always closed."""


async def transcript(centre: Centre, interaction_id: int) -> list[dict[str, Any]]:
    from hub.history import messages_after

    async with centre.core.sessions() as s:
        return await messages_after(s, interaction_id, 0, limit=100)


def refused(events: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(e["interaction_id"], e["disposition"]) for e in events if e.get("kind") == "refused"]


async def listen(centre: Centre, topic: str = "inbox") -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    async def listener(_topic: str, payload: dict[str, Any]) -> None:
        seen.append(payload)

    centre.core.bus.subscribe(topic, listener)
    return seen


async def test_a_blocklisted_customer_is_stored_but_never_offered(centre: Centre) -> None:
    alice = await centre.agent("default")
    await centre.add(BlockedAddress(kind="chat", address="troll", reason="abuse"))
    await centre.ready(alice)
    events = await listen(centre)
    interaction = await centre.contact("troll")
    await centre.settled()
    assert await centre.offer_of(interaction) is None
    assert refused(events) == [(interaction, "blacklisted")]
    row = await centre.interaction(interaction)
    assert (row.status, row.queued_at) == ("followup", None)


async def test_a_closed_queue_holds_contacts_until_it_opens(centre: Centre) -> None:
    alice = await centre.agent("default")
    await centre.queue("default", schedule=SHANGHAI_OFFICE, closed_message="We open at 8:00.")
    await centre.reload()
    await centre.ready(alice)
    interaction = await centre.contact()
    await centre.settled()
    assert await centre.offer_of(interaction) is None
    await centre.core.routing.publish_board()
    default = next(q for q in centre.core.routing.board["queues"] if q["queue"] == "default")
    assert default["held"] == 1
    assert [m["text"] for m in await transcript(centre, interaction)][-1] == "We open at 8:00."

    await centre.queue("default", schedule={})
    await centre.reload()
    assert await centre.offer_of(interaction) == alice


async def test_contacts_beyond_the_daily_limit_are_refused(centre: Centre) -> None:
    await centre.queue("default", daily_limit=2)
    await centre.reload()
    events = await listen(centre)
    contacts = [await centre.contact() for _ in range(3)]
    await centre.settled()
    assert refused(events) == [(contacts[2], "daily_limit")]


async def test_a_full_queue_refuses_more_waiting_contacts(centre: Centre) -> None:
    await centre.queue("default", max_waiting=1)
    await centre.reload()
    events = await listen(centre)
    contacts = [await centre.contact() for _ in range(2)]
    await centre.settled()
    assert refused(events) == [(contacts[1], "queue_full")]


async def test_an_unknown_callers_region_is_found_by_number_prefix_and_remembered(centre: Centre) -> None:
    await centre.queue("shenzhen", region="guangdong/shenzhen",
                       overflow=[{"after": 60, "queue": "default"}])
    await centre.queue("nanshan", region="guangdong/shenzhen/nanshan",
                       overflow=[{"after": 60, "queue": "shenzhen"}])
    shenzhen_agent = await centre.agent("shenzhen")
    await centre.add(RegionPrefix(prefix="0755", region="guangdong/shenzhen/futian"))
    await centre.ready(shenzhen_agent)
    interaction = await centre.contact(phone="+86 755 8888 1234")
    await centre.settled()
    row = await centre.interaction(interaction)
    assert row.queue == "shenzhen", "no Futian county group: the city's group"
    assert await centre.offer_of(interaction) == shenzhen_agent
    async with centre.core.sessions() as s:
        customer = await s.get(Customer, row.customer_id)
    assert customer is not None and customer.region == "guangdong/shenzhen/futian"


async def test_a_known_customers_region_picks_the_county_group(centre: Centre) -> None:
    await centre.queue("shenzhen", region="guangdong/shenzhen", overflow=[{"after": 60, "queue": "default"}])
    await centre.queue("nanshan", region="guangdong/shenzhen/nanshan",
                       overflow=[{"after": 60, "queue": "shenzhen"}])
    await centre.reload()
    nanshan = await centre.contact(region="guangdong/shenzhen/nanshan")
    beijing = await centre.contact(region="beijing/haidian")
    await centre.settled()
    assert (await centre.interaction(nanshan)).queue == "nanshan"
    assert (await centre.interaction(beijing)).queue == "default"


async def test_an_entry_rule_blocks_an_area_and_splits_another_by_ratio(centre: Centre) -> None:
    await centre.queue("a")
    await centre.queue("b")
    await centre.add(
        RegionPrefix(prefix="0898", region="hainan"),
        EntryRule(entry="10086", position=1, areas=["hainan"], action="block", message="not served"),
        EntryRule(entry="10086", position=2, action="route",
                  destinations=[{"queue": "a", "weight": 3}, {"queue": "b", "weight": 1}]),
    )
    events = await listen(centre)
    blocked = await centre.contact(phone="089866001234", entry="10086")
    split = [await centre.contact(phone=f"0755000000{n}", entry="10086") for n in range(4)]
    await centre.settled()
    assert refused(events) == [(blocked, "blocked_area")]
    assert [m["text"] for m in await transcript(centre, blocked)][-1] == "not served"
    queues = [(await centre.interaction(i)).queue for i in split]
    assert sorted(queues) == ["a", "a", "a", "b"]
