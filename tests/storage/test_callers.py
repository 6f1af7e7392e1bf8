"""Who is calling: a number resolves to its customer, tier, region, blocklist entry and the
outages in its region, whichever way the number was written when it was stored."""

from __future__ import annotations

import pytest

from hub.core import HubCore
from hub.db import transaction
from hub.models import BlockedAddress, Customer, CustomerIdentity, CustomerTier, Outage, RegionPrefix


async def add(core: HubCore, *rows: object) -> None:
    async with transaction(core.sessions) as s:
        for row in rows:
            s.add(row)


async def customer(core: HubCore, number: str, *, tier: str = "ordinary", region: str = "") -> int:
    async with transaction(core.sessions) as s:
        row = Customer(name="Wang Fang", tier=tier, region=region)
        s.add(row)
        await s.flush()
        s.add(CustomerIdentity(customer_id=row.id, kind="phone", address=number))
        return int(row.id or 0)


@pytest.mark.parametrize("calling", ["+8613800138000", "13800138000", "008613800138000", "+86 138-0013-8000"])
async def test_a_known_number_is_its_customer_however_it_is_written(hub_core: HubCore, calling: str) -> None:
    await add(hub_core, CustomerTier(name="board", rank=9, vip=True, label_en="Board member"))
    known = await customer(hub_core, "13800138000", tier="board", region="guangdong/shenzhen")
    caller = await hub_core.facade("voice").caller(calling)
    assert (caller["customer_id"], caller["name"], caller["tier"], caller["vip"]) == (
        known, "Wang Fang", "board", True)
    assert caller["region"] == "guangdong/shenzhen" and caller["blocked"] is False


async def test_a_stranger_gets_the_region_of_the_numbers_prefix(hub_core: HubCore) -> None:
    await add(hub_core, RegionPrefix(prefix="0755", region="guangdong/shenzhen"),
              RegionPrefix(prefix="075586", region="guangdong/shenzhen/nanshan"))
    caller = await hub_core.facade("voice").caller("+86 755 8612 3456")
    assert caller["customer_id"] is None and caller["tier"] == "ordinary" and not caller["vip"]
    assert caller["region"] == "guangdong/shenzhen/nanshan", "the longest prefix wins"


async def test_a_blocklisted_number_is_said_to_be_blocked(hub_core: HubCore) -> None:
    await add(hub_core, BlockedAddress(kind="phone", address="+8613900000000", reason="abuse"))
    assert (await hub_core.facade("voice").caller("13900000000"))["blocked"] is True
    assert (await hub_core.facade("voice").caller("13900000001"))["blocked"] is False


async def test_the_ongoing_outages_of_the_callers_region_are_told(hub_core: HubCore) -> None:
    from datetime import UTC, datetime

    await customer(hub_core, "13800138000", region="guangdong/shenzhen/nanshan")
    await add(hub_core,
              Outage(region="guangdong/shenzhen", service="broadband",
                     wording="Broadband is down in Shenzhen."),
              Outage(region="beijing", service="tv", wording="TV is down in Beijing."),
              Outage(region="guangdong", service="tv", wording="Over.", ended_at=datetime.now(UTC)))
    caller = await hub_core.facade("voice").caller("13800138000")
    assert caller["outages"] == ["Broadband is down in Shenzhen."]
