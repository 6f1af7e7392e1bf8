"""A complaint's life: taken in a chat, reviewed and dispatched by the centre, processed by a
county department, answered on the chat, rated by the customer, closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hub.errors import InvalidRequest
from hub.history import messages_after
from hub.models import TicketAction
from hub.tickets import org, service, views
from hub.tickets.deadlines import add_business_minutes
from hub.tickets.reply import reply_to_customer
from tests.tickets.conftest import Province


async def timeline(province: Province, ticket_id: int | None) -> list[tuple[str, str, str]]:
    async with province.core.sessions() as s:
        rows = (
            await s.execute(
                select(TicketAction).where(TicketAction.ticket_id == ticket_id).order_by(TicketAction.id)
            )
        ).scalars()  # type: ignore[arg-type]
        return [(a.action, a.from_step, a.to_step) for a in rows]


async def test_a_complaint_from_a_chat_carries_the_customer_channel_and_phone(province: Province) -> None:
    ticket = await province.complaint()
    assert (ticket.type, ticket.step, ticket.status, ticket.channel) == (
        "complaint",
        "accept",
        "open",
        "chat",
    )
    assert ticket.customer_id is not None and ticket.phone == "13800138001"
    assert ticket.owner_unit_id == province.units["centre"]
    assert ticket.number.startswith("T") and ticket.step_due_at is not None and ticket.due_at is not None
    assert await timeline(province, ticket.id) == [("create", "", "accept")]


async def test_the_whole_way_from_chat_to_a_rated_close(province: Province) -> None:
    ticket = await province.complaint()
    ticket = await province.act("li", ticket, "advance")
    assert ticket.step == "review"
    ticket = await province.act("zhang", ticket, "advance")
    assert ticket.step == "dispatch"
    ticket = await province.act("zhang", ticket, "advance", to_unit=province.units["nanshan-network"])
    assert (ticket.step, ticket.owner_unit_id) == ("process", province.units["nanshan-network"])
    ticket = await province.act("chen", ticket, "advance", opinion="replaced the faulty splitter")
    assert ticket.step == "reply"

    await reply_to_customer(
        province.core,
        ticket,
        province.people["li"],
        "We replaced a faulty splitter.",
        client_id=f"t{ticket.id}",
    )
    async with province.core.sessions() as s:
        sent = await messages_after(s, ticket.interaction_id or 0, 0, limit=10)
    assert sent[-1]["text"] == "We replaced a faulty splitter." and sent[-1]["direction"] == "out"

    ticket = await province.act("li", ticket, "advance")
    assert ticket.step == "feedback"
    ticket = await service.feedback(province.core, province.people["li"], int(ticket.id or 0), 5)
    assert ticket.satisfaction == 5
    ticket = await province.act("li", ticket, "advance")
    ticket = await province.act("li", ticket, "close")
    assert ticket.status == "closed" and ticket.closed_at is not None
    actions = [a for a, _f, _t in await timeline(province, ticket.id)]
    assert actions == [
        "create",
        "advance",
        "advance",
        "dispatch",
        "advance",
        "advance",
        "comment",
        "advance",
        "close",
    ]


async def test_a_department_returns_a_misdispatched_ticket_with_a_reason(
    province: Province,
) -> None:
    ticket = await province.complaint()
    for who, kwargs in [("li", {}), ("zhang", {}), ("zhang", {"to_unit": province.units["nanshan-network"]})]:
        ticket = await province.act(who, ticket, "advance", **kwargs)
    with pytest.raises(InvalidRequest) as missing:
        await province.act("chen", ticket, "return", to_step="dispatch")
    assert missing.value.error_id == "reason_required"
    ticket = await province.act(
        "chen", ticket, "return", to_step="dispatch", opinion="the address is in Futian"
    )
    assert (ticket.step, ticket.owner_unit_id) == ("dispatch", province.units["centre"])


async def test_another_countys_staff_cannot_process_it(province: Province) -> None:
    ticket = await province.complaint()
    for who, kwargs in [("li", {}), ("zhang", {}), ("zhang", {"to_unit": province.units["nanshan-network"]})]:
        ticket = await province.act(who, ticket, "advance", **kwargs)
    with pytest.raises(InvalidRequest) as refused:
        await province.act("wu", ticket, "advance")
    assert refused.value.error_id == "not_allowed"


async def test_an_action_on_a_stale_view_is_refused(province: Province) -> None:
    ticket = await province.complaint()
    seen = ticket.version
    await province.act("li", ticket, "advance")
    with pytest.raises(InvalidRequest) as stale:
        await province.act("zhang", ticket, "advance", version=seen)
    assert stale.value.error_id == "ticket_changed"


async def test_an_appeal_must_name_the_complaint_it_appeals(province: Province) -> None:
    complaint = await province.complaint()
    with pytest.raises(InvalidRequest) as unlinked:
        await service.create(
            province.core,
            province.people["li"],
            service.NewTicket(type="appeal", title="Still no broadband", customer_id=complaint.customer_id),
        )
    assert unlinked.value.error_id == "link_required"
    appeal = await service.create(
        province.core,
        province.people["li"],
        service.NewTicket(
            type="appeal",
            title="Still no broadband",
            customer_id=complaint.customer_id,
            linked_ticket_id=complaint.id,
        ),
    )
    assert appeal.linked_ticket_id == complaint.id


async def test_urging_by_hand_counts_and_is_on_the_timeline(province: Province) -> None:
    ticket = await province.complaint()
    ticket = await service.urge(
        province.core, province.people["li"], int(ticket.id or 0), "customer called again"
    )
    assert ticket.urge_count == 1
    assert ("urge", "accept", "accept") in await timeline(province, ticket.id)


async def test_the_customers_open_and_recent_tickets_show_beside_a_conversation(
    province: Province,
) -> None:
    first = await province.complaint()
    items = await views.customer_tickets(province.core, first.customer_id or 0)
    assert [t["id"] for t in items] == [first.id]
    assert items[0]["step_due_at"] is not None


async def test_a_fault_reports_deadlines_run_day_and_night_and_a_complaints_in_working_hours(
    province: Province,
) -> None:
    night = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai
    async with province.core.sessions() as s:
        fault, standard = await org.calendar(s, "fault"), await org.calendar(s, "standard")
    assert add_business_minutes(night, 60, fault) == night + timedelta(minutes=60)
    assert add_business_minutes(night, 60, standard) == datetime(2026, 12, 2, 1, 0, tzinfo=UTC)  # 09:00


async def test_a_major_urgent_complaint_has_a_quarter_of_the_time_at_every_step(province: Province) -> None:
    general = await province.complaint()
    urgent = await province.complaint(level="major_urgent")
    async with province.core.sessions() as s:
        calendar = await org.calendar(s, "standard")
    # Accept: 30 business minutes as written, a quarter for a major, urgent complaint.
    assert general.step_due_at == add_business_minutes(general.step_started_at, 30, calendar)
    assert urgent.step_due_at == add_business_minutes(urgent.step_started_at, 8, calendar)
    assert urgent.due_at == add_business_minutes(urgent.created_at, 1800, calendar)
    urgent = await province.act("li", urgent, "advance")  # to review: 60 minutes, a quarter
    assert urgent.step_due_at == add_business_minutes(urgent.step_started_at, 15, calendar)


async def test_a_reopened_case_leaves_the_case_library(province: Province) -> None:
    ticket = await province.complaint()
    steps = [
        ("li", {}),
        ("zhang", {}),
        ("zhang", {"to_unit": province.units["nanshan-network"]}),
        ("chen", {}),
        ("li", {}),
        ("li", {}),
    ]
    for who, kwargs in steps:
        ticket = await province.act(who, ticket, "advance", **kwargs)
    ticket = await province.act("li", ticket, "close")
    await service.mark_case(province.core, province.people["zhang"], int(ticket.id or 0), True)
    ticket = await province.act("zhang", ticket, "reopen", opinion="the line drops again")
    assert (ticket.status, ticket.is_case) == ("open", False)
