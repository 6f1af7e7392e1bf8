"""The busy reasons and leave categories a new hub starts with; data an administrator edits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from hub.db import dialect_insert, transaction
from hub.models import StateReason

if TYPE_CHECKING:
    from hub.core import HubCore

DEFAULT_REASONS: list[dict[str, Any]] = [
    {"state": "busy", "code": "break", "label_en": "Short break", "label_zh_cn": "小休", "sort": 1},
    {"state": "busy", "code": "meeting", "label_en": "Meeting", "label_zh_cn": "会议", "sort": 2},
    {"state": "busy", "code": "missed_offer", "label_en": "Missed offer", "label_zh_cn": "未接来电",
     "sort": 3},
    {"state": "busy", "code": "other", "label_en": "Other", "label_zh_cn": "其他", "sort": 9},
    {"state": "leave", "code": "restroom", "label_en": "Restroom", "label_zh_cn": "如厕",
     "limit_minutes": 10, "sort": 1},
    {"state": "leave", "code": "meal", "label_en": "Meal", "label_zh_cn": "用餐",
     "limit_minutes": 30, "sort": 2},
    {"state": "leave", "code": "personal", "label_en": "Personal", "label_zh_cn": "事假",
     "limit_minutes": 60, "sort": 3},
]


async def ensure_reasons(core: HubCore, reasons: list[dict[str, Any]] | None = None) -> None:
    """Add the reasons not stored yet; stored ones keep an administrator's edits."""
    rows = [{"limit_minutes": None, "active": True, **row} for row in reasons or DEFAULT_REASONS]
    async with transaction(core.sessions) as s:
        insert = dialect_insert(s.bind.dialect.name, StateReason)
        await s.execute(insert.values(rows).on_conflict_do_nothing())


async def reasons_for(core: HubCore, state: str) -> list[StateReason]:
    """The active reasons an agent may pick for ``state`` (busy or leave), in menu order."""
    query = (select(StateReason).where(StateReason.state == state, StateReason.active)
             .order_by(StateReason.sort, StateReason.code))  # type: ignore[arg-type]
    async with core.sessions() as s:
        return list((await s.execute(query)).scalars())
