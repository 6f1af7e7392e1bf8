"""A message's HTML body as the inbox frames it: sanitised, sandboxed, only for who may see it."""

from __future__ import annotations

import base64
import re

import aiohttp
import pytest
from web_helpers import Client, Hub, png

from hub.ingest import IngestResult
from hub.web import message_html

HTML = ('<html><head><title>Order</title><script>steal(document.cookie)</script></head><body>'
        '<p onclick="alert(1)">Your <b>order</b> has shipped.</p>'
        '<img src="cid:logo@shop.example" alt="Logo">'
        '<img src="https://tracker.example/open.gif" onerror="alert(2)">'
        '<a href="javascript:alert(3)">track</a></body></html>')


async def mail(hub: Hub, html: str = HTML, sender: str = "mei@example.cn") -> IngestResult:
    """An email with an HTML body and its inline logo, stored as the email channel would."""
    logo = hub.core.files.store(png(), "logo.png")
    return await hub.ingest("Your order has shipped.", channel="email", sender=sender,
                            attachments=(logo,), subject="Order shipped", meta={
                                "kind": "email", "subject": "Order shipped", "from": sender,
                                "html": html, "inline": {"logo@shop.example": logo.sha256}})


async def body(c: Client, message_id: int, query: str = "") -> tuple[aiohttp.ClientResponse, str]:
    response = await c.get(f"/api/messages/{message_id}/html{query}")
    return response, await response.text()


async def test_the_body_is_a_tiny_document_with_nothing_that_runs(hub: Hub, alice: Client) -> None:
    response, text = await body(alice, (await mail(hub)).message_id)
    assert response.status == 200 and response.content_type == "text/html"
    assert text.startswith("<!doctype html><meta charset=utf-8>") and "<base target=_blank>" in text
    assert "<b>order</b> has shipped." in text
    for gone in ("<script", "steal", "onclick", "onerror", "javascript:", "<title"):
        assert gone not in text, gone


async def test_inline_images_travel_inside_the_page(hub: Hub, alice: Client) -> None:
    # The sandboxed frame's requests carry no session cookie: the parts come as data: URLs.
    _response, text = await body(alice, (await mail(hub)).message_id)
    src = re.search(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="Logo">', text)
    assert src, text
    assert base64.b64decode(src.group(1)) == png()
    assert "cid:" not in text


async def test_inline_parts_past_the_budget_are_left_out(hub: Hub, alice: Client,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(message_html, "INLINE_BUDGET", len(png()) - 1)
    _response, text = await body(alice, (await mail(hub)).message_id)
    assert '<img alt="Logo">' in text and "data:" not in text


async def test_remote_images_are_held_back_until_asked_for(hub: Hub, alice: Client) -> None:
    message_id = (await mail(hub)).message_id
    response, text = await body(alice, message_id)
    assert "tracker.example" not in text
    assert response.headers["X-Blocked-Images"] == "1"
    assert "https:" not in image_sources(response)

    response, text = await body(alice, message_id, "?images=1")
    assert '<img src="https://tracker.example/open.gif">' in text
    assert response.headers["X-Blocked-Images"] == "0"
    assert image_sources(response) == ["'self'", "data:", "https:"]


def image_sources(response: aiohttp.ClientResponse) -> list[str]:
    policy = dict(d.strip().split(" ", 1) for d in response.headers["Content-Security-Policy"].split(";"))
    return policy["img-src"].split()


async def test_the_frame_is_sandboxed_and_may_only_sit_in_our_own_pages(hub: Hub, alice: Client) -> None:
    response, _text = await body(alice, (await mail(hub)).message_id)
    policy = [d.strip() for d in response.headers["Content-Security-Policy"].split(";")]
    assert policy[0].split()[0] == "sandbox"
    assert "allow-scripts" not in policy[0] and "allow-same-origin" not in policy[0]
    assert "default-src 'none'" in policy and "style-src 'unsafe-inline'" in policy
    assert "frame-ancestors 'self'" in policy and not any(d.startswith("script-src") for d in policy)
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    other = await alice.get("/api/me")
    assert other.headers["X-Frame-Options"] == "DENY", "other pages still refuse to be framed"


async def test_only_someone_who_sees_the_conversation_sees_the_body(
        hub: Hub, alice: Client, bob: Client, sam: Client) -> None:
    stored = await mail(hub)
    # Waiting: any agent may look before taking it.
    assert (await body(bob, stored.message_id))[0].status == 200
    assert (await alice.post(f"/api/interactions/{stored.interaction_id}/take")).status == 200
    refused, _text = await body(bob, stored.message_id)
    assert refused.status == 403 and (await refused.json())["error"] == "forbidden"
    assert (await body(alice, stored.message_id))[0].status == 200
    assert (await body(sam, stored.message_id))[0].status == 200, "supervisors see every conversation"


async def test_no_html_body_or_no_message_is_not_found(hub: Hub, alice: Client, client) -> None:
    plain = await hub.ingest("just text", sender="visitor-9")
    for message_id in (plain.message_id, 999_999, "x"):
        response, _text = await body(alice, message_id)  # type: ignore[arg-type]
        assert response.status == 404 and (await response.json())["error"] == "not_found"
    anonymous: Client = await client()
    assert (await body(anonymous, plain.message_id))[0].status == 401
