"""Who may do what, over REST and over the agents' websocket."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select
from web_helpers import PASSWORD, Client, Hub

from hub.models import Agent, Attachment, AuditEntry, Interaction, Message
from hub.web.api import api
from hub.web.auth import LOGIN_CSRF_COOKIE, SESSION_COOKIE

PUBLIC = {"/api/openapi.json"}


def concrete(path: str) -> str:
    return re.sub(r"{\w+}", "1", path)


async def error_of(response: aiohttp.ClientResponse) -> str:
    return (await response.json())["error"]


async def taken_by(hub: Hub, client: Client, text: str = "hello", sender: str = "visitor-1") -> int:
    """A customer writes; ``client``'s agent takes the conversation."""
    result = await hub.ingest(text, sender=sender)
    response = await client.post(f"/api/interactions/{result.interaction_id}/take")
    assert response.status == 200
    return result.interaction_id


async def next_frame(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    while True:
        msg = await asyncio.wait_for(ws.receive(), 5)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        frame = json.loads(msg.data)
        if frame["type"] == kind:
            return frame


# Not logged in


async def test_every_api_route_but_the_document_needs_a_login(hub: Hub, client) -> None:
    anonymous: Client = await client()
    checked = 0
    for route in api.routes:
        path = concrete(route.path)
        if route.method == "GET":
            response = await anonymous.get(path)
        else:
            # Even with a valid pre-login CSRF pair, a state change needs a session.
            response = await anonymous.http.request(route.method, hub.url(path), json={}, headers={
                "X-CSRF-Token": "t0ken", "Cookie": f"{LOGIN_CSRF_COOKIE}=t0ken"})
        if route.path in PUBLIC:
            assert response.status == 200, route.path
            continue
        assert response.status == 401, (route.method, route.path, response.status)
        assert await error_of(response) == "not_logged_in"
        checked += 1
    assert checked >= 10


async def test_a_change_without_token_is_refused_before_anything(hub: Hub, client) -> None:
    anonymous: Client = await client()
    for route in api.routes:
        if route.method != "GET":
            response = await anonymous.send(route.method, concrete(route.path), json={}, csrf="")
            assert response.status == 403 and await error_of(response) == "csrf_failed", route.path


async def test_the_inbox_page_sends_a_stranger_to_the_login(hub: Hub, client) -> None:
    anonymous: Client = await client()
    response = await anonymous.get("/inbox", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/login")


# Roles and ownership


async def test_an_agent_may_not_use_supervisor_routes(hub: Hub, alice: Client, sam: Client) -> None:
    response = await alice.get("/api/health")
    assert response.status == 403 and await error_of(response) == "forbidden"
    assert (await sam.get("/api/health")).status == 200


async def test_an_agent_cannot_touch_another_agents_conversation(
        hub: Hub, alice: Client, bob: Client) -> None:
    interaction_id = await taken_by(hub, bob)
    customer_id = (await (await bob.get(f"/api/interactions/{interaction_id}")).json())[
        "interaction"]["customer_id"]
    before = await _snapshot(hub)

    attempts = [
        await alice.get(f"/api/interactions/{interaction_id}"),
        await alice.get(f"/api/interactions/{interaction_id}?after_seq=0"),
        await alice.post(f"/api/interactions/{interaction_id}/messages", {"text": "mine", "client_id": "x"}),
        await alice.post(f"/api/interactions/{interaction_id}/close", {"disposition": "other"}),
        await alice.post(f"/api/interactions/{interaction_id}/take"),
        await alice.get(f"/api/customers/{customer_id}"),
    ]
    for response in attempts:
        assert response.status == 403, (response.url, response.status)
        assert await error_of(response) == "forbidden"
    assert await _snapshot(hub) == before

    ws = await alice.ws()
    await next_frame(ws, "hello")
    await ws.send_json({"type": "watch", "interaction_id": interaction_id})
    frame = await next_frame(ws, "error")
    assert frame["code"] == "forbidden"
    await ws.send_json({"type": "typing", "interaction_id": interaction_id, "state": "on"})
    assert (await next_frame(ws, "error"))["code"] == "forbidden"
    await ws.close()


async def test_a_watcher_loses_the_conversation_when_another_agent_takes_it(
        hub: Hub, alice: Client, bob: Client) -> None:
    result = await hub.ingest("hello")
    ws = await alice.ws()
    await next_frame(ws, "hello")
    await ws.send_json({"type": "watch", "interaction_id": result.interaction_id})
    await next_frame(ws, "watching")
    await bob.post(f"/api/interactions/{result.interaction_id}/take")
    assert (await next_frame(ws, "revoked"))["interaction_id"] == result.interaction_id
    await hub.ingest("private now", external_id="after-take")
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(next_frame(ws, "interaction"), 0.5)
    await ws.close()


async def test_a_supervisor_reads_any_conversation(hub: Hub, bob: Client, sam: Client) -> None:
    interaction_id = await taken_by(hub, bob)
    response = await sam.get(f"/api/interactions/{interaction_id}")
    assert response.status == 200
    body = await response.json()
    assert body["messages"][0]["text"] == "hello" and body["may_write"] is False
    customer = await sam.get(f"/api/customers/{body['interaction']['customer_id']}")
    assert customer.status == 200


async def test_identities_are_masked_for_agents_and_clear_for_supervisors(
        hub: Hub, alice: Client, sam: Client) -> None:
    result = await hub.ingest("call me", sender="visitor-42", identities=(
        ("phone", "13812345678"), ("email", "mei@example.cn")))
    masked = await (await alice.get(f"/api/customers/{result.customer_id}")).json()
    clear = await (await sam.get(f"/api/customers/{result.customer_id}")).json()
    assert {i["address"] for i in masked["identities"]} == {"138****5678", "m***@example.cn", "visi…42"}
    assert {i["address"] for i in clear["identities"]} == {"13812345678", "mei@example.cn", "visitor-42"}
    waiting = await (await alice.get("/api/interactions?view=waiting")).json()
    assert waiting["items"][0]["customer"]["name"] == "visi…42"



async def test_a_callers_number_known_to_a_channel_and_as_a_phone_shows_once_as_the_phone(
        hub: Hub, alice: Client) -> None:
    result = await hub.ingest("a call", sender="+8613812345678", identities=(("phone", "+8613812345678"),))
    panel = await (await alice.get(f"/api/customers/{result.customer_id}")).json()
    assert [(i["kind"], i["address"]) for i in panel["identities"]] == [("phone", "+86*******5678")]


# CSRF


async def test_every_post_route_refuses_a_missing_or_wrong_token(hub: Hub, alice: Client) -> None:
    interaction_id = (await hub.ingest("hello")).interaction_id
    before = await _snapshot(hub)
    posts = [r for r in api.routes if r.method == "POST"]
    assert {r.path for r in posts} >= {"/api/interactions/{id}/take", "/api/files", "/api/me/locale"}
    for route in posts:
        path = route.path.replace("{id}", str(interaction_id))
        for token in ("", "wrong-token"):
            response = await alice.post(path, {"text": "x", "disposition": "other", "locale": "zh_CN",
                                               "up_to_seq": 1}, csrf=token)
            assert response.status == 403, (path, token)
            assert await error_of(response) == "csrf_failed"
    logout = await alice.post("/logout", csrf="", allow_redirects=False)
    assert logout.status == 403
    assert await _snapshot(hub) == before
    assert (await alice.get("/api/me")).status == 200, "still logged in"


async def _snapshot(hub: Hub) -> tuple[Any, ...]:
    async with hub.core.sessions() as s:
        interactions = (await s.execute(select(Interaction.id, Interaction.status, Interaction.agent_id,
                                               Interaction.agent_read_seq))).all()
        messages = (await s.execute(select(func.count()).select_from(Message))).scalar_one()
        files = (await s.execute(select(func.count()).select_from(Attachment))).scalar_one()
        locales = (await s.execute(select(Agent.number, Agent.locale))).all()
    return tuple(interactions), messages, files, tuple(locales)


# The websocket


async def test_a_websocket_from_a_foreign_origin_is_refused(hub: Hub, alice: Client) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await alice.ws(origin="https://evil.test")
    assert refused.value.status == 403


async def test_a_websocket_needs_a_login(hub: Hub, client) -> None:
    anonymous: Client = await client()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await anonymous.ws()
    assert refused.value.status == 401


@pytest.mark.parametrize(("frame", "code"), [
    ("{not json", "bad_json"),
    ("[1, 2]", "bad_frame"),
    ('{"type": "dance", "interaction_id": 1}', "unknown_type"),
    ('{"type": "watch", "interaction_id": "1"}', "bad_frame"),
    ('{"type": "watch", "interaction_id": 999999}', "not_found"),
])
async def test_bad_websocket_input_gets_an_error_frame(hub: Hub, alice: Client, bob: Client,
                                                       frame: str, code: str) -> None:
    ws = await alice.ws()
    await next_frame(ws, "hello")
    await ws.send_str(frame)
    assert (await next_frame(ws, "error"))["code"] == code
    await ws.send_json({"type": "ping"})
    assert (await next_frame(ws, "pong"))["type"] == "pong", "the same socket keeps working"
    await ws.close()


async def test_an_oversized_frame_closes_that_socket_only(hub: Hub, alice: Client, bob: Client) -> None:
    other = await bob.ws()
    await next_frame(other, "hello")
    ws = await alice.ws()
    await next_frame(ws, "hello")
    await ws.send_str(json.dumps({"type": "ping", "pad": "x" * 64 * 1024}))
    while True:
        msg = await asyncio.wait_for(ws.receive(), 5)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            break
    assert ws.closed or msg.type != aiohttp.WSMsgType.TEXT
    await other.send_json({"type": "ping"})
    assert (await next_frame(other, "pong"))["type"] == "pong"
    result = await hub.ingest("still flowing")
    inbox = await next_frame(other, "inbox")
    assert inbox["interaction_id"] == result.interaction_id
    await other.close()


# Login, logout, audit


async def test_the_sixth_bad_login_within_a_minute_is_throttled(hub: Hub, client) -> None:
    stranger: Client = await client()
    for _ in range(5):
        response = await stranger.login_attempt("1001", "not the password")
        assert response.status == 401
        assert "The agent number or password is wrong." in await response.text()
    response = await stranger.login_attempt("1001", PASSWORD)
    assert response.status == 429
    assert 0 < int(response.headers["Retry-After"]) <= 61
    assert "Too many failed logins" in await response.text()
    as_json = await stranger.login_attempt("1001", PASSWORD, headers={"Accept": "application/json"})
    assert as_json.status == 429 and await error_of(as_json) == "too_many_attempts"


async def test_logout_invalidates_the_session_cookie(hub: Hub, alice: Client, client) -> None:
    cookie = next(c.value for c in alice.http.cookie_jar if c.key == SESSION_COOKIE)
    response = await alice.http.post(hub.url("/logout"), data={"_csrf": alice.csrf}, allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/login"
    replay: Client = await client()
    gone = await replay.http.get(hub.url("/api/me"), headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})
    assert gone.status == 401


@pytest.mark.parametrize("target", ["//evil.test", "https://evil.test/", "/\\evil.test", "evil.test"])
async def test_login_refuses_an_open_redirect(hub: Hub, client, target: str) -> None:
    c: Client = await client()
    response = await c.login_attempt("1001", PASSWORD, next_path=target)
    assert response.url.host == "127.0.0.1" and response.url.path == "/inbox"
    assert response.history[0].headers["Location"] == "/inbox"


async def test_login_keeps_a_same_site_next(hub: Hub, client) -> None:
    c: Client = await client()
    response = await c.login_attempt("1001", PASSWORD, next_path="/inbox?view=mine")
    assert response.history[0].headers["Location"] == "/inbox?view=mine"


async def test_the_audit_log_records_what_agents_do(hub: Hub, alice: Client) -> None:
    interaction_id = await taken_by(hub, alice)
    reply = await alice.post(f"/api/interactions/{interaction_id}/messages",
                             {"text": "hi", "client_id": "a1"})
    assert reply.status == 200
    detail = await (await alice.get(f"/api/interactions/{interaction_id}")).json()
    await alice.get(f"/api/customers/{detail['interaction']['customer_id']}")
    closed = await alice.post(f"/api/interactions/{interaction_id}/close", {"disposition": "query"})
    assert closed.status == 200
    await alice.post("/api/me/locale", {"locale": "zh_CN"})
    async with hub.core.sessions() as s:
        rows = (await s.execute(select(AuditEntry.action, AuditEntry.target, AuditEntry.agent_id)
                                .order_by(AuditEntry.id))).all()
    alice_id = hub.agents["1001"].id
    assert [(a, t) for a, t, who in rows if who == alice_id] == [
        ("login", "agent:1001"),
        ("interaction.take", f"interaction:{interaction_id}"),
        ("message.reply", f"interaction:{interaction_id}"),
        ("customer.view", f"customer:{detail['interaction']['customer_id']}"),
        ("interaction.close", f"interaction:{interaction_id}"),
        ("agent.locale", "agent:1001"),
    ]


async def test_a_resent_reply_with_the_same_client_id_is_stored_once(hub: Hub, alice: Client) -> None:
    interaction_id = await taken_by(hub, alice)
    first = await (await alice.post(f"/api/interactions/{interaction_id}/messages",
                                    {"text": "once", "client_id": "c-1"})).json()
    again = await (await alice.post(f"/api/interactions/{interaction_id}/messages",
                                    {"text": "once", "client_id": "c-1"})).json()
    assert first == again
