"""The widget's REST side: sessions, pre-chat, uploads and downloads, the offline form, pages."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
from sqlalchemy import select
from webchat_support import SHOP, Chat

from hub.conformance.helpers import get_interaction, identity_owner
from hub.models import Attachment, InteractionStatus

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(200)
ELF = b"\x7fELF\x02\x01\x01" + bytes(200)


async def _upload(chat: Chat, token: str, data: bytes, filename: str = "photo.png",
                  client_msg_id: str | None = None) -> aiohttp.ClientResponse:
    form = aiohttp.FormData()
    form.add_field("client_msg_id", client_msg_id or str(uuid.uuid4()))
    form.add_field("file", data, filename=filename, content_type="image/png")
    return await chat.client.post("/channels/web/upload", data=form,
                                  headers={"Authorization": f"Bearer {token}", "Origin": chat.origin})


async def test_an_upload_becomes_a_message_with_the_file(chat: Chat) -> None:
    visitor = await chat.visitor()
    await visitor.connect()
    resp = await _upload(chat, visitor.token, PNG)
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert body["attachment"]["content_type"] == "image/png" and body["seq"] == 1

    message = await visitor.expect("message")
    assert message["attachments"] == [body["attachment"]]
    download = await chat.client.get(f"/channels/web/files/{body['attachment']['sha256']}",
                                     headers={"Authorization": f"Bearer {visitor.token}"})
    assert download.status == 200 and await download.read() == PNG
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["Content-Type"] == "image/png"


async def test_a_visitor_may_download_only_their_own_files(chat: Chat) -> None:
    owner, stranger = await chat.token(), await chat.token()
    sha = (await (await _upload(chat, owner, PNG)).json())["attachment"]["sha256"]
    for token, status in ((stranger, 404), ("forged", 401)):
        resp = await chat.client.get(f"/channels/web/files/{sha}",
                                     headers={"Authorization": f"Bearer {token}"})
        assert resp.status == status
    resp = await chat.client.get(f"/channels/web/files/{sha}")
    assert resp.status == 401


async def test_uploads_that_are_too_large_disguised_or_unsigned_are_refused(chat: Chat) -> None:
    token = await chat.token()
    too_large = await _upload(chat, token, PNG + bytes(5000))
    assert too_large.status == 413 and (await too_large.json())["error"] == "file_too_large"
    disguised = await _upload(chat, token, ELF, filename="holiday.png")
    assert disguised.status == 415 and (await disguised.json())["error"] == "file_type_refused"
    unsigned = await _upload(chat, "not-a-token", PNG)
    assert unsigned.status == 401 and (await unsigned.json())["error"] == "session_invalid"
    no_id = await _upload(chat, token, PNG, client_msg_id="nope")
    assert no_id.status == 400
    assert await chat.count() == 0
    async with chat.core.sessions() as s:
        assert (await s.execute(select(Attachment))).first() is None


async def test_prechat_details_become_the_customers_identities(chat: Chat) -> None:
    visitor = await chat.visitor(name="Li Lei", phone="+86 138-0013-8000", email="Li.Lei@Example.com")
    await visitor.connect()
    ack = await visitor.say("hello")
    customer = (await get_interaction(chat.core, ack["conversation_id"])).customer_id
    assert await identity_owner(chat.core, "phone", "+8613800138000") == customer
    assert await identity_owner(chat.core, "email", "li.lei@example.com") == customer


async def test_prechat_fields_are_checked(chat: Chat, web_settings: dict[str, Any]) -> None:
    chat.channel.config.prechat = True
    chat.channel.config.prechat_required = ["name", "email"]
    for fields, error in (({"name": "A"}, "missing_email"), ({"name": "A", "email": "nope"}, "bad_email"),
                          ({"name": "A", "email": "a@b.cn", "phone": "call me"}, "bad_phone"),
                          ({"name": "x" * 500, "email": "a@b.cn"}, "bad_name")):
        resp = await chat.client.post("/channels/web/session", json=fields)
        assert resp.status == 400 and (await resp.json())["error"] == error
    resp = await chat.client.post("/channels/web/session", data=b"{broken",
                                  headers={"Content-Type": "application/json"})
    assert resp.status == 400 and (await resp.json())["error"] == "bad_json"


async def test_the_offline_form_is_stored_awaiting_follow_up(chat: Chat) -> None:
    chat.core.presence.clear()
    config = await (await chat.client.get("/channels/web/config")).json()
    assert config["online"] is False
    form = {"name": "Wang Fang", "email": "fang@example.cn", "phone": "", "message": "Call me back please",
            "client_msg_id": str(uuid.uuid4())}
    resp = await chat.client.post("/channels/web/offline", json=form, headers={"Origin": chat.origin})
    assert resp.status == 201, await resp.text()
    interaction = await get_interaction(chat.core, (await resp.json())["conversation_id"])
    assert interaction.status == InteractionStatus.FOLLOWUP
    assert await identity_owner(chat.core, "email", "fang@example.cn") == interaction.customer_id
    again = await chat.client.post("/channels/web/offline", json=form)  # a double click stores once
    assert (await again.json())["conversation_id"] == interaction.id
    assert await chat.count() == 1
    bad = await chat.client.post("/channels/web/offline", json={**form, "email": "", "client_msg_id": None})
    assert bad.status == 400 and (await bad.json())["error"] == "missing_contact"


async def test_cors_answers_only_allowed_origins(chat: Chat) -> None:
    preflight = await chat.client.options("/channels/web/session", headers={
        "Origin": SHOP, "Access-Control-Request-Method": "POST"})
    assert preflight.headers["Access-Control-Allow-Origin"] == SHOP
    assert "Origin" in preflight.headers["Vary"]
    ok = await chat.client.post("/channels/web/session", json={}, headers={"Origin": SHOP})
    assert ok.status == 200 and ok.headers["Access-Control-Allow-Origin"] == SHOP
    evil = await chat.client.post("/channels/web/session", json={}, headers={"Origin": "https://evil.test"})
    assert evil.status == 403 and "Access-Control-Allow-Origin" not in evil.headers
    read = await chat.client.get("/channels/web/config", headers={"Origin": "https://evil.test"})
    assert "Access-Control-Allow-Origin" not in read.headers


async def test_sessions_are_rate_limited_per_address(chat: Chat) -> None:
    chat.channel.session_limit.burst = 3.0
    chat.channel.session_limit.rate = 0.0
    statuses = [(await chat.client.post("/channels/web/session", json={})).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


async def test_a_session_is_renewed_for_the_same_visitor(chat: Chat) -> None:
    token = await chat.token(name="Ann")
    renewed = await (await chat.client.post("/channels/web/session", json={"token": token})).json()
    signer = chat.core.facade("web").signer("visitor")
    assert signer.loads(renewed["token"]) == signer.loads(token)
    fresh = await (await chat.client.post("/channels/web/session", json={"token": "forged"})).json()
    assert signer.loads(fresh["token"])["v"] != signer.loads(token)["v"]


async def test_the_frame_may_be_embedded_only_by_allowed_sites_and_runs_no_inline_script(chat: Chat) -> None:
    resp = await chat.client.get("/channels/web/frame")
    csp = resp.headers["Content-Security-Policy"]
    assert f"frame-ancestors 'self' {SHOP}" in csp
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp
    page = await resp.text()
    assert 'id="chat-log"' in page and "<script>" not in page
    widget = await chat.client.get("/channels/web/widget.js")
    assert widget.status == 200 and "javascript" in widget.headers["Content-Type"]
    demo = await (await chat.client.get("/channels/web/demo")).text()
    assert f'<script src="{chat.origin}/channels/web/widget.js" async></script>' in demo


async def test_the_frame_gets_its_strings_in_the_visitors_language(chat: Chat) -> None:
    zh = await (await chat.client.get("/channels/web/config", params={"lang": "zh-CN,en"})).json()
    assert zh["locale"] == "zh-CN" and zh["catalog"]["Send"] == "发送"
    en = await (await chat.client.get("/channels/web/config", params={"lang": "fr-FR"})).json()
    assert en["locale"] == "en" and en["catalog"] == {}
    assert en["online"] is True and en["max_text"] == 2000
