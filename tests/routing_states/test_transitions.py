"""Every legal move is recorded as a span with a start and an end; illegal ones are refused
with a stable error id and leave no trace."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from hub.core import HubCore
from hub.db import transaction
from hub.errors import InvalidRequest
from hub.models import AgentRole, AgentStateSpan
from hub.routing.states import (
    TRANSITIONS,
    AgentState,
    AgentStates,
    Mover,
    StatePolicy,
    check_transition,
    may_receive_offers,
)
from tests.routing_states.conftest import Clock, NewAgent
from tests.storage.helpers import rows

S = AgentState
INTERACTION = 41
# How to bring a fresh agent into each state: (state, reason, by the hub?) steps from logged out.
PATHS: dict[AgentState, list[tuple[AgentState, str, bool]]] = {
    S.LOGGED_OUT: [],
    S.IDLE: [(S.IDLE, "", False)],
    S.BUSY: [(S.BUSY, "break", False)],
    S.OFFERED: [(S.IDLE, "", False), (S.OFFERED, "", True)],
    S.ACTIVE: [(S.IDLE, "", False), (S.OFFERED, "", True), (S.ACTIVE, "", False)],
    S.HOLD: [(S.IDLE, "", False), (S.OFFERED, "", True), (S.ACTIVE, "", False), (S.HOLD, "", False)],
    S.WRAP_UP: [(S.IDLE, "", False), (S.ACTIVE, "", False), (S.WRAP_UP, "", False)],
    S.ADJUST: [(S.IDLE, "", False), (S.ADJUST, "", False)],
    S.LEAVE: [(S.IDLE, "", False), (S.LEAVE, "meal", False)],
    S.STUDY: [(S.IDLE, "", False), (S.STUDY, "", False)],
    S.HANDOVER: [(S.IDLE, "", False), (S.HANDOVER, "", False)],
}
REASONS = {S.BUSY: "break", S.LEAVE: "meal"}


async def bring(states: AgentStates, agent_id: int, state: AgentState, clock: Clock) -> None:
    for target, reason, by_hub in PATHS[state]:
        await states.change(agent_id, target, reason=reason, by=None if by_hub else agent_id,
                            now=clock.tick(), interaction_id=INTERACTION)


async def spans_of(core: HubCore, agent_id: int) -> list[AgentStateSpan]:
    return await rows(core, AgentStateSpan, AgentStateSpan.agent_id == agent_id,
                      order_by=AgentStateSpan.started_at)


async def refused(states: AgentStates, agent_id: int, to: AgentState, **kwargs: Any) -> str:
    with pytest.raises(InvalidRequest) as caught:
        await states.change(agent_id, to, **kwargs)
    return caught.value.error_id


def test_only_an_idle_agent_receives_offers() -> None:
    assert [state for state in AgentState if may_receive_offers(state)] == [S.IDLE]


def test_the_table_reaches_every_state_and_leaves_every_state() -> None:
    assert {target for _, target in TRANSITIONS} == set(AgentState)
    assert {source for source, _ in TRANSITIONS} == set(AgentState)
    assert all(TRANSITIONS[(state, S.LOGGED_OUT)] >= {Mover.SUPERVISOR, Mover.HUB}
               for state in AgentState if state != S.LOGGED_OUT)


async def test_every_legal_transition_is_recorded_with_start_and_end(
    hub_core: HubCore, states: AgentStates, new_agent: NewAgent, clock: Clock
) -> None:
    supervisor = await new_agent(AgentRole.SUPERVISOR)
    for (source, target), movers in sorted(TRANSITIONS.items()):
        for mover in sorted(movers):
            agent = await new_agent()
            await bring(states, agent, source, clock)
            by = {Mover.AGENT: agent, Mover.SUPERVISOR: supervisor, Mover.HUB: None}[mover]
            at = clock.tick()

            change = await states.change(agent, target, reason=REASONS.get(target, ""), by=by, now=at,
                                         interaction_id=INTERACTION)

            spans = await spans_of(hub_core, agent)
            label = f"{source} -> {target} by {mover}"
            assert (change.event.from_state, change.event.to_state, change.event.by) == (source, target, by)
            assert [(s.state, s.started_at, s.ended_at) for s in spans[-2 if PATHS[source] else -1:]] == [
                *([(source, spans[-2].started_at, at)] if PATHS[source] else []), (target, at, None)
            ], label
            assert spans[-1].changed_by == by, label
            assert [s.ended_at for s in spans].count(None) == 1, label


async def test_a_span_ends_exactly_when_the_next_begins(
    hub_core: HubCore, states: AgentStates, new_agent: NewAgent, clock: Clock
) -> None:
    agent = await new_agent()
    await bring(states, agent, S.HOLD, clock)
    await states.change(agent, S.ACTIVE, by=agent, now=clock.tick())
    await states.change(agent, S.LOGGED_OUT, by=None, now=clock.tick())
    await states.change(agent, S.IDLE, by=agent, now=clock.tick())

    spans = await spans_of(hub_core, agent)
    assert [s.state for s in spans] == ["idle", "offered", "active", "hold", "active", "logged_out", "idle"]
    assert all(a.ended_at == b.started_at for a, b in itertools.pairwise(spans))
    assert [s.interaction_id for s in spans] == [None, *[INTERACTION] * 4, None, None]


@pytest.mark.parametrize(("path_to", "target", "kwargs", "error_id"), [
    (S.LOGGED_OUT, S.ACTIVE, {"interaction_id": 1}, "illegal_transition"),
    (S.LOGGED_OUT, S.LOGGED_OUT, {}, "illegal_transition"),
    (S.IDLE, S.IDLE, {}, "illegal_transition"),
    (S.LEAVE, S.STUDY, {}, "illegal_transition"),
    (S.ACTIVE, S.OFFERED, {}, "illegal_transition"),
    (S.IDLE, S.OFFERED, {"interaction_id": 1}, "transition_not_allowed"),
    (S.OFFERED, S.IDLE, {}, "transition_not_allowed"),
    (S.ACTIVE, S.LOGGED_OUT, {}, "transition_not_allowed"),
    (S.IDLE, S.BUSY, {}, "reason_required"),
    (S.IDLE, S.BUSY, {"reason": "napping"}, "unknown_reason"),
    (S.IDLE, S.LEAVE, {"reason": "break"}, "unknown_reason"),
    (S.IDLE, S.ACTIVE, {}, "interaction_required"),
    (S.IDLE, S.BUSY, {"reason": "break", "expect": S.BUSY}, "state_changed"),
])
async def test_illegal_moves_are_refused_with_an_error_id_and_leave_no_trace(
    hub_core: HubCore, states: AgentStates, new_agent: NewAgent, clock: Clock,
    path_to: AgentState, target: AgentState, kwargs: dict[str, Any], error_id: str,
) -> None:
    agent = await new_agent()
    await bring(states, agent, path_to, clock)
    before = await spans_of(hub_core, agent)

    assert await refused(states, agent, target, by=agent, now=clock.tick(), **kwargs) == error_id
    assert await spans_of(hub_core, agent) == before


async def test_an_inactive_reason_is_refused(
    hub_core: HubCore, states: AgentStates, new_agent: NewAgent, clock: Clock
) -> None:
    from sqlalchemy import update

    from hub.models import StateReason

    async with transaction(hub_core.sessions) as s:
        await s.execute(update(StateReason).where(StateReason.code == "meeting").values(active=False))
    agent = await new_agent()

    error_id = await refused(states, agent, S.BUSY, reason="meeting", by=agent, now=clock.tick())
    assert error_id == "unknown_reason"


async def test_the_hub_sets_busy_with_a_reason_of_its_own(
    states: AgentStates, new_agent: NewAgent, clock: Clock
) -> None:
    agent = await new_agent()
    await bring(states, agent, S.OFFERED, clock)

    change = await states.change(agent, S.BUSY, reason="missed_offer", now=clock.tick())

    assert (change.event.to_state, change.event.reason, change.event.by) == (S.BUSY, "missed_offer", None)
    assert await refused(states, agent, S.IDLE, by=None, now=clock.tick()) == "transition_not_allowed"


async def test_manual_wrap_up_needs_permission(hub_core: HubCore, new_agent: NewAgent, clock: Clock) -> None:
    strict = AgentStates(hub_core)
    agent = await new_agent()
    supervisor = await new_agent(AgentRole.SUPERVISOR)
    await strict.change(agent, S.IDLE, by=agent, now=clock.tick())

    assert await refused(strict, agent, S.WRAP_UP, by=agent, now=clock.tick()) == "wrap_up_not_permitted"
    change = await strict.change(agent, S.WRAP_UP, by=supervisor, now=clock.tick())
    assert (change.event.reason, change.due) == ("manual", None)


def test_check_transition_is_pure() -> None:
    check_transition(S.IDLE, S.OFFERED, Mover.HUB)
    with pytest.raises(InvalidRequest, match="cannot go from study to leave"):
        check_transition(S.STUDY, S.LEAVE, Mover.AGENT)


async def test_unknown_agents_are_not_found(states: AgentStates, new_agent: NewAgent, clock: Clock) -> None:
    agent = await new_agent()

    assert await refused(states, 999, S.IDLE, by=999, now=clock.tick()) == "not_found"
    assert await refused(states, agent, S.IDLE, by=998, now=clock.tick()) == "not_found"


async def test_the_database_refuses_a_second_open_span(hub_core: HubCore, new_agent: NewAgent) -> None:
    agent = await new_agent()
    at = datetime.now().astimezone()
    async with transaction(hub_core.sessions) as s:
        s.add(AgentStateSpan(agent_id=agent, state=S.IDLE, started_at=at))

    with pytest.raises(IntegrityError):
        async with transaction(hub_core.sessions) as s:
            s.add(AgentStateSpan(agent_id=agent, state=S.BUSY, reason="break", started_at=at))
    assert len(await spans_of(hub_core, agent)) == 1


def test_default_policy() -> None:
    assert StatePolicy().manual_wrap_up is False
