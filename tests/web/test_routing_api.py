"""Routing over REST and the websocket: offers, my state, status bar, supervisor controls."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from sqlalchemy import select
from web_helpers import Client, Hub

from hub.db import transaction
from hub.models import AgentSkill, AuditEntry
from hub.routing.config import CONFIG_TOPIC


async def staff(hub: Hub, *numbers: str) -> None:
    """The agents join the default queue; the router hears of it."""
    async with transaction(hub.core.sessions) as s:
        for number in numbers:
            s.add(AgentSkill(agent_id=hub.agents[number].id, queue="default"))
    await hub.core.bus.publish(CONFIG_TOPIC, {"event": "routing-config", "what": "skills"})
    await settled(hub)


async def settled(hub: Hub) -> None:
    for _ in range(3):
        await asyncio.sleep(0)
        await hub.core.routing.settled()


async def frame(ws: aiohttp.ClientWebSocketResponse, frame_type: str, **match: Any) -> dict[str, Any]:
    while True:
        msg = await asyncio.wait_for(ws.receive(), 5)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        data = json.loads(msg.data)
        if data["type"] == frame_type and all(data.get(k) == v for k, v in match.items()):
            return data


async def test_an_idle_agent_is_offered_a_contact_live_and_accepts_it(hub: Hub, alice: Client) -> None:
    await staff(hub, "1001")
    ws = await alice.ws()
    response = await alice.post("/api/me/state", json={"state": "idle"})
    assert response.status == 200 and (await response.json())["state"] == "idle"
    result = await hub.ingest("I have no signal")

    offer = await frame(ws, "offer", kind="offered")
    assert offer["interaction_id"] == result.interaction_id and offer["timeout"] == 20.0
    pending = await (await alice.get("/api/me/offers")).json()
    assert [item["interaction_id"] for item in pending["items"]] == [result.interaction_id]

    response = await alice.post(f"/api/offers/{result.interaction_id}/accept")
    assert response.status == 200
    await frame(ws, "agent_state", to_state="active")
    status = await (await alice.get("/api/me/status")).json()
    assert status["state"] == "active" and status["queues"] == ["default"]
    again = await alice.post(f"/api/offers/{result.interaction_id}/accept")
    assert again.status == 409 and (await again.json())["error"] == "offer_gone"


async def test_busy_needs_a_reason_from_the_list(hub: Hub, alice: Client) -> None:
    response = await alice.post("/api/me/state", json={"state": "busy"})
    assert response.status == 400 and (await response.json())["error"] == "reason_required"
    reasons = await (await alice.get("/api/state-reasons?state=busy")).json()
    assert "break" in [r["code"] for r in reasons["items"]]
    await alice.post("/api/me/state", json={"state": "idle"})
    response = await alice.post("/api/me/state", json={"state": "busy", "reason": "break"})
    assert response.status == 200 and (await response.json())["reason"] == "break"


async def test_agents_may_not_use_the_supervisors_controls(hub: Hub, alice: Client) -> None:
    bob = hub.agents["1002"].id
    for method, path, body in [
        ("GET", "/api/wallboard", None), ("GET", "/api/agents/states", None),
        ("POST", f"/api/agents/{bob}/state", {"state": "busy", "reason": "break"}),
        ("POST", "/api/interactions/1/move", {"queue": "default"}),
    ]:
        response = await (alice.get(path) if method == "GET" else alice.post(path, json=body))
        assert response.status == 403, path


async def test_a_supervisor_forces_an_agent_busy_and_sees_it_live_and_audited(
    hub: Hub, alice: Client, sam: Client,
) -> None:
    await staff(hub, "1001")
    await alice.post("/api/me/state", json={"state": "idle"})
    ws = await sam.ws()
    alice_id = hub.agents["1001"].id
    response = await sam.post(f"/api/agents/{alice_id}/state", json={"state": "busy", "reason": "meeting"})
    assert response.status == 200
    change = await frame(ws, "agent_state", agent_id=alice_id)
    assert (change["to_state"], change["reason"], change["by"]) == ("busy", "meeting", hub.agents["9001"].id)
    states = await (await sam.get("/api/agents/states")).json()
    assert {"number": "1001", "state": "busy"}.items() <= next(
        item for item in states["items"] if item["number"] == "1001").items()
    async with hub.core.sessions() as s:
        actions = set((await s.execute(select(AuditEntry.action))).scalars())
    assert {"agent.state", "agent.force_state"} <= actions


async def test_the_wallboard_counts_who_waits_and_reaches_supervisors_live(hub: Hub, sam: Client) -> None:
    await staff(hub, "1001")
    ws = await sam.ws()
    await hub.ingest("anyone there?")
    board = await frame(ws, "wallboard")
    default = next(q for q in board["queues"] if q["queue"] == "default")
    assert default["waiting"] == 1 and default["agents"] == {"logged_out": 1}
    fetched = await (await sam.get("/api/wallboard")).json()
    assert next(q for q in fetched["queues"] if q["queue"] == "default")["waiting"] == 1


async def test_a_supervisor_moves_a_waiting_contact_to_an_agent(hub: Hub, alice: Client, sam: Client) -> None:
    await staff(hub, "1001")
    result = await hub.ingest("please call me back")
    await settled(hub)
    response = await sam.post(f"/api/interactions/{result.interaction_id}/move",
                              json={"agent_id": hub.agents["1001"].id})
    assert response.status == 200
    mine = await (await alice.get("/api/interactions?view=mine")).json()
    assert [item["id"] for item in mine["items"]] == [result.interaction_id]
    bad = await sam.post(f"/api/interactions/{result.interaction_id}/move", json={"queue": "nowhere"})
    assert bad.status == 400 and (await bad.json())["error"] == "unknown_queue"
