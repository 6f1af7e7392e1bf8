"""The shared inbox topic: who is woken for which event."""

from __future__ import annotations

import json
from typing import Any

from hub.models import Agent
from hub.web.agent_ws import InboxFanout


class Screen:
    """An agent socket as the fan-out sees it: an agent and the texts queued for it."""

    def __init__(self, agent_id: int, role: str = "agent") -> None:
        self.agent = Agent(id=agent_id, number=str(agent_id), name="x", password_hash="", role=role)
        self.texts: list[dict[str, Any]] = []
        self.revoked: list[int] = []

    def push_text(self, text: str) -> None:
        self.texts.append(json.loads(text))

    def on_assigned(self, interaction_id: int, agent_id: int | None) -> None:
        if agent_id != self.agent.id:
            self.revoked.append(interaction_id)


def event(kind: str, interaction_id: int, **extra: Any) -> dict[str, Any]:
    name = "MessageEvent" if kind in ("inbound", "outbound", "delivery") else "InteractionEvent"
    return {"event": name, "kind": kind, "interaction_id": interaction_id, "channel": "web",
            "text": "never on the shared topic", **extra}


async def fan(fanout: InboxFanout, *events: dict[str, Any]) -> None:
    for e in events:
        await fanout.on_event("inbox", e)


async def test_waiting_conversations_wake_every_screen_without_content() -> None:
    fanout = InboxFanout()
    ann, bo = Screen(1), Screen(2)
    fanout.sockets.update({ann, bo})  # type: ignore[arg-type]

    await fan(fanout, event("opened", 7), event("inbound", 7, seq=1))

    for screen in (ann, bo):
        assert [t["kind"] for t in screen.texts] == ["opened", "inbound"]
        assert all("text" not in t for t in screen.texts)


async def test_messages_of_an_assigned_conversation_reach_its_agent_and_supervisors_only() -> None:
    fanout = InboxFanout()
    ann, bo, chief = Screen(1), Screen(2), Screen(9, role="supervisor")
    fanout.sockets.update({ann, bo, chief})  # type: ignore[arg-type]

    await fan(fanout, event("opened", 7), event("assigned", 7, agent_id=1), event("inbound", 7, seq=2))

    assert [t["kind"] for t in ann.texts] == ["opened", "assigned", "inbound"]
    assert [t["kind"] for t in chief.texts] == ["opened", "assigned", "inbound"]
    assert [t["kind"] for t in bo.texts] == ["opened", "assigned"]
    assert bo.revoked == [7]


async def test_after_close_the_conversation_is_everyones_news_again() -> None:
    fanout = InboxFanout()
    ann, bo = Screen(1), Screen(2)
    fanout.sockets.update({ann, bo})  # type: ignore[arg-type]

    await fan(fanout, event("assigned", 7, agent_id=1), event("closed", 7), event("inbound", 7, seq=9))

    assert [t["kind"] for t in bo.texts] == ["assigned", "closed", "inbound"]
