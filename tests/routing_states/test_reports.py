"""What the spans add up to: an agent's day for the status bar, and leaves and adjusts that
went on too long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from hub.routing.state_reasons import ensure_reasons
from hub.routing.state_reports import Overdue
from hub.routing.states import AgentState, AgentStates
from tests.routing_states.conftest import NewAgent

S = AgentState
SHANGHAI = timezone(timedelta(hours=8))


def at(hour: int, minute: int = 0, second: int = 0, day: int = 23) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


async def a_working_morning(states: AgentStates, agent: int) -> None:
    """Busy since last night; two contacts, the first with a hold and an automatic wrap-up."""
    steps = [
        (S.BUSY, "break", agent, None, at(23, day=22)),
        (S.IDLE, "", agent, None, at(8)),
        (S.OFFERED, "", None, 1, at(8, 10)),
        (S.ACTIVE, "", agent, None, at(8, 10, 10)),
        (S.HOLD, "", agent, None, at(8, 15)),
        (S.ACTIVE, "", agent, None, at(8, 16)),
        (S.WRAP_UP, "", None, None, at(8, 20)),
        (S.IDLE, "", None, None, at(8, 20, 30)),
        (S.OFFERED, "", None, 2, at(9)),
        (S.ACTIVE, "", agent, None, at(9, 0, 5)),
    ]
    for to, reason, by, interaction, when in steps:
        await states.change(agent, to, reason=reason, by=by, now=when, interaction_id=interaction)


async def test_today_sums_time_per_state_contacts_talk_and_wrap_up(
    states: AgentStates, new_agent: NewAgent
) -> None:
    agent = await new_agent()
    await a_working_morning(states, agent)

    day = await states.today(agent, now=at(9, 5))

    assert (day.state, day.since) == (S.ACTIVE, at(9, 0, 5))
    assert day.seconds == {S.BUSY: 8 * 3600, S.IDLE: 600 + 2370, S.OFFERED: 15, S.ACTIVE: 290 + 240 + 295,
                           S.HOLD: 60, S.WRAP_UP: 30}
    assert (day.contacts, day.talk_seconds, day.average_talk_seconds) == (2, 825, 412.5)
    assert (day.current_talk_seconds, day.wrap_up_seconds, day.missed_offers) == (295, 30, 0)


async def test_today_counts_missed_offers(states: AgentStates, new_agent: NewAgent) -> None:
    agent = await new_agent()
    await states.change(agent, S.IDLE, by=agent, now=at(8))
    for minute in (1, 3):
        await states.change(agent, S.OFFERED, now=at(8, minute), interaction_id=minute)
        await states.change(agent, S.BUSY, reason="missed_offer", now=at(8, minute, 20))
        await states.change(agent, S.IDLE, by=agent, now=at(8, minute + 1))

    assert (await states.today(agent, now=at(9))).missed_offers == 2


async def test_today_starts_at_midnight_where_the_caller_is(states: AgentStates, new_agent: NewAgent) -> None:
    agent = await new_agent()
    await a_working_morning(states, agent)

    day = await states.today(agent, now=at(9, 5).astimezone(SHANGHAI))

    assert day.seconds[S.BUSY] == 9 * 3600  # Shanghai's day began at 16:00 UTC the day before


async def test_today_of_an_agent_who_never_logged_in(states: AgentStates, new_agent: NewAgent) -> None:
    agent = await new_agent()

    day = await states.today(agent, now=at(9))

    assert (day.state, day.since, day.seconds, day.contacts, day.average_talk_seconds) == (
        S.LOGGED_OUT, None, {}, 0, 0.0)


async def test_today_after_logging_out(states: AgentStates, new_agent: NewAgent) -> None:
    agent = await new_agent()
    await states.change(agent, S.IDLE, by=agent, now=at(8))
    await states.change(agent, S.LOGGED_OUT, by=agent, now=at(8, 30))

    day = await states.today(agent, now=at(9))

    assert (day.state, day.seconds) == (S.LOGGED_OUT, {S.IDLE: 1800, S.LOGGED_OUT: 1800})


async def test_overdue_finds_leaves_past_their_limit_and_long_adjusts(
    states: AgentStates, new_agent: NewAgent
) -> None:
    await ensure_reasons(states.core, [{"state": "leave", "code": "exam", "label_en": "Exam"}])
    restroom, meal, adjust, back, exam = [await new_agent() for _ in range(5)]
    for agent in (restroom, meal, adjust, back, exam):
        await states.change(agent, S.IDLE, by=agent, now=at(9))
    await states.change(restroom, S.LEAVE, reason="restroom", by=restroom, now=at(10))
    await states.change(meal, S.LEAVE, reason="meal", by=meal, now=at(10))
    await states.change(adjust, S.ADJUST, by=adjust, now=at(10, 2))
    await states.change(back, S.LEAVE, reason="restroom", by=back, now=at(9, 40))
    await states.change(back, S.IDLE, by=back, now=at(9, 55))
    await states.change(exam, S.LEAVE, reason="exam", by=exam, now=at(9))

    assert await states.overdue(at(10, 5)) == []
    assert await states.overdue(at(10, 11)) == [
        Overdue(restroom, S.LEAVE, "restroom", at(10), 600, 60.0, ("agent", "supervisor")),
        Overdue(adjust, S.ADJUST, "", at(10, 2), 300, 240.0, ("supervisor",)),
    ]


@pytest.mark.parametrize("minutes", [10, 11])
async def test_a_leave_is_overdue_only_past_its_limit(
    states: AgentStates, new_agent: NewAgent, minutes: int
) -> None:
    agent = await new_agent()
    await states.change(agent, S.IDLE, by=agent, now=at(9))
    await states.change(agent, S.LEAVE, reason="restroom", by=agent, now=at(10))

    assert [o.agent_id for o in await states.overdue(at(10, minutes))] == ([agent] if minutes > 10 else [])
