"""The work-order workflow engine: templates as checked, frozen data, and the pure rules that
say what an action does to a ticket. No I/O: the service reads the rows, asks ``decide``, and
writes what it answers (the ticket's new place and a timeline line)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.errors import InvalidRequest

ROLES = ("agent", "supervisor", "admin")
"""Agent roles from lowest to highest: a higher role may always act where a lower may."""
RANK = {role: rank for rank, role in enumerate(ROLES, start=1)}
CENTRE = "centre"
OWNER = "owner"
ACTIONS = ("advance", "return", "transfer", "cc", "close", "reopen", "comment", "take")
_CODE = re.compile(r"[a-z][a-z0-9_]{0,39}")
_UNIT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
_KEYS = ("code", "name_en", "name_zh_cn", "roles", "units", "deadline_minutes", "next",
         "return_to", "transfer", "dispatch", "final", "reopen")


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a workflow: who may act there, how long they have, and where it may go."""

    code: str
    name_en: str
    name_zh_cn: str
    roles: frozenset[str]
    """Roles that may act; the lowest one named sets the bar (a supervisor acts where agents may)."""
    units: tuple[str, ...]
    """``centre`` (the province centre's units), ``owner`` (the owner unit; co-processing units
    may comment) or unit codes."""
    deadline_minutes: int | None
    """Business minutes from entering the step; None: no step deadline."""
    next: tuple[str, ...]
    return_to: tuple[str, ...]
    transfer: bool
    dispatch: bool
    """Advancing from here must name the unit that takes the ticket over (派单)."""
    final: bool
    """A ``close`` is allowed here."""
    reopen: bool = False
    """A closed ticket reopened goes back here (at most one step per template says so)."""

    @property
    def min_rank(self) -> int:
        return min(RANK[role] for role in self.roles)

    def label(self) -> str:
        """``'process' (处理)``: how messages name a step."""
        return f"'{self.code}' ({self.name_zh_cn or self.name_en})"

    def to_json(self) -> dict[str, Any]:
        """The stored form, which ``Template.from_json`` reads back as an equal step."""
        return {"code": self.code, "name_en": self.name_en, "name_zh_cn": self.name_zh_cn,
                "roles": sorted(self.roles, key=RANK.__getitem__), "units": list(self.units),
                "deadline_minutes": self.deadline_minutes, "next": list(self.next),
                "return_to": list(self.return_to), "transfer": self.transfer,
                "dispatch": self.dispatch, "final": self.final, "reopen": self.reopen}


@dataclass(frozen=True, slots=True)
class Template:
    """A checked workflow: steps in order, the first is where a ticket starts."""

    code: str
    steps: tuple[Step, ...]
    overall_minutes: int | None = None
    level_percent: tuple[tuple[str, int], ...] = ()
    """(level, percent): a ticket at that level (``major_urgent``) gets that share of every
    deadline (25: a quarter of the time); other levels get the minutes as written."""

    def step_minutes(self, code: str, level: str = "") -> int | None:
        """Business minutes a ticket at ``level`` has for step ``code``; None: no deadline."""
        return _share(self.step(code).deadline_minutes, dict(self.level_percent).get(level, 100))

    def overall_minutes_for(self, level: str = "") -> int | None:
        """Business minutes a ticket at ``level`` has in all; None: no bound."""
        return _share(self.overall_minutes, dict(self.level_percent).get(level, 100))

    @property
    def first(self) -> Step:
        return self.steps[0]

    @property
    def reopen_step(self) -> Step:
        """Where a reopened ticket goes: the step marked ``reopen``, else the second step (the
        first after acceptance: a reopened ticket is handled again, not accepted again)."""
        marked = [step for step in self.steps if step.reopen]
        return marked[0] if marked else self.steps[min(1, len(self.steps) - 1)]

    def step(self, code: str) -> Step:
        """The step called ``code``; ``unknown_step`` (400) when the template has none."""
        for step in self.steps:
            if step.code == code:
                return step
        names = ", ".join(step.code for step in self.steps)
        raise InvalidRequest("unknown_step", f"workflow '{self.code}' has no step {code!r}; "
                             f"its steps are: {names}")

    @classmethod
    def from_json(cls, code: str, steps: list[dict[str, Any]], overall_minutes: int | None = None,
                  level_percent: Mapping[str, int] | None = None) -> Template:
        """Parse and check a stored template; ``ValueError`` says which step is wrong and how."""
        if not isinstance(code, str) or not _CODE.fullmatch(code):
            raise ValueError(f"template code {code!r}: use lower-case letters, digits and _ "
                             "(at most 40), starting with a letter")
        where = f"template '{code}'"
        if not isinstance(steps, list) or not steps:
            raise ValueError(f"{where}: steps must be a non-empty list of step objects")
        parsed = tuple(_parse_step(raw, f"{where} step {index + 1}") for index, raw in enumerate(steps))
        _check_graph(parsed, where)
        return cls(code, parsed, _minutes(overall_minutes, f"{where}: overall_minutes"),
                   _percents(level_percent or {}, f"{where}: level_percent"))

    def to_json(self) -> list[dict[str, Any]]:
        return [step.to_json() for step in self.steps]


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


