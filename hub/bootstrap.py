"""Reference data every hub needs: the default queue, disposition categories, customer tiers,
and the reasons agents pick when they go busy or on leave."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import insert_for, transaction
from hub.models import CustomerTier, Disposition, Queue
from hub.plugins import call_register
from hub.routing.config import plugin_strategies
from hub.routing.state_reasons import ensure_reasons
from hub.tickets.defaults import ensure_ticket_defaults

if TYPE_CHECKING:
    from hub.core import HubCore

DEFAULT_DISPOSITIONS: list[tuple[str, str, str]] = [
    ("consult", "Consultation", "咨询"),
    ("query", "Query", "查询"),
    ("business", "Business acceptance", "业务受理"),
    ("complaint", "Complaint", "投诉"),
    ("suggestion", "Suggestion", "建议"),
    ("other", "Other", "其他"),
    ("timeout", "Closed after inactivity", "超时关闭"),
]

DEFAULT_TIERS: list[tuple[str, bool, str, str]] = [
    ("ordinary", False, "Ordinary", "普通"),
    ("silver", False, "Silver", "银卡"),
    ("gold", False, "Gold", "金卡"),
    ("diamond", True, "Diamond", "钻石"),
    ("platinum", True, "Platinum", "白金"),
]
"""Customer tiers by rank ascending, with whether they are VIP; added only to an empty table,
so an administrator's renames and removals survive restarts."""


async def load_reference_data(core: HubCore) -> None:
    """Add what is missing; never overwrite what admins have edited.

    Also checks the plugins' routing strategies, so a duplicate name stops start-up.
    """
    plugin_strategies(core.pm)
    rows = [(code, en, zh) for code, en, zh in DEFAULT_DISPOSITIONS]
    for _plugin, (code, labels) in call_register(core.pm, "hub_register_dispositions"):
        rows.append((code, labels.get("en", code), labels.get("zh_CN", "")))
    async with transaction(core.sessions) as s:
        for sort, (code, en, zh) in enumerate(rows):
            await s.execute(insert_for(s, Disposition).values(
                code=code, label_en=en, label_zh_cn=zh, sort=sort * 10, active=True,
            ).on_conflict_do_nothing(index_elements=["code"]))
        await s.execute(insert_for(s, Queue).values(name="default", title="Default", is_demo=False)
                        .on_conflict_do_nothing(index_elements=["name"]))
        await _seed_tiers(s)
    await ensure_reasons(core)
    await ensure_ticket_defaults(core)
    await core.refresh_queue_names()


async def _seed_tiers(s: AsyncSession) -> None:
    if (await s.execute(select(func.count()).select_from(CustomerTier))).scalar_one():
        return
    for rank, (name, vip, en, zh) in enumerate(DEFAULT_TIERS):
        await s.execute(insert_for(s, CustomerTier).values(
            name=name, rank=rank, vip=vip, label_en=en, label_zh_cn=zh,
        ).on_conflict_do_nothing(index_elements=["name"]))
