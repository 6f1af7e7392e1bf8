"""An email in the inbox, in real Chromium: its header block, its HTML in a sandboxed frame, and
remote images that stay unfetched until the agent asks for them."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import re
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from browser_helpers import HubServer, fresh_page, log_in
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from playwright.async_api import expect
from sqlalchemy import select

from hub.models import Message
from hub.outbound import send_message, set_delivery
from tests.web.web_helpers import png

pytestmark = pytest.mark.browser
BOUNCE = "bounced: nobody@example.cn: 5.1.1 smtp; 550 5.1.1 User unknown"


@dataclass
class ImageHost:
    """A stranger's image server (HTTPS on 127.0.0.1) that counts every fetch."""

    url: str
    hits: list[str]


def self_signed(directory: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return context


@pytest.fixture
async def image_host(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ImageHost]:
    hits: list[str] = []

    async def image(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=png(), content_type="image/png")

    app = web.Application()
    app.router.add_get("/{name}", image)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self_signed(tmp_path_factory.mktemp("tls")))
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield ImageHost(f"https://127.0.0.1:{port}", hits)
    finally:
        await runner.cleanup()


@pytest.fixture
async def mail_page(browser: Any) -> AsyncIterator[Any]:
    """A page that accepts the image host's self-signed certificate."""
    async with fresh_page(browser, 900, ignore_https_errors=True) as page:
        yield page


async def store_mail(hub_server: HubServer, image_host: ImageHost) -> Any:
    logo = hub_server.core.files.store(png(), "logo.png")
    html = (f'<p>Dear support, my <b>order 4411</b> never came.</p>'
            f'<img src="cid:logo@shop.example" alt="Logo">'
            f'<img src="{image_host.url}/pixel.png" alt="tracker">'
            f'<script>document.title = "ran"</script>'
            f'<img src="x" onerror="parent.document.title = \'ran\'">')
    return await hub_server.ingest(
        "Dear support, my order 4411 never came.", channel="email", sender="mei@example.cn",
        sender_name="Li Mei", subject="Order 4411 missing", attachments=(logo,), meta={
            "kind": "email", "subject": "Order 4411 missing", "from": "mei@example.cn",
            "from_name": "Li Mei", "to": ["support@example-telecom.com"], "cc": ["wang@example.cn"],
            "date": "2026-12-01T09:30:00+08:00", "message_id": "<a1@example.cn>", "html": html,
            "inline": {"logo@shop.example": logo.sha256},
            "refused_files": [{"filename": "setup.exe", "reason": "files of type application/x-msdownload"
                               " are not accepted"}],
            "forwarded": [{"from": "shop@example.com", "subject": "Your order", "date": ""}],
        })


async def bounced_reply(hub_server: HubServer, interaction_id: int, agent_id: int) -> None:
    """An answer that went out and came back: the bounce marks it failed with its reason."""
    core = hub_server.core
    message_id = await send_message(core, interaction_id, "We are checking it.", agent_id=agent_id,
                                    author_name="Alice")
    for _ in range(200):
        async with core.sessions() as s:
            row = (await s.execute(select(Message).where(Message.id == message_id))).scalar_one()
        if row.delivery_status == "failed":
            break
        await asyncio.sleep(0.02)
    await set_delivery(core, message_id, "failed", BOUNCE)


