"""The agent states and the transition table: which state may follow which, and who may
make each move (the agent, a supervisor forcing it, or the hub). Pure: no I/O."""

from __future__ import annotations

import enum

from hub.errors import InvalidRequest


class AgentState(enum.StrEnum):
    LOGGED_OUT = "logged_out"
    IDLE = "idle"  # 示闲: ready for an offer
    BUSY = "busy"  # 示忙: manual with a reason, or automatic (a missed offer)
    OFFERED = "offered"  # an offer is ringing
    ACTIVE = "active"
    HOLD = "hold"
    WRAP_UP = "wrap_up"  # 整理
    ADJUST = "adjust"  # 调整
    LEAVE = "leave"  # 请假
    STUDY = "study"  # 学习
    HANDOVER = "handover"  # signed out for a shift hand-over, still logged in


class Mover(enum.StrEnum):
    """Who moves an agent: the agent, a supervisor forcing it, or the hub (routing, timers)."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    HUB = "hub"


S = AgentState
READY = (S.IDLE, S.BUSY)
AWAY = (S.ADJUST, S.LEAVE, S.STUDY, S.HANDOVER)
CONTACT = (S.OFFERED, S.ACTIVE, S.HOLD)
NEEDS_INTERACTION = CONTACT
WITH_INTERACTION = (*CONTACT, S.WRAP_UP)
"""States whose span records the interaction they are for."""
REASON_REQUIRED = (S.BUSY, S.LEAVE)
REASON_FROM_TABLE = (S.BUSY, S.LEAVE)
"""States whose reason, given by a person, must be an active ``StateReason`` code."""


def _rules() -> dict[tuple[AgentState, AgentState], frozenset[Mover]]:
    agent, supervisor, hub = Mover.AGENT, Mover.SUPERVISOR, Mover.HUB
    rules: list[tuple[tuple[AgentState, ...], tuple[AgentState, ...], tuple[Mover, ...]]] = [
        ((S.LOGGED_OUT,), READY, (agent,)),  # log in
        ((S.IDLE,), (S.BUSY,), (agent, hub)),
        ((S.BUSY,), (S.IDLE, S.BUSY), (agent,)),  # busy -> busy: another reason
        ((*READY, S.WRAP_UP, *AWAY), READY, (supervisor,)),  # force idle, force busy
        ((*READY, S.WRAP_UP, *AWAY), (S.LOGGED_OUT,), (agent,)),
        (tuple(S), (S.LOGGED_OUT,), (supervisor, hub)),  # force logout, session expired
        (READY, AWAY, (agent,)),
        (AWAY, READY, (agent,)),  # back from adjust, leave, study; signed in after hand-over
        ((S.IDLE,), (S.OFFERED,), (hub,)),
        ((S.OFFERED,), (S.ACTIVE,), (agent, hub)),  # accepted
        ((S.OFFERED,), (S.IDLE,), (hub,)),  # withdrawn: the customer left or was served
        ((S.OFFERED,), (S.BUSY,), (hub,)),  # missed: not accepted in time
        # Busy while it rings: the agent (or a supervisor) may; routing withdraws the offer.
        ((S.OFFERED,), (S.BUSY,), (agent, supervisor)),
        (READY, (S.ACTIVE,), (agent, hub)),  # an outbound contact, a picked contact
        ((S.ACTIVE,), (S.HOLD,), (agent, hub)),
        ((S.HOLD,), (S.ACTIVE,), (agent, hub)),
        ((S.ACTIVE, S.HOLD), (S.WRAP_UP, *READY), (agent, hub)),  # the contact ended
        (READY, (S.WRAP_UP,), (agent, supervisor)),  # manual wrap-up, with permission
        ((S.WRAP_UP,), READY, (agent, hub)),
    ]
    table: dict[tuple[AgentState, AgentState], set[Mover]] = {}
    for sources, targets, movers in rules:
        for source in sources:
            for target in targets:
                if source != target or source == S.BUSY:
                    table.setdefault((source, target), set()).update(movers)
    return {pair: frozenset(movers) for pair, movers in table.items()}


TRANSITIONS = _rules()
"""(from, to) -> who may make that move; a pair that is absent is never legal."""


def may_receive_offers(state: AgentState | str) -> bool:
    """Only an idle agent is offered a contact (busy, leave, study, adjust... never)."""
    return state == AgentState.IDLE


def check_transition(source: AgentState, target: AgentState, mover: Mover,
                     *, manual_wrap_up: bool = False) -> None:
    """Refuse a move that is not in the table or not for this mover; stable error ids."""
    movers = TRANSITIONS.get((source, target))
    if not movers:
        raise InvalidRequest("illegal_transition", f"an agent cannot go from {source} to {target}",
                             status=409)
    if mover not in movers:
        raise InvalidRequest("transition_not_allowed",
                             f"{mover} may not move an agent from {source} to {target}", status=403)
    if (target == S.WRAP_UP and source in READY and mover == Mover.AGENT
            and not manual_wrap_up):
        raise InvalidRequest("wrap_up_not_permitted", "manual wrap-up needs permission", status=403)
