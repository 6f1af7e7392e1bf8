"""Agents' phones as the voice channel dials them: the extension (the agent's number) and
whether the phone answers an offered call by itself (auto-answer: ``sip_auto_answer``, for
the agents an admin sets, over the centre's ``auto_answer``).

An agent's number is read at most once a minute, and every agent's setting in one read at
most once a minute, so that the way from the caller's last digit to the ringing phone makes
no reads; a change an admin saves through this process applies at once, through another
within the minute.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.facade import Hub

KEY = "phone:"
"""Plugin state ``phone:<agent id>``: ``{"auto_answer": bool}``, an admin's choice for one agent."""
READ_EVERY = 60.0


@dataclass(frozen=True, slots=True)
class Phone:
    """What ringing one agent's phone needs."""

    number: str
    auto_answer: bool


class Phones:
    """Every agent's phone, kept for a minute after it is read."""

    def __init__(self, hub: Hub, auto_answer: bool) -> None:
        self.hub = hub
        self.auto_answer = auto_answer
        """The centre's default, for agents an admin did not set."""
        self._numbers: dict[int, tuple[str, float]] = {}
        self._choices: dict[int, bool] = {}
        self._choices_read_at = float("-inf")

    async def of(self, agent_id: int) -> Phone:
        """Agent ``agent_id``'s phone (``NotFound`` when there is no such agent)."""
        number, read_at = self._numbers.get(agent_id, ("", float("-inf")))
        if time.monotonic() - read_at > READ_EVERY:
            number = str((await self.hub.agent(agent_id))["number"])
            self._numbers[agent_id] = (number, time.monotonic())
        if time.monotonic() - self._choices_read_at > READ_EVERY:
            self._choices, self._choices_read_at = await self.choices(), time.monotonic()
        return Phone(number, self._choices.get(agent_id, self.auto_answer))

    async def choice(self, agent_id: int) -> bool | None:
        """The admin's auto-answer setting for this agent; None: the centre's default."""
        doc = await self.hub.get_state(f"{KEY}{agent_id}")
        return None if doc is None else bool(doc["auto_answer"])

    async def choices(self) -> dict[int, bool]:
        """Every agent an admin set, with their setting."""
        docs = await self.hub.list_state(KEY)
        return {int(key.removeprefix(KEY)): bool(doc["auto_answer"]) for key, doc in docs.items()}

    async def choose(self, agent_id: int, auto_answer: bool | None) -> None:
        """Set whether this agent's phone answers by itself; None goes back to the default."""
        if auto_answer is None:
            await self.hub.delete_state(f"{KEY}{agent_id}")
            self._choices.pop(agent_id, None)
        else:
            await self.hub.put_state(f"{KEY}{agent_id}", {"auto_answer": auto_answer})
            self._choices[agent_id] = auto_answer