def _parse_step(raw: object, where: str) -> Step:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected an object with code, name_en, roles, units..., got {raw!r}")
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r} (expected {', '.join(_KEYS)})")
    code = raw.get("code")
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise ValueError(f"{where}: code {code!r}: use lower-case letters, digits and _, starting "
                         "with a letter")
    where = f"{where} ({code})"
    return Step(code, _text(raw, "name_en", where, required=True), _text(raw, "name_zh_cn", where),
                _roles(raw.get("roles"), where), _units(raw.get("units"), where),
                _minutes(raw.get("deadline_minutes"), f"{where}: deadline_minutes"),
                _codes(raw.get("next", []), f"{where}: next"),
                _codes(raw.get("return_to", []), f"{where}: return_to"),
                _flag(raw, "transfer", where), _flag(raw, "dispatch", where), _flag(raw, "final", where),
                _flag(raw, "reopen", where))


def _text(raw: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str) or len(value) > 100 or (required and not value.strip()):
        raise ValueError(f"{where}: {key} must be {'a non-empty' if required else 'a'} text of at "
                         f"most 100 characters, got {value!r}")
    return value


def _roles(value: object, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not value or any(role not in RANK for role in value):
        raise ValueError(f"{where}: roles must list who may act, from {', '.join(ROLES)}, "
                         f"e.g. [\"agent\"]; got {value!r}")
    return frozenset(value)


def _units(value: object, where: str) -> tuple[str, ...]:
    if (not isinstance(value, list) or not value
            or any(not isinstance(unit, str) or not _UNIT.fullmatch(unit) for unit in value)):
        raise ValueError(f"{where}: units must list who may act: \"centre\", \"owner\" or unit "
                         f"codes, e.g. [\"owner\"]; got {value!r}")
    return _unique(value, f"{where}: units")


def _codes(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or any(not isinstance(code, str) for code in value):
        raise ValueError(f"{where}: expected a list of step codes, got {value!r}")
    return _unique(value, where)


def _unique(values: list[str], where: str) -> tuple[str, ...]:
    seen = [value for index, value in enumerate(values) if value in values[:index]]
    if seen:
        raise ValueError(f"{where}: {seen[0]!r} is named twice")
    return tuple(values)


def _flag(raw: Mapping[str, Any], key: str, where: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise ValueError(f"{where}: {key} must be true or false, got {value!r}")
    return value


def _percents(raw: Mapping[str, int], where: str) -> tuple[tuple[str, int], ...]:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected an object of level: percent")
    for level, percent in raw.items():
        if not isinstance(level, str) or not _CODE.fullmatch(level):
            raise ValueError(f"{where}: {level!r} is not a level code (lower-case letters, digits, _)")
        if isinstance(percent, bool) or not isinstance(percent, int) or not 1 <= percent <= 1000:
            raise ValueError(f"{where}: {level}: expected a whole percent from 1 to 1000, got {percent!r}")
    return tuple(sorted(raw.items()))


def _share(minutes: int | None, percent: int) -> int | None:
    return None if minutes is None else max(1, round(minutes * percent / 100))


def _minutes(value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{where}: expected a whole number of minutes above 0, or null for no "
                         f"deadline; got {value!r}")
    return value


def _check_graph(steps: tuple[Step, ...], where: str) -> None:
    """Codes unique and known; forward moves acyclic and reaching every step; returns go back."""
    codes = [step.code for step in steps]
    _unique(codes, f"{where}: step codes")
    if not any(step.final for step in steps):
        raise ValueError(f"{where}: no step is final; mark the last step final so tickets can be closed")
    for step in steps:
        for key, targets in (("next", step.next), ("return_to", step.return_to)):
            for target in targets:
                if target not in codes:
                    raise ValueError(f"{where}: step '{step.code}' {key} names unknown step "
                                     f"{target!r}; steps are: {', '.join(codes)}")
        if not step.next and not step.final:
            raise ValueError(f"{where}: step '{step.code}' has no next step and is not final: "
                             "a ticket would be stuck there")
    graph = {step.code: step.next for step in steps}
    _check_acyclic(graph, where)
    unreachable = [code for code in codes if code not in _reach(graph, codes[0]) | {codes[0]}]
    if unreachable:
        raise ValueError(f"{where}: step '{unreachable[0]}' cannot be reached from the first step "
                         f"'{codes[0]}'; name it in some step's next")
    _check_returns(steps, graph, where)
    reopen = [step.code for step in steps if step.reopen]
    if len(reopen) > 1:
        raise ValueError(f"{where}: only one step may be the reopen step; {', '.join(reopen)} are")


def _check_returns(steps: tuple[Step, ...], graph: dict[str, tuple[str, ...]], where: str) -> None:
    for step in steps:
        for target in step.return_to:
            if step.code not in _reach(graph, target):
                raise ValueError(f"{where}: step '{step.code}' returns to '{target}', which does not "
                                 "come before it; return_to names earlier steps only")


def _reach(graph: dict[str, tuple[str, ...]], start: str) -> set[str]:
    """Steps reachable from ``start`` by one or more forward moves."""
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        code = todo.pop()
        if code not in seen:
            seen.add(code)
            todo.extend(graph[code])
    return seen


def _check_acyclic(graph: dict[str, tuple[str, ...]], where: str) -> None:
    for code in graph:
        if code in _reach(graph, code):
            raise ValueError(f"{where}: step '{code}' can come after itself through next; going back "
                             "is a return (return_to), not a next")
