"""The agent-state service: races, supervisors forcing states, wrap-up, hand-over, events."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from hub.db import transaction
from hub.errors import InvalidRequest
from hub.events import AgentStateEvent
from hub.hookspecs import hookimpl
from hub.models import AgentRole, AgentStateSpan, StateReason
from hub.routing.state_reasons import ensure_reasons, reasons_for
from hub.routing.states import AgentState, AgentStates, Current
from tests.conftest import MakeHub
from tests.routing_states.conftest import Clock, NewAgent, add_agent
from tests.routing_states.test_transitions import INTERACTION, bring, refused, spans_of
from tests.storage.helpers import rows

S = AgentState


async def test_concurrent_changes_for_one_agent_never_leave_two_open_spans(
    hub_core: Any, states: AgentStates, new_agent: NewAgent
) -> None:
    agent = await new_agent()
    await states.change(agent, S.IDLE, by=agent)
    moves = [(S.BUSY, "break"), (S.LEAVE, "meal"), (S.STUDY, ""), (S.ADJUST, ""), (S.BUSY, "meeting")] * 4

    changes = (states.change(agent, to, reason=reason, by=agent) for to, reason in moves)
    results = await asyncio.gather(*changes, return_exceptions=True)

    refusals = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(r, InvalidRequest) for r in refusals), refusals
    spans = await spans_of(hub_core, agent)
    assert [s.ended_at for s in spans].count(None) == 1
    assert len(spans) == 1 + len(results) - len(refusals)
    assert all(a.ended_at == b.started_at for a, b in itertools.pairwise(spans))


async def test_concurrent_logins_open_one_span(
    hub_core: Any, states: AgentStates, new_agent: NewAgent
) -> None:
    agent = await new_agent()

    results = await asyncio.gather(*(states.change(agent, S.IDLE, by=agent) for _ in range(6)),
                                   return_exceptions=True)

    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert {r.error_id for r in results if isinstance(r, InvalidRequest)} <= {"illegal_transition",
                                                                              "state_conflict"}
    assert [s.state for s in await spans_of(hub_core, agent)] == ["idle"]


@pytest.mark.parametrize(("start", "target", "reason"), [
    (S.BUSY, S.IDLE, ""),  # force idle
    (S.WRAP_UP, S.IDLE, ""),
    (S.LEAVE, S.IDLE, ""),
    (S.IDLE, S.BUSY, "meeting"),  # force busy
    (S.STUDY, S.BUSY, "meeting"),
    (S.ACTIVE, S.LOGGED_OUT, ""),  # force logout
    (S.HANDOVER, S.LOGGED_OUT, ""),
])
async def test_a_supervisor_forces_idle_busy_and_logout(
    states: AgentStates, new_agent: NewAgent, clock: Clock, start: AgentState, target: AgentState, reason: str
) -> None:
    agent, peer = await new_agent(), await new_agent()
    supervisor = await new_agent(AgentRole.SUPERVISOR)
    await bring(states, agent, start, clock)

    assert await refused(states, agent, target, reason=reason, by=peer, now=clock.tick()) == "forbidden"
    change = await states.change(agent, target, reason=reason, by=supervisor, now=clock.tick())

    assert (change.event.from_state, change.event.to_state, change.event.by) == (start, target, supervisor)
    assert (await states.current(agent)).state == target


async def test_an_admin_may_force_too_but_nobody_forces_a_contact(
    states: AgentStates, new_agent: NewAgent, clock: Clock
) -> None:
    agent, admin = await new_agent(), await new_agent(AgentRole.ADMIN)
    await bring(states, agent, S.ACTIVE, clock)

    assert await refused(states, agent, S.IDLE, by=admin, now=clock.tick()) == "transition_not_allowed"
    assert await refused(states, agent, S.HOLD, by=admin, now=clock.tick()) == "transition_not_allowed"
    await states.change(agent, S.LOGGED_OUT, by=admin, now=clock.tick())


async def test_a_supervisor_sets_their_own_state_as_an_agent(
    states: AgentStates, new_agent: NewAgent, clock: Clock
) -> None:
    supervisor = await new_agent(AgentRole.SUPERVISOR)
    await states.change(supervisor, S.IDLE, by=supervisor, now=clock.tick())

    assert await refused(states, supervisor, S.OFFERED, by=supervisor, now=clock.tick(),
                         interaction_id=1) == "transition_not_allowed"


async def test_wrap_up_after_a_contact_ends_by_itself_at_its_due_time(
    states: AgentStates, new_agent: NewAgent, clock: Clock
) -> None:
    agent = await new_agent()
    await bring(states, agent, S.ACTIVE, clock)
    at = clock.tick()

    wrap_up = await states.change(agent, S.WRAP_UP, now=at)

    assert (wrap_up.event.reason, wrap_up.event.interaction_id, wrap_up.due) == (
        "auto", INTERACTION, at + timedelta(seconds=30))
    assert await states.wrap_ups_due(at + timedelta(seconds=29)) == []
    assert [c.agent_id for c in await states.wrap_ups_due(at + timedelta(seconds=30))] == [agent]
    ended = await states.end_wrap_up(agent, wrap_up.span_id, now=wrap_up.due)
    assert ended is not None and (ended.event.to_state, ended.event.by) == (S.IDLE, None)
    assert await states.end_wrap_up(agent, wrap_up.span_id, now=clock.tick()) is None


async def test_wrap_up_ended_early_by_the_agent_is_not_ended_again(
    states: AgentStates, new_agent: NewAgent, clock: Clock
) -> None:
    agent = await new_agent()
    await bring(states, agent, S.ACTIVE, clock)
    first = await states.change(agent, S.WRAP_UP, by=agent, now=clock.tick())
    await states.change(agent, S.IDLE, by=agent, now=clock.tick(5))
    await states.change(agent, S.ACTIVE, by=agent, now=clock.tick(5), interaction_id=42)
    second = await states.change(agent, S.WRAP_UP, by=agent, now=clock.tick(5))

    assert await states.end_wrap_up(agent, first.span_id, now=first.due) is None
    assert (await states.current(agent)).span_id == second.span_id


async def test_hand_over_signs_out_and_in_without_logging_out(
    hub_core: Any, states: AgentStates, new_agent: NewAgent, clock: Clock
) -> None:
    agent = await new_agent()
    await bring(states, agent, S.IDLE, clock)

    await states.change(agent, S.HANDOVER, by=agent, now=clock.tick())
    assert await refused(states, agent, S.OFFERED, by=None, now=clock.tick(),
                         interaction_id=1) == "illegal_transition"
    await states.change(agent, S.IDLE, by=agent, now=clock.tick())

    assert [s.state for s in await spans_of(hub_core, agent)] == ["idle", "handover", "idle"]


async def test_current_and_everyone(states: AgentStates, new_agent: NewAgent, clock: Clock) -> None:
    never, agent = await new_agent(), await new_agent()
    await bring(states, agent, S.LEAVE, clock)

    assert await states.current(never) == Current(never, S.LOGGED_OUT)
    now = await states.current(agent)
    assert (now.state, now.reason, now.since) == (S.LEAVE, "meal", clock.now)
    assert await states.everyone() == {agent: now}


class Watcher:
    def __init__(self) -> None:
        self.seen: list[AgentStateEvent] = []

    @hookimpl
    async def hub_on_agent_state(self, event: AgentStateEvent) -> None:
        self.seen.append(event)


async def test_every_change_reaches_plugins_and_the_bus(
    database_url: str, make_hub: MakeHub, clock: Clock
) -> None:
    watcher = Watcher()
    core = await make_hub(database_url=database_url, plugins=[watcher])
    await ensure_reasons(core)
    live: list[dict[str, Any]] = []

    async def listener(topic: str, payload: dict[str, Any]) -> None:
        live.append(payload)

    core.bus.subscribe("agent-states", listener)
    states = AgentStates(core)
    agent = await add_agent(core)
    await bring(states, agent, S.OFFERED, clock)
    await states.change(agent, S.BUSY, reason="missed_offer", now=clock.tick())
    with pytest.raises(InvalidRequest):
        await states.change(agent, S.BUSY, by=agent, now=clock.tick())

    assert [(e.from_state, e.to_state, e.reason, e.by) for e in watcher.seen] == [
        ("logged_out", "idle", "", agent), ("idle", "offered", "", None),
        ("offered", "busy", "missed_offer", None)]
    assert [(p["to_state"], p["at"]) for p in live] == [(e.to_state, e.at.isoformat()) for e in watcher.seen]
    assert watcher.seen[1].interaction_id == INTERACTION


async def test_spans_survive_a_restart(database_url: str, make_hub: MakeHub, clock: Clock) -> None:
    first = await make_hub(database_url=database_url)
    agent = await add_agent(first)
    await bring(AgentStates(first), agent, S.HOLD, clock)
    await first.stop()

    again = AgentStates(await make_hub(database_url=database_url))

    now = await again.current(agent)
    assert (now.state, now.interaction_id, now.since) == (S.HOLD, INTERACTION, clock.now)
    assert len(await spans_of(again.core, agent)) == 4
    assert AgentStateSpan.__tablename__ == "agent_state_span"


async def test_the_default_reasons_are_added_once_and_edits_survive(
    hub_core: Any, states: AgentStates
) -> None:
    async with transaction(hub_core.sessions) as s:
        await s.execute(update(StateReason).where(StateReason.code == "meal").values(limit_minutes=45))
    await ensure_reasons(hub_core)

    reasons = {(r.state, r.code): r for r in await rows(hub_core, StateReason)}
    assert reasons[("leave", "meal")].limit_minutes == 45
    assert reasons[("busy", "missed_offer")].label_zh_cn == "未接来电"
    assert {state for state, _ in reasons} == {"busy", "leave"}


async def test_the_reasons_menu_lists_active_reasons_in_order(hub_core: Any, states: AgentStates) -> None:
    async with transaction(hub_core.sessions) as s:
        await s.execute(update(StateReason).where(StateReason.code == "meeting").values(active=False))

    assert [r.code for r in await reasons_for(hub_core, "busy")] == ["break", "missed_offer", "other"]
    assert [(r.code, r.limit_minutes) for r in await reasons_for(hub_core, "leave")] == [
        ("restroom", 10), ("meal", 30), ("personal", 60)]


async def test_a_started_hub_offers_the_default_reasons_without_being_asked(hub_core: Any) -> None:
    assert "missed_offer" in [r.code for r in await reasons_for(hub_core, "busy")]
    leave = await reasons_for(hub_core, "leave")
    assert leave and all(r.limit_minutes for r in leave)
