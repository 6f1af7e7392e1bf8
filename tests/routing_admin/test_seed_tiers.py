"""A starting hub adds the default customer tiers to an empty table, and only then."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import delete, select

from hub.bootstrap import DEFAULT_TIERS
from hub.core import HubCore
from hub.db import transaction
from hub.models import CustomerTier
from hub.routing import model

MakeHub = Callable[..., Awaitable[HubCore]]


async def stored(core: HubCore) -> list[tuple[str, int, bool, str, str]]:
    async with core.sessions() as s:
        rows = (await s.execute(select(CustomerTier).order_by(CustomerTier.rank))).scalars()
        return [(t.name, t.rank, t.vip, t.label_en, t.label_zh_cn) for t in rows]


async def test_the_default_tiers_are_seeded_by_rank(hub_core: HubCore) -> None:
    assert await stored(hub_core) == [
        ("ordinary", 0, False, "Ordinary", "普通"), ("silver", 1, False, "Silver", "银卡"),
        ("gold", 2, False, "Gold", "金卡"), ("diamond", 3, True, "Diamond", "钻石"),
        ("platinum", 4, True, "Platinum", "白金")]
    assert tuple(name for name, *_ in DEFAULT_TIERS) == model.DEFAULT_TIERS, "the engine's default order"


async def test_a_restart_keeps_an_admins_tiers(database_url: str, make_hub: MakeHub) -> None:
    first = await make_hub(database_url=database_url)
    async with transaction(first.sessions) as s:
        await s.execute(delete(CustomerTier).where(CustomerTier.name != "gold"))
        gold = await s.get(CustomerTier, "gold")
        assert gold is not None
        gold.label_en = "Gold member"
    again = await make_hub(database_url=database_url)
    assert await stored(again) == [("gold", 2, False, "Gold member", "金卡")]
