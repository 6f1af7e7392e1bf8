"""The work-order reference data a new hub starts with: workflow templates, ticket types, the
category tree, the province centre unit and the default business calendar. Data an
administrator edits afterwards; seeding never overwrites it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import insert_for, transaction
from hub.models import BusinessCalendar, OrgUnit, TicketCategory, TicketType, WorkflowTemplate
from hub.models.base import utcnow

if TYPE_CHECKING:
    from hub.core import HubCore

CENTRE_UNIT = {"code": "centre", "kind": "province", "name": "Province centre", "region": ""}
"""The root of the organisation; ``OrgUnit`` has one name column, its Chinese name is 省客服中心."""

DEFAULT_CALENDAR: dict[str, Any] = {
    "timezone": "Asia/Shanghai",
    "hours": {day: [["08:00", "20:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
}
"""Every day 08:00-20:00. Operators' complaint back offices and repair teams work seven days a
week, so a Monday-Friday office calendar would let a Friday-evening complaint sleep until
Monday and hide real delays from the deadline alerts; 08:00-20:00 matches the staffed shifts.
Weekend working days (调休) then change nothing; statutory holidays are the operator's choice
each year, so none are preset: admins add them under ``holidays``."""


def _step(code: str, name_en: str, name_zh_cn: str, roles: list[str], units: list[str],
          minutes: int | None, next_: list[str], **flags: Any) -> dict[str, Any]:
    return {"code": code, "name_en": name_en, "name_zh_cn": name_zh_cn, "roles": roles,
            "units": units, "deadline_minutes": minutes, "next": next_,
            "return_to": flags.pop("return_to", []), "transfer": False, "dispatch": False,
            "final": False, "reopen": False, **flags}


def _close() -> dict[str, Any]:
    return _step("close", "Close", "结案", ["agent"], ["centre"], None, [], final=True)


STANDARD = [
    _step("accept", "Accept", "受理", ["agent"], ["centre"], 30, ["review"]),
    _step("review", "Review", "复核", ["supervisor"], ["centre"], 60, ["dispatch"], return_to=["accept"]),
    _step("dispatch", "Dispatch", "派单", ["supervisor"], ["centre"], 30, ["process"], dispatch=True),
    # Reopen lands here: the unit that handled the complaint processes it again.
    _step("process", "Process", "处理", ["agent"], ["owner"], 2880, ["reply"],
          return_to=["dispatch"], transfer=True, reopen=True),
    _step("reply", "Reply to customer", "回复客户", ["agent"], ["centre"], 240, ["feedback"],
          return_to=["process"]),
    _step("feedback", "Customer feedback", "客户评价", ["agent"], ["centre"], 1440, ["close"],
          return_to=["process"]),
    _close(),
]

FAULT = [
    _step("accept", "Accept", "受理", ["agent"], ["centre"], 10, ["dispatch"]),
    _step("dispatch", "Dispatch", "派单", ["agent"], ["centre"], 10, ["respond"], dispatch=True),
    # A reopened fault report is a fault again: the repair unit responds within 10 minutes.
    _step("respond", "Respond", "响应", ["agent"], ["owner"], 10, ["arrive"],
          return_to=["dispatch"], transfer=True, reopen=True),
    _step("arrive", "Arrive on site", "到场", ["agent"], ["owner"], 60, ["repair"]),
    _step("repair", "Repair", "修复", ["agent"], ["owner"], 1440, ["reply"], transfer=True),
    _step("reply", "Reply to customer", "回复客户", ["agent"], ["centre"], 60, ["close"],
          return_to=["repair"]),
    _close(),
]

SIMPLE = [
    _step("accept", "Accept", "受理", ["agent"], ["centre"], 30, ["process"]),
    # No dispatch: the centre processes, or the unit it transferred the ticket to.
    _step("process", "Process", "处理", ["agent"], ["centre", "owner"], 1440, ["reply"],
          return_to=["accept"], transfer=True),
    _step("reply", "Reply to customer", "回复客户", ["agent"], ["centre"], 240, ["close"],
          return_to=["process"]),
    _close(),
]

URGENCY = {"major_urgent": 25, "complex": 200}
"""A major, urgent complaint or appeal (重大紧急) gets a quarter of every deadline, a complex
one (疑难) twice the time; a general one the minutes as written."""

DEFAULT_TEMPLATES: list[dict[str, Any]] = [
    {"code": "standard", "name_en": "Standard work order", "name_zh_cn": "标准工单流程",
     "steps": STANDARD, "overall_minutes": 7200, "level_percent": URGENCY},
    {"code": "fault", "name_en": "Fault report", "name_zh_cn": "故障报修流程",
     "steps": FAULT, "overall_minutes": 2880},
    {"code": "simple", "name_en": "Simple work order", "name_zh_cn": "简易工单流程",
     "steps": SIMPLE, "overall_minutes": 2880},
]
"""``overall_minutes`` are business minutes: 7200 is ten 12-hour days of the default calendar."""

LEVELS = ["major_urgent", "general", "complex"]
COMPLAINT_KINDS = ["tariff", "service", "network", "business", "billing", "marketing", "other"]
APPEAL_SOURCES = ["supervision_hotline", "media", "consumer_association", "headquarters",
                  "regulator", "other"]

DEFAULT_TYPES: list[dict[str, Any]] = [
    {"code": "complaint", "name_en": "Complaint", "name_zh_cn": "投诉", "template": "standard",
     "fields": {"level": LEVELS, "kind": COMPLAINT_KINDS}, "links": ""},
    {"code": "appeal", "name_en": "Appeal", "name_zh_cn": "申诉", "template": "standard",
     "fields": {"level": LEVELS, "source": APPEAL_SOURCES}, "links": "complaint"},
    {"code": "suggestion", "name_en": "Suggestion", "name_zh_cn": "建议", "template": "simple",
     "fields": {"kind": ["product", "service", "network", "other"]}, "links": ""},
    {"code": "fault", "name_en": "Fault report", "name_zh_cn": "报障", "template": "fault",
     "fields": {"kind": ["mobile", "broadband", "fixed_line", "iptv", "other"]}, "links": ""},
    {"code": "business", "name_en": "Business acceptance", "name_zh_cn": "业务受理", "template": "simple",
     "fields": {}, "links": ""},
    {"code": "callback", "name_en": "Follow-up callback", "name_zh_cn": "回访", "template": "simple",
     "fields": {}, "links": ""},
]

DEFAULT_CATEGORIES: list[tuple[str, str, str, list[tuple[str, str, str]]]] = [
    ("network", "Network", "网络", [("signal", "Signal", "信号"), ("broadband", "Broadband", "宽带"),
                                   ("outage", "Outage", "故障中断")]),
    ("billing", "Billing", "计费", [("tariff", "Tariff", "资费"), ("charges", "Charges", "扣费")]),
    ("service", "Service", "服务", [("attitude", "Attitude", "服务态度"),
                                   ("efficiency", "Efficiency", "办理效率")]),
    ("business", "Business", "业务", [("change", "Change", "业务变更"), ("cancel", "Cancel", "业务退订")]),
]
"""(code, English, Chinese, children): the tree's two top levels."""


