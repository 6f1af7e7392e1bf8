"""Customers are found by the addresses they are known by, or created once."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import IntegrityError

from hub import hookimpl
from hub.core import HubCore
from hub.db import transaction
from hub.ingest import ingest
from hub.models import Customer, CustomerIdentity

from .helpers import count, inbound, rows


async def test_an_address_is_known_as_one_customer(hub_core: HubCore) -> None:
    first = await ingest(hub_core, inbound("mo-1", sender="13800138000"))
    second = await ingest(hub_core, inbound("mo-2", sender="13800138000", thread="call-2"))

    assert second.customer_id == first.customer_id
    assert await count(hub_core, Customer) == 1
    identities = await rows(hub_core, CustomerIdentity)
    assert [(i.customer_id, i.kind, i.address) for i in identities] == [
        (first.customer_id, "sms", "13800138000")]


async def test_an_identity_cannot_belong_to_two_customers(hub_core: HubCore) -> None:
    async with transaction(hub_core.sessions) as s:
        one, two = Customer(name="one"), Customer(name="two")
        s.add_all([one, two])
        await s.flush()
        s.add(CustomerIdentity(customer_id=one.id, kind="phone", address="13800138000"))
    with pytest.raises(IntegrityError):
        async with transaction(hub_core.sessions) as s:
            s.add(CustomerIdentity(customer_id=two.id, kind="phone", address="13800138000"))


async def test_concurrent_first_contacts_make_one_customer_per_address(hub_core: HubCore) -> None:
    senders = ["13800000001", "13800000002"]
    results = await asyncio.gather(*(
        ingest(hub_core, inbound(f"mo-{n}", sender=senders[n % 2])) for n in range(20)
    ))

    assert await count(hub_core, Customer) == 2
    owners = {i.address: i.customer_id for i in await rows(hub_core, CustomerIdentity)}
    for n, result in enumerate(results):
        assert result.customer_id == owners[senders[n % 2]]


async def test_a_pre_chat_identity_links_to_the_existing_customer(hub_core: HubCore) -> None:
    call = await ingest(hub_core, inbound("mo-1", sender="13800138000", channel="voice"))
    chat = await ingest(hub_core, inbound(
        "web-1", channel="web", sender="visitor-7f3a", sender_name="Li Lei",
        identities=(("voice", "13800138000"), ("email", "lilei@example.com")),
    ))

    assert chat.customer_id == call.customer_id
    assert await count(hub_core, Customer) == 1
    known = {(i.kind, i.address) for i in await rows(hub_core, CustomerIdentity,
                                                     CustomerIdentity.customer_id == call.customer_id)}
    assert known == {("voice", "13800138000"), ("web", "visitor-7f3a"), ("email", "lilei@example.com")}


async def test_a_pre_chat_identity_of_nobody_makes_a_new_customer(hub_core: HubCore) -> None:
    chat = await ingest(hub_core, inbound("web-1", channel="web", sender="visitor-1",
                                          identities=(("phone", "13900000000"),)))

    owner = await rows(hub_core, CustomerIdentity, CustomerIdentity.address == "13900000000")
    assert [i.customer_id for i in owner] == [chat.customer_id]


class Billing:
    """A back-office adapter that knows callers by number."""

    def __init__(self, numbers: dict[str, int]) -> None:
        self.numbers = numbers
        self.asked: list[tuple[str, str]] = []

    @hookimpl
    async def hub_identify_customer(self, channel: str, address: str) -> int | None:
        self.asked.append((channel, address))
        return self.numbers.get(address)


async def test_the_identify_hook_answers_before_a_customer_is_created(
    database_url: str, make_hub: object
) -> None:
    billing = Billing({})
    core = await make_hub(database_url=database_url, plugins=[billing])  # type: ignore[operator]
    async with transaction(core.sessions) as s:
        known = Customer(name="Account 8812", tier="gold")
        s.add(known)
        await s.flush()
    billing.numbers["13800138000"] = known.id

    result = await ingest(core, inbound("mo-1", sender="13800138000"))
    stranger = await ingest(core, inbound("mo-2", sender="13911112222"))
    again = await ingest(core, inbound("mo-3", sender="13800138000"))

    assert result.customer_id == known.id
    assert stranger.customer_id != known.id
    assert again.customer_id == known.id
    assert billing.asked == [("sms", "13800138000"), ("sms", "13911112222")]
    assert await count(core, Customer) == 2
