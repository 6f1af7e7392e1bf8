"""Workflow templates (流程模板) as checked, frozen data: steps saying who may act, how long
they have and where a ticket may go from them. ``Template.from_json`` is the one way in, and
its ``ValueError`` names the step that is wrong and how."""

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
