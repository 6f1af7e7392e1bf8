"""The recorded path of one call through the IVR (呼叫轨迹): each node visited, what the caller
heard and pressed, and how it ended; JSON to store with the interaction, one line for the agent.

Outcomes, one word each: ``played``, ``none`` (nothing to announce), ``went`` (a branch),
``chose``, ``collected``, ``verified``, ``scored``, ``ok`` (a service answered), ``failed`` (tries
used up, or the service failed), ``not_verified``, ``routed``, ``transferred``, ``hung_up`` (a
hangup node), ``blocked`` (a blocked caller stopped before a queue or transfer), and
``caller_hung_up``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

SEPARATOR = " › "
MASK = "***"
"""What the path shows for digits of a secret input (a password)."""
_FAILURES = {"failed": "failed", "not_verified": "not verified"}


@dataclass(slots=True)
class Step:
    """One visit of one node: ``digits`` holds each answer in turn ("" for no input)."""

    node: str
    kind: str
    title: str
    started_at: datetime
    ended_at: datetime | None = None
    played: list[str] = field(default_factory=list)
    """The text of each prompt item heard (its TTS text, else its sound file)."""
    digits: list[str] = field(default_factory=list)
    outcome: str = ""
    detail: str = ""
    """What the outcome was about: ``2 Billing`` (a choice), ``billing`` (a queue), ``4`` (a
    score), ``verified`` (a service used after a right password), the node a branch went to."""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["ended_at"] = self.ended_at.isoformat() if self.ended_at else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Step:
        ended = data.get("ended_at")
        return cls(**{**data, "started_at": datetime.fromisoformat(data["started_at"]),
                      "ended_at": datetime.fromisoformat(ended) if ended else None})


class CallPath:
    """Every step of one call, in order."""

    __slots__ = ("steps",)

    def __init__(self, steps: list[Step] | None = None) -> None:
        self.steps: list[Step] = steps if steps is not None else []

    def open(self, node: str, kind: str, title: str, at: datetime) -> Step:
        """Record the start of a visit to ``node``."""
        step = Step(node, kind, title, at)
        self.steps.append(step)
        return step

    @property
    def current(self) -> Step | None:
        """The last step, if it is still open."""
        return self.steps[-1] if self.steps and self.steps[-1].ended_at is None else None

    def as_list(self) -> list[dict[str, Any]]:
        """The steps as plain data, for a JSON column."""
        return [step.as_dict() for step in self.steps]

    def to_json(self) -> str:
        return json.dumps(self.as_list(), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> CallPath:
        return cls([Step.from_dict(data) for data in json.loads(text)])

    def summary(self) -> str:
        """One line for the agent's screen, e.g. ``Main menu › 2 Billing › Balance query
        (verified) › Agent (queue billing)``: the choices and outcomes, without the plumbing."""
        parts: list[str] = []
        first_menu = next((step for step in self.steps if step.kind == "menu"), None)
        for step in self.steps:
            if step is first_menu and step.outcome != "failed":  # a failure names the menu itself
                parts.append(step.title)
            parts.extend(_segments(step))
        return SEPARATOR.join(parts)


def _segments(step: Step) -> list[str]:
    said = _said(step)
    return [*([said] if said else []), *(["Caller hung up"] if step.outcome == "caller_hung_up" else [])]


def _said(step: Step) -> str:
    """What one step adds to the summary; "" for plumbing (greetings, branches, good input)."""
    if step.outcome in _BY_OUTCOME:
        return _BY_OUTCOME[step.outcome](step)
    if step.kind == "survey":
        return "Survey: no score"
    if step.kind == "service":
        notes = [note for note in (step.detail, _FAILURES.get(step.outcome, "")) if note]
        return f"{step.title} ({', '.join(notes)})" if notes else step.title
    if step.kind == "announce_outages" and step.outcome == "played":
        return "Outage notice"
    if step.outcome == "failed":
        return f"{step.title}: {'wrong password' if step.kind == 'verify' else 'no valid input'}"
    return step.title if step.kind == "hangup" else ""


_BY_OUTCOME: dict[str, Callable[[Step], str]] = {
    "blocked": lambda step: "Blocked caller: hung up",
    "chose": lambda step: step.detail,
    "scored": lambda step: f"Survey: {step.detail}",
    "routed": lambda step: f"Agent (queue {step.detail})",
    "transferred": lambda step: f"Transfer ({step.detail})",
}
