"""The work-order workflow engine: the pure rules that say what an action does to a ticket at
a step of its template (``hub.tickets.templates``). No I/O: the service reads the rows, asks
``decide``, and writes what it answers (the ticket's new place and a timeline line)."""

from __future__ import annotations

from dataclasses import dataclass

from hub.errors import InvalidRequest
from hub.tickets.templates import CENTRE, OWNER, RANK, ROLES, Step, Template

ACTIONS = ("advance", "return", "transfer", "cc", "close", "reopen", "comment", "take")


@dataclass(frozen=True, slots=True)
class Actor:
    """The person asking to act, as the service found them: role, unit, and whether that unit
    is in the province centre (the root unit of kind province or a department directly under it)."""

    agent_id: int
    role: str
    unit_id: int | None
    unit_code: str
    in_centre: bool


@dataclass(frozen=True, slots=True)
class TicketView:
    """What the rules need to know about a ticket; ``participants`` are co-processing unit ids."""

    step: str
    status: str
    owner_unit_id: int | None
    handler_id: int | None
    participants: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Transition:
    """What an action does: the timeline's action word and the ticket's new place."""

    action: str
    """``advance``, ``dispatch``, ``return``, ``transfer``, ``cc``, ``close``, ``reopen``,
    ``comment`` or ``take``."""
    to_step: str
    status: str
    owner_unit_id: int | None
    handler_id: int | None
    restart_deadline: bool
    """The step changed or restarted: its deadline is counted again from now."""


def may_act(template: Template, ticket: TicketView, actor: Actor) -> bool:
    """Whether ``actor`` may do anything at the open ticket's current step (co-processing
    units count: they may comment there; moving the ticket is for the owner unit). False, not
    an error, at a step the template no longer has: listing such a ticket must still work."""
    step = next((step for step in template.steps if step.code == ticket.step), None)
    if ticket.status != "open" or step is None:
        return False
    return _role_ok(step, actor) and _unit_ok(step, ticket, actor, participants=True)


def decide(template: Template, ticket: TicketView, actor: Actor, action: str, *,
           to_step: str | None = None, to_unit: int | None = None, opinion: str = "") -> Transition:
    """What ``action`` by ``actor`` does to ``ticket``, or ``InvalidRequest`` with a stable id.

    Every change of step clears the handler: the next step's people take it from their pool.
    Only open tickets accept actions, except ``reopen``.
    """
    if action not in ACTIONS:
        raise InvalidRequest("unknown_action", f"unknown action {action!r}; use one of: "
                             + ", ".join(ACTIONS))
    request = _Request(to_step, to_unit, opinion.strip())
    if action == "reopen":
        return _reopen(template, ticket, actor, request)
    if ticket.status != "open":
        raise InvalidRequest("ticket_closed", "the ticket is closed; reopen it first", status=409)
    step = template.step(ticket.step)
    if action == "comment":
        return _comment(template, ticket, actor, request)
    _check_mover(step, ticket, actor)
    return _MOVES[action](step, ticket, actor, request)


@dataclass(frozen=True, slots=True)
class _Request:
    to_step: str | None
    to_unit: int | None
    opinion: str


def _role_ok(step: Step, actor: Actor) -> bool:
    return RANK.get(actor.role, 0) >= step.min_rank


def _unit_ok(step: Step, ticket: TicketView, actor: Actor, *, participants: bool) -> bool:
    for unit in step.units:
        if unit == CENTRE and actor.in_centre:
            return True
        if unit == OWNER and actor.unit_id is not None and (
                actor.unit_id == ticket.owner_unit_id
                or (participants and actor.unit_id in ticket.participants)):
            return True
        if unit not in (CENTRE, OWNER) and unit == actor.unit_code:
            return True
    return False


def _check_mover(step: Step, ticket: TicketView, actor: Actor) -> None:
    """Refuse anyone but the step's people; a taken ticket is its handler's, or a supervisor's."""
    if not _role_ok(step, actor) or not _unit_ok(step, ticket, actor, participants=False):
        raise InvalidRequest("not_allowed", f"step {step.label()} is for {_who(step)}; ask them, or "
                             "a supervisor to transfer the ticket", status=403)
    if ticket.handler_id not in (None, actor.agent_id) and RANK.get(actor.role, 0) < RANK["supervisor"]:
        raise InvalidRequest("not_allowed", f"agent #{ticket.handler_id} handles this ticket at step "
                             f"{step.label()}; ask them, or a supervisor to take it over", status=403)


def _who(step: Step) -> str:
    lowest = ROLES[step.min_rank - 1]
    role = "anyone" if lowest == "agent" else f"a {lowest} or above"
    places = {CENTRE: "the province centre", OWNER: "the unit that owns the ticket"}
    units = " or ".join(places.get(unit, f"unit '{unit}'") for unit in step.units)
    return f"{role} in {units}"


