"""Admins set, agent by agent, whether a phone answers an offered call by itself, over the
centre's ``auto_answer``: the next call rings that way, every change is audited, and only
admins may make it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import plugins.voice
from hub.models import AuditEntry
from hub.settings import load_settings
from plugins.voice.channel import VoiceChannel
from tests.web.web_helpers import Client, Hub, served_hub

BASE = "/api/admin/channels/voice/phones"
PEOPLE = [("1001", "Alice", "agent"), ("1002", "Bob", "agent"), ("8001", "Ada", "admin")]


@pytest.fixture
async def served(tmp_path: Path, database_url: str) -> AsyncIterator[Hub]:
    settings = load_settings(data_dir=tmp_path / "var", database_url=database_url, redis_url="",
                             plugins={"voice": {"auto_answer": False}})
    async with served_hub(settings, PEOPLE, plugins=[plugins.voice]) as hub:
        yield hub


async def client(hub: Hub, number: str) -> Client:
    logged_in = Client(hub)
    await logged_in.login(number)
    return logged_in


def voice(hub: Hub) -> VoiceChannel:
    channel = hub.core.channels["voice"]
    assert isinstance(channel, VoiceChannel)
    return channel


async def test_an_agents_phone_answers_by_itself_once_an_admin_says_so(served: Hub) -> None:
    alice, bob = served.agents["1001"].id, served.agents["1002"].id
    assert (await voice(served).phones.of(int(bob or 0))).auto_answer is False  # read, then kept
    admin = await client(served, "8001")
    try:
        saved = await admin.send("PUT", f"{BASE}/{alice}", {"auto_answer": True})
        assert saved.status == 200, await saved.text()
        assert await saved.json() == {"agent_id": alice, "number": "1001", "name": "Alice",
                                      "auto_answer": True, "answers_by_itself": True}
        assert (await voice(served).phones.of(int(alice or 0))).auto_answer is True
        assert (await voice(served).phones.of(int(bob or 0))).auto_answer is False
        listed = await (await admin.get(BASE)).json()
        assert listed["auto_answer"] is False
        assert [(p["number"], p["auto_answer"]) for p in listed["phones"]] == [("1001", True)]

        back = await admin.send("PUT", f"{BASE}/{alice}", {"auto_answer": None})
        assert (await back.json())["answers_by_itself"] is False
        assert (await (await admin.get(BASE)).json())["phones"] == []
        assert (await voice(served).phones.of(int(alice or 0))).auto_answer is False
    finally:
        await admin.close()
    async with served.core.sessions() as s:
        audited = (await s.execute(select(AuditEntry.action, AuditEntry.target, AuditEntry.detail)
                                   .order_by(AuditEntry.id))).all()
    assert [tuple(row) for row in audited if row.action.startswith("voice.")] == [
        ("voice.phone_saved", "agent 1001", "auto_answer=on"),
        ("voice.phone_saved", "agent 1001", "auto_answer=default")]


async def test_an_agent_may_not_set_phones(served: Hub) -> None:
    agent = await client(served, "1001")
    try:
        refused = await agent.send("PUT", f"{BASE}/{served.agents['1001'].id}", {"auto_answer": True})
        assert refused.status == 403
        assert (await agent.get(BASE)).status == 403
    finally:
        await agent.close()
    assert await voice(served).phones.choices() == {}


@pytest.mark.parametrize(("agent_id", "body", "status"), [
    ("9999", {"auto_answer": True}, 404),
    ("abc", {"auto_answer": True}, 404),
    ("1", {"auto_answer": "sometimes"}, 400),
    ("1", {}, 400),
])
async def test_a_wrong_request_is_refused_and_nothing_is_set(
        served: Hub, agent_id: str, body: dict[str, Any], status: int) -> None:
    admin = await client(served, "8001")
    try:
        response = await admin.send("PUT", f"{BASE}/{agent_id}", body)
        assert response.status == status, await response.text()
        assert (await response.json())["message"]
    finally:
        await admin.close()
    assert await voice(served).phones.choices() == {}
