"""Work orders over REST and the websocket: created from a conversation, moved, searched,
and outages announced to every screen."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from sqlalchemy import select
from web_helpers import Client, Hub

from hub.models import CustomerIdentity, Interaction, Ticket, TicketSearch


async def frame(ws: aiohttp.ClientWebSocketResponse, frame_type: str) -> dict[str, Any]:
    while True:
        msg = await asyncio.wait_for(ws.receive(), 5)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        data = json.loads(msg.data)
        if data["type"] == frame_type:
            return data


async def complaint(
    hub: Hub, client: Client, text: str = "No signal at home since Monday", sender: str = "visitor-1"
) -> dict[str, Any]:
    result = await hub.ingest(text, sender=sender)
    await client.post(f"/api/interactions/{result.interaction_id}/take")
    response = await client.post(
        "/api/tickets",
        json={
            "type": "complaint",
            "title": "No signal at home",
            "interaction_id": result.interaction_id,
            "level": "general",
            "kind": "network",
        },
    )
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def test_a_ticket_from_a_conversation_starts_with_its_transcript(hub: Hub, alice: Client) -> None:
    ticket = await complaint(hub, alice)
    assert ticket["step"] == "accept" and ticket["channel"] == "web"
    assert "No signal at home since Monday" in ticket["description"]
    detail = await (await alice.get(f"/api/tickets/{ticket['id']}")).json()
    assert detail["may_act"] is True and detail["step"]["next"] == ["review"]
    assert [line["action"] for line in detail["timeline"]] == ["create"]


async def test_moving_a_ticket_on_a_stale_view_says_reload(hub: Hub, alice: Client) -> None:
    ticket = await complaint(hub, alice)
    moved = await alice.post(
        f"/api/tickets/{ticket['id']}/actions", json={"action": "advance", "version": ticket["version"]}
    )
    assert moved.status == 200 and (await moved.json())["step"] == "review"
    stale = await alice.post(
        f"/api/tickets/{ticket['id']}/actions",
        json={"action": "comment", "opinion": "late", "version": ticket["version"]},
    )
    assert stale.status == 409 and (await stale.json())["error"] == "ticket_changed"


async def test_every_search_is_logged_with_who_and_what(hub: Hub, alice: Client) -> None:
    ticket = await complaint(hub, alice)
    found = await (await alice.get("/api/tickets/search?type=complaint&status=open")).json()
    assert [item["id"] for item in found["items"]] == [ticket["id"]]
    nothing = await (await alice.get("/api/tickets/search?type=suggestion")).json()
    assert nothing["items"] == []
    async with hub.core.sessions() as s:
        logged = list((await s.execute(select(TicketSearch).order_by(TicketSearch.id))).scalars())  # type: ignore[arg-type]
    assert [(row.agent_id, row.query, row.results) for row in logged] == [
        (hub.agents["1001"].id, {"type": "complaint", "status": "open"}, 1),
        (hub.agents["1001"].id, {"type": "suggestion"}, 0),
    ]
    bad = await alice.get("/api/tickets/search?status=maybe")
    assert bad.status == 400 and (await bad.json())["error"] == "bad_filter"


async def test_agents_see_the_customers_phone_masked_and_supervisors_whole(
    hub: Hub,
    alice: Client,
    sam: Client,
) -> None:
    result = await hub.ingest("hello", sender="visitor-9")
    async with hub.core.sessions.begin() as s:
        interaction = await s.get(Interaction, result.interaction_id)
        assert interaction is not None
        s.add(CustomerIdentity(customer_id=interaction.customer_id, kind="phone", address="13800138001"))
    await alice.post(f"/api/interactions/{result.interaction_id}/take")
    created = await (
        await alice.post(
            "/api/tickets",
            json={"type": "suggestion", "title": "E-bills please", "interaction_id": result.interaction_id},
        )
    ).json()
    assert created["phone"] == "138****8001"
    whole = await (await sam.get(f"/api/tickets/{created['id']}")).json()
    assert whole["ticket"]["phone"] == "13800138001"
    beside = await (await alice.get(f"/api/customers/{created['customer_id']}/tickets")).json()
    assert [item["id"] for item in beside["items"]] == [created["id"]]


async def test_an_outage_reaches_every_screen_and_only_supervisors_declare_one(
    hub: Hub,
    alice: Client,
    sam: Client,
) -> None:
    ws = await alice.ws()
    refused = await alice.post("/api/outages", json={"region": "guangdong", "wording": "down"})
    assert refused.status == 403
    declared = await sam.post(
        "/api/outages",
        json={
            "region": "guangdong/shenzhen",
            "service": "broadband",
            "wording": "Broadband is down in Shenzhen.",
        },
    )
    assert declared.status == 200
    banner = await frame(ws, "outage")
    assert (banner["kind"], banner["wording"]) == ("declared", "Broadband is down in Shenzhen.")
    ongoing = await (await alice.get("/api/outages")).json()
    assert [o["region"] for o in ongoing["items"]] == ["guangdong/shenzhen"]


async def test_ticket_changes_reach_the_units_screens_live(hub: Hub, alice: Client, bob: Client) -> None:
    ws = await bob.ws()
    await frame(ws, "hello")
    ticket = await complaint(hub, alice)
    created = await frame(ws, "ticket")
    assert (created["kind"], created["id"], created["step"]) == ("created", ticket["id"], "accept")
    await alice.post(f"/api/tickets/{ticket['id']}/actions", json={"action": "advance"})
    moved = await frame(ws, "ticket")
    assert (moved["kind"], moved["step"]) == ("advance", "review")
    detail = await (await alice.get(f"/api/tickets/{ticket['id']}")).json()
    assert [line["actor_name"] for line in detail["timeline"]] == ["Alice", "Alice"]


async def test_supervisors_see_open_overdue_and_urged_tickets_per_unit(
    hub: Hub,
    alice: Client,
    sam: Client,
) -> None:
    ticket = await complaint(hub, alice)
    await alice.post(f"/api/tickets/{ticket['id']}/urge", json={"opinion": "called again"})
    assert (await alice.get("/api/tickets/report")).status == 403
    report = await (await sam.get("/api/tickets/report")).json()
    assert [(r["open"], r["overdue"], r["urges"]) for r in report["items"]] == [(1, 0, 1)]


async def test_resolved_cases_like_a_new_ticket_are_suggested(hub: Hub, alice: Client, sam: Client) -> None:
    old = await complaint(hub, alice, "宽带每天晚上断线 broadband drops at night", sender="v1")
    async with hub.core.sessions.begin() as s:
        row = await s.get(Ticket, old["id"])
        assert row is not None
        row.status, row.is_case, row.title = "closed", True, "宽带晚上断线"
    other = await complaint(hub, alice, "账单多收费", sender="v2")
    async with hub.core.sessions.begin() as s:
        row = await s.get(Ticket, other["id"])
        assert row is not None
        row.status, row.is_case, row.title = "closed", True, "账单多收费"
    new = await complaint(hub, alice, "家里宽带晚上总是断线", sender="v3")
    similar = await (await alice.get(f"/api/tickets/{new['id']}/similar")).json()
    assert [item["id"] for item in similar["items"]] == [old["id"]], "the billing case shares nothing"


async def test_a_file_on_the_timeline_is_there_for_whoever_sees_the_ticket(
    hub: Hub, alice: Client, bob: Client
) -> None:
    ticket = await complaint(hub, alice)
    form = aiohttp.FormData()
    form.add_field(
        "file", b"site visit notes: splitter replaced\n", filename="visit.txt", content_type="text/plain"
    )
    uploaded = await alice.http.post(hub.url("/api/files"), data=form, headers={"X-CSRF-Token": alice.csrf})
    assert uploaded.status == 200, await uploaded.text()
    file_id = (await uploaded.json())["id"]
    moved = await alice.post(
        f"/api/tickets/{ticket['id']}/actions",
        json={"action": "comment", "opinion": "notes attached", "attachment_ids": [file_id]},
    )
    assert moved.status == 200, await moved.text()
    detail = await (await bob.get(f"/api/tickets/{ticket['id']}")).json()
    assert [f["filename"] for f in detail["timeline"][-1]["attachments"]] == ["visit.txt"]
    download = await bob.get(f"/api/tickets/{ticket['id']}/files/{file_id}")
    assert download.status == 200 and await download.read() == b"site visit notes: splitter replaced\n"
    elsewhere = await bob.get(f"/api/tickets/{ticket['id'] + 999}/files/{file_id}")
    assert elsewhere.status == 404
    not_mine = await bob.post(
        f"/api/tickets/{ticket['id']}/actions",
        json={"action": "comment", "opinion": "x", "attachment_ids": [file_id]},
    )
    assert not_mine.status == 400 and (await not_mine.json())["error"] == "bad_attachment"