def _advance(step: Step, ticket: TicketView, actor: Actor, request: _Request) -> Transition:
    if not step.next:
        raise InvalidRequest("bad_step", f"{step.label()} is the last step: close the ticket",
                             status=409)
    target = request.to_step or (step.next[0] if len(step.next) == 1 else None)
    if target not in step.next:
        raise InvalidRequest("bad_step", f"from {step.label()} the ticket may go to: "
                             + ", ".join(step.next))
    owner = ticket.owner_unit_id
    if step.dispatch:
        if request.to_unit is None:
            raise InvalidRequest("unit_required", f"name the unit that takes the ticket over at "
                                 f"{step.label()} (派单)")
        owner = request.to_unit
    elif request.to_unit is not None:
        raise InvalidRequest("bad_unit", f"{step.label()} does not dispatch: advance without a unit, "
                             "or transfer the ticket")
    return Transition("dispatch" if step.dispatch else "advance", str(target), "open", owner, None, True)


def _return(step: Step, ticket: TicketView, actor: Actor, request: _Request) -> Transition:
    if not step.return_to:
        raise InvalidRequest("bad_step", f"a ticket cannot be returned from {step.label()}", status=409)
    target = request.to_step or (step.return_to[0] if len(step.return_to) == 1 else None)
    if target not in step.return_to:
        raise InvalidRequest("bad_step", f"from {step.label()} the ticket may be returned to: "
                             + ", ".join(step.return_to))
    _require_reason(request, "say why the ticket is returned (退单原因)")
    owner = ticket.owner_unit_id if request.to_unit is None else request.to_unit
    return Transition("return", str(target), "open", owner, None, True)


def _transfer(step: Step, ticket: TicketView, actor: Actor, request: _Request) -> Transition:
    if not step.transfer:
        raise InvalidRequest("transfer_not_allowed", f"tickets are not transferred at {step.label()}; "
                             "return it instead", status=409)
    if request.to_unit is None:
        raise InvalidRequest("unit_required", "name the unit the ticket is transferred to")
    if request.to_unit == ticket.owner_unit_id:
        raise InvalidRequest("same_unit", "the ticket already belongs to that unit; pick another")
    _require_reason(request, "say why the ticket is transferred")
    # The new unit gets the whole step time: the old unit's delay is not its fault.
    return Transition("transfer", step.code, "open", request.to_unit, None, True)


def _cc(step: Step, ticket: TicketView, actor: Actor, request: _Request) -> Transition:
    if OWNER not in step.units:
        raise InvalidRequest("cc_not_allowed", f"co-processing units are added where the owner unit "
                             f"works, not at {step.label()}", status=409)
    if request.to_unit is None:
        raise InvalidRequest("unit_required", "name the unit asked to co-process (协办)")
    if request.to_unit == ticket.owner_unit_id or request.to_unit in ticket.participants:
        raise InvalidRequest("already_participant", "that unit already works on the ticket", status=409)
    return Transition("cc", step.code, "open", ticket.owner_unit_id, ticket.handler_id, False)


def _close(step: Step, ticket: TicketView, actor: Actor, request: _Request) -> Transition:
    if not step.final:
        raise InvalidRequest("not_final", f"a ticket cannot be closed at {step.label()}; advance it "
                             "to a final step first", status=409)
    return Transition("close", step.code, "closed", ticket.owner_unit_id, ticket.handler_id, False)


def _take(step: Step, ticket: TicketView, actor: Actor, request: _Request) -> Transition:
    if ticket.handler_id == actor.agent_id:
        raise InvalidRequest("already_handler", "you already handle this ticket", status=409)
    return Transition("take", step.code, "open", ticket.owner_unit_id, actor.agent_id, False)


_MOVES = {"advance": _advance, "return": _return, "transfer": _transfer, "cc": _cc,
          "close": _close, "take": _take}


def _comment(template: Template, ticket: TicketView, actor: Actor, request: _Request) -> Transition:
    in_unit = actor.unit_id is not None and actor.unit_id in ticket.participants
    if not (in_unit or may_act(template, ticket, actor)):
        raise InvalidRequest("not_allowed", "only the people of the current step and co-processing "
                             "units may comment on this ticket", status=403)
    if not request.opinion:
        raise InvalidRequest("comment_required", "write the comment")
    return Transition("comment", ticket.step, "open", ticket.owner_unit_id, ticket.handler_id, False)


def _reopen(template: Template, ticket: TicketView, actor: Actor, request: _Request) -> Transition:
    if ticket.status != "closed":
        raise InvalidRequest("not_closed", "the ticket is still open", status=409)
    if not (actor.in_centre or RANK.get(actor.role, 0) >= RANK["supervisor"]):
        raise InvalidRequest("not_allowed", "a closed ticket is reopened by the province centre or "
                             "a supervisor", status=403)
    target = template.step(request.to_step) if request.to_step else template.reopen_step
    if target.final:
        raise InvalidRequest("bad_step", f"reopen to a step before {target.label()}: it is final")
    _require_reason(request, "say why the ticket is reopened")
    return Transition("reopen", target.code, "open", ticket.owner_unit_id, None, True)


def _require_reason(request: _Request, what: str) -> None:
    if not request.opinion:
        raise InvalidRequest("reason_required", what)


# --- parsing -------------------------------------------------------------------------------