async def ensure_ticket_defaults(core: HubCore) -> None:
    """Add the defaults not stored yet, in one transaction; stored rows keep an administrator's
    edits. Categories go only into an empty table: a tree an administrator pruned stays pruned."""
    now = utcnow()
    async with transaction(core.sessions) as s:
        await _insert(s, WorkflowTemplate, [{"level_percent": {}, **row, "updated_at": now}
                                            for row in DEFAULT_TEMPLATES])
        await _insert(s, TicketType, [{**row, "active": True} for row in DEFAULT_TYPES])
        await _insert(s, OrgUnit, [{**CENTRE_UNIT, "parent_id": None, "active": True}])
        # Fault repair deadlines (10 minutes to respond, 60 to arrive) run day and night.
        await _insert(s, BusinessCalendar, [{"code": "default", "schedule": DEFAULT_CALENDAR},
                                            {"code": "fault", "schedule": {}}])
        await _seed_categories(s)


async def _insert(s: AsyncSession, table: Any, rows: list[dict[str, Any]]) -> None:
    await s.execute(insert_for(s, table).values(rows).on_conflict_do_nothing(index_elements=["code"]))


async def _seed_categories(s: AsyncSession) -> None:
    if (await s.execute(select(func.count()).select_from(TicketCategory))).scalar_one():
        return
    for code, name_en, name_zh_cn, children in DEFAULT_CATEGORIES:
        parent = TicketCategory(code=code, name_en=name_en, name_zh_cn=name_zh_cn)
        s.add(parent)
        await s.flush()
        s.add_all(TicketCategory(parent_id=parent.id, code=child, name_en=en, name_zh_cn=zh)
                  for child, en, zh in children)
