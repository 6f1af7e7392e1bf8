"""Deadlines are chased: a warning before a step's deadline, an urge and an escalation when
it passes — each exactly once, however many sweeps run and whatever dies on the way."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from hub.tickets import escalation
from tests.tickets.conftest import Province


async def heard(province: Province, topic: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    async def listener(_topic: str, payload: dict[str, Any]) -> None:
        seen.append(payload)

    province.core.bus.subscribe(topic, listener)
    return seen


async def test_the_owner_is_warned_before_the_step_deadline_once(province: Province) -> None:
    ticket = await province.complaint()
    unit = await heard(province, f"unit:{province.units['centre']}")
    assert ticket.step_due_at is not None
    almost = ticket.step_due_at - timedelta(minutes=1)
    first = await escalation.sweep(province.core, almost)
    again = await escalation.sweep(province.core, almost)
    assert (first.warned, again.warned) == ([ticket.id], [])
    assert [(m["type"], m["kind"]) for m in unit] == [("alert", "deadline_warning")]


async def test_a_passed_deadline_urges_and_escalates_once_with_sweeps_at_once(
    province: Province,
) -> None:
    ticket = await province.complaint()
    supervisors = await heard(province, "supervisors")
    assert ticket.step_due_at is not None
    late = ticket.step_due_at + timedelta(minutes=1)
    results = await asyncio.gather(*(escalation.sweep(province.core, late) for _ in range(3)))
    assert sorted(r.breached for r in results) == [[], [], [ticket.id]]
    assert (await province.ticket(ticket.id)).urge_count == 1
    assert [m["kind"] for m in supervisors] == ["step_overdue"]


async def test_a_sweep_that_dies_mid_breach_leaves_it_for_the_next(
    province: Province, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket = await province.complaint()
    assert ticket.step_due_at is not None
    late = ticket.step_due_at + timedelta(minutes=1)

    async def dies(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("worker lost")

    with monkeypatch.context() as patch:
        patch.setattr(escalation, "record_urge", dies)
        with pytest.raises(RuntimeError):
            await escalation.sweep(province.core, late)
    assert (await province.ticket(ticket.id)).urge_count == 0
    assert (await escalation.sweep(province.core, late)).breached == [ticket.id]
    assert (await province.ticket(ticket.id)).urge_count == 1


async def test_a_new_step_has_a_deadline_of_its_own(province: Province) -> None:
    ticket = await province.complaint()
    assert ticket.step_due_at is not None
    await escalation.sweep(province.core, ticket.step_due_at + timedelta(minutes=1))
    moved = await province.act("li", ticket, "advance")
    assert moved.step_due_at is not None and moved.step_due_at > ticket.step_due_at
    result = await escalation.sweep(province.core, moved.step_due_at + timedelta(minutes=1))
    assert result.breached == [ticket.id]
    assert (await province.ticket(ticket.id)).urge_count == 2


async def test_a_ticket_past_its_overall_deadline_is_escalated_once(province: Province) -> None:
    ticket = await province.complaint()
    assert ticket.due_at is not None
    after = ticket.due_at + timedelta(minutes=1)
    assert (await escalation.sweep(province.core, after)).overdue == [ticket.id]
    assert (await escalation.sweep(province.core, after)).overdue == []
