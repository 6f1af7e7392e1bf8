"""Reference data every hub needs: the default queue, disposition categories, and the
reasons agents pick when they go busy or on leave."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.db import insert_for, transaction
from hub.models import Disposition, Queue
from hub.plugins import call_register
from hub.routing.state_reasons import ensure_reasons

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


async def load_reference_data(core: HubCore) -> None:
    """Add what is missing; never overwrite what admins have edited."""
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
    await ensure_reasons(core)
    await core.refresh_queue_names()