async def test_an_email_shows_its_header_and_its_html_without_phoning_home(
        hub_server: HubServer, mail_page: Any, image_host: ImageHost) -> None:
    page = mail_page
    alice = await hub_server.add_agent("1001", "Alice")
    stored = await store_mail(hub_server, image_host)
    await log_in(page, hub_server, "1001")
    await page.locator("body").click(position={"x": 640, "y": 880})
    await page.keyboard.press("j")
    await page.keyboard.press("Enter")

    message = page.locator("#transcript .msg-in.msg-mail")
    head = message.locator(".mail-head")
    await expect(head.locator(".mail-subject dd")).to_have_text("Order 4411 missing")
    await expect(head.locator(".mail-from dd")).to_have_text("Li Mei <mei@example.cn>")
    await expect(head.locator(".mail-to dd")).to_have_text("support@example-telecom.com")
    await expect(head.locator(".mail-cc dd")).to_have_text("wang@example.cn")
    await expect(head.locator(".mail-date dd")).not_to_be_empty()
    await expect(message.locator(".msg-note-warn")).to_contain_text("setup.exe")
    await expect(message.locator(".msg-note", has_text="Forwarded")).to_contain_text("shop@example.com")

    frame = message.locator("iframe.msg-frame")
    await expect(frame).to_have_attribute("sandbox", "allow-popups allow-popups-to-escape-sandbox")
    await expect(frame).to_have_attribute("src", f"/api/messages/{stored.message_id}/html")
    body = message.frame_locator("iframe.msg-frame")
    await expect(body.locator("b")).to_have_text("order 4411")
    await expect(body.locator("img[alt=Logo]")).to_have_js_property("complete", True)
    logo_width = await body.locator("img[alt=Logo]").evaluate("img => img.naturalWidth")
    assert logo_width == 1, "the inline part loads in the frame, which sends no session cookie"
    await expect(body.locator("img[alt=tracker]")).to_have_count(1)
    await expect(body.locator("img[alt=tracker]")).not_to_have_attribute("src", re.compile("."))
    button = message.locator("button.msg-images")
    await expect(button).to_contain_text("Load remote images (1 blocked)")
    await page.wait_for_timeout(300)
    # Counted at the image host itself: Playwright does not see every request a sandboxed frame makes.
    assert image_host.hits == [], "nothing is fetched from the sender's server before the agent asks"
    assert await page.title() != "ran"
    await page.screenshot(path="/tmp/email-view.png")

    # The button is reachable from the keyboard; pressing it loads the images.
    await button.focus()
    await page.keyboard.press("Enter")
    await expect(frame).to_have_attribute("src", f"/api/messages/{stored.message_id}/html?images=1")
    await expect(body.locator("img[alt=tracker]")).to_have_js_property("complete", True)
    assert await body.locator("img[alt=tracker]").evaluate("img => img.naturalWidth") == 1
    assert image_host.hits == ["/pixel.png"]
    await expect(button).to_be_hidden()
    assert await page.title() != "ran", "no script in the mail ever ran"

    # Taken and answered: the answer bounces, and the agent reads why.
    await page.keyboard.press("t")
    await expect(page.locator("#conv-status")).to_have_text("In progress")
    await bounced_reply(hub_server, stored.interaction_id, int(alice.id or 0))
    sent = page.locator("#transcript .msg-out")
    await expect(sent.locator(".delivery-status")).to_have_text("Failed")
    await expect(sent.locator(".delivery-error")).to_have_text(BOUNCE)
    assert page.errors == []


async def test_l_loads_the_remote_images_and_automatic_mail_is_marked(
        hub_server: HubServer, mail_page: Any, image_host: ImageHost) -> None:
    page = mail_page
    await hub_server.add_agent("1001", "Alice")
    await hub_server.ingest(
        "Short note.", channel="email", sender="lei@example.cn", subject="Note",
        meta={"kind": "email", "subject": "Note", "from": "lei@example.cn", "html": "<p>Short note.</p>"})
    await hub_server.ingest(
        "I am out of the office.", channel="email", sender="lei@example.cn", subject="Out of office",
        meta={"kind": "email", "subject": "Out of office", "from": "lei@example.cn",
              "automatic": "Auto-Submitted: auto-replied",
              "html": f'<p>Away</p><img src="{image_host.url}/banner.png" alt="banner">'})
    await log_in(page, hub_server, "1001")
    await page.locator("body").click(position={"x": 640, "y": 880})
    await page.keyboard.press("j")
    await page.keyboard.press("Enter")
    note, message = page.locator("#transcript .msg-mail").nth(0), page.locator("#transcript .msg-mail").nth(1)
    await expect(note.locator(".badge-auto")).to_have_count(0)
    await expect(message.locator(".badge-auto")).to_have_text("Automatic mail")
    await expect(message.locator(".msg-note").first).to_contain_text("Auto-Submitted: auto-replied")
    await expect(message.locator(".mail-from dd")).to_have_text("lei@example.cn")
    await expect(message.locator("button.msg-images")).to_be_visible()
    height = await note.locator(".msg-frame-box").evaluate("box => box.getBoundingClientRect().height")
    assert 90 <= height < 200, "a short mail without images gets a short frame"
    assert image_host.hits == []
    await page.locator("body").click(position={"x": 640, "y": 880})
    await page.keyboard.press("l")
    body = message.frame_locator("iframe.msg-frame")
    await expect(body.locator("img[alt=banner]")).to_have_js_property("complete", True)
    assert image_host.hits == ["/banner.png"]
    assert page.errors == []
