"""Which conversation a mail joins, which mail is answered automatically, and what is kept
of a mail that is more than text: against a real Dovecot and a real SMTP server.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from dovecot import Dovecot
from mail_support import account_settings, customer_mail, email_settings, new_user, start_hub
from smtp_server import SmtpTestServer
from sqlalchemy import func, select

from hub.conformance import wait_for
from hub.core import HubCore
from hub.db import transaction
from hub.inbox import close_row
from hub.models import Agent, AgentUnit, Disposition, Interaction, Message, OrgUnit
from hub.outbound import send_message
from hub.tickets import service

CUSTOMER = "zhang@example.cn"


@pytest.fixture
def user(dovecot_alive: Dovecot) -> str:
    # Known to the server before its first login (see new_user): a login that fails for a
    # user it does not know yet slows every later login.
    return new_user(dovecot_alive)


@pytest.fixture
def section(dovecot_alive: Dovecot, user: str, smtp: SmtpTestServer) -> dict[str, Any]:
    return email_settings(account_settings(dovecot_alive, user, smtp), sweep_seconds=1)


@pytest.fixture
async def core(tmp_path: Path, database_url: str, section: dict[str, Any]) -> AsyncIterator[HubCore]:
    hub = await start_hub(tmp_path, database_url, section)
    try:
        yield hub
    finally:
        await hub.stop()


class Mailbox:
    """The support mailbox as customers and the hub see it."""

    def __init__(self, core: HubCore, dovecot: Dovecot, user: str, smtp: SmtpTestServer) -> None:
        self.core, self.dovecot, self.user, self.smtp = core, dovecot, user, smtp

    async def deliver(self, raw: bytes) -> None:
        await self.dovecot.aappend(self.user, raw)

    async def receive(self, text: str, sender: str = CUSTOMER, **headers: Any) -> Message:
        """Deliver a customer's mail and return it once stored."""
        await self.deliver(customer_mail(text, sender, **headers))
        return await self.stored(text)

    async def stored(self, text: str) -> Message:
        async def find() -> Message | None:
            rows = await self.inbound()
            return next((m for m in rows if m.text.strip() == text), None)

        return await wait_for(find, 10, interval=0.05, message=f"{text!r} stored")

    async def inbound(self) -> list[Message]:
        async with self.core.sessions() as s:
            return list((await s.execute(select(Message).where(
                Message.channel == "email", Message.direction == "in").order_by(Message.id))).scalars())

    async def answer(self, message: Message, text: str) -> tuple[int, str]:
        """An agent answers in the message's conversation: the reply's id and the Message-ID
        the SMTP server received."""
        before = len(self.smtp.received)
        reply_id = await send_message(self.core, message.interaction_id, text)
        got = await self.smtp.wait_for_async(before + 1, 10)
        return reply_id, str(got[-1].message["Message-ID"]).strip("<> ")

    async def interaction(self, interaction_id: int) -> Interaction:
        async with self.core.sessions() as s:
            row = await s.get(Interaction, interaction_id)
        assert row is not None
        return row

    async def interactions(self) -> int:
        async with self.core.sessions() as s:
            return int((await s.execute(select(func.count()).select_from(Interaction))).scalar_one())

    async def close(self, interaction_id: int) -> None:
        async with transaction(self.core.sessions) as s:
            row = await s.get(Interaction, interaction_id)
            code = (await s.execute(select(Disposition.code).limit(1))).scalar_one()
            assert row is not None
            await close_row(s, row, code, "")


@pytest.fixture
def mailbox(core: HubCore, dovecot_alive: Dovecot, user: str, smtp: SmtpTestServer) -> Mailbox:
    return Mailbox(core, dovecot_alive, user, smtp)


def tag(word: str) -> str:
    return f"{word} {uuid.uuid4().hex[:8]}"


def mid() -> str:
    return f"{uuid.uuid4().hex}@mail.example.cn"


# -- threading -------------------------------------------------------------------------


async def test_replies_to_our_reply_join_the_conversation(mailbox: Mailbox) -> None:
    first_id = mid()
    first = await mailbox.receive(tag("my broadband is down"), message_id=first_id)
    _, ours = await mailbox.answer(first, "We are sending an engineer.")
    assert ours.startswith("ch.")

    by_reply = await mailbox.receive(tag("thanks, when?"), message_id=mid(), in_reply_to=ours,
                                     subject="Re: Broadband down")
    # A client that keeps only References (and not the last id first).
    by_references = await mailbox.receive(tag("still waiting"), message_id=mid(),
                                          references=[first_id, ours], subject="Re: Broadband down")
    assert by_reply.interaction_id == by_references.interaction_id == first.interaction_id

    await mailbox.close(first.interaction_id)
    after_close = await mailbox.receive(tag("it broke again"), message_id=mid(), in_reply_to=ours)
    assert after_close.interaction_id != first.interaction_id
    old, new = (await mailbox.interaction(first.interaction_id),
                await mailbox.interaction(after_close.interaction_id))
    assert new.thread_key == old.thread_key and new.closed_at is None


async def test_forged_reference_opens_a_new_conversation_and_is_logged(
    mailbox: Mailbox, caplog: pytest.LogCaptureFixture,
) -> None:
    first = await mailbox.receive(tag("question"), message_id=mid())
    reply_id, ours = await mailbox.answer(first, "An answer.")
    domain = ours.rpartition("@")[2]
    forged = f"ch.{reply_id}.AAAAAAAAAAAAAAAAAAAAAAAAAA@{domain}"
    # The same sender even: a forged id joins nothing, whoever names it.
    stranger = await mailbox.receive(tag("let me in"), message_id=mid(), in_reply_to=forged)
    assert stranger.interaction_id != first.interaction_id
    assert (await mailbox.interaction(stranger.interaction_id)).thread_key != \
        (await mailbox.interaction(first.interaction_id)).thread_key
    lines = [r.getMessage() for r in caplog.records if forged in r.getMessage()]
    assert len(lines) == 1 and "not signed by us" in lines[0]


async def test_ticket_tag_joins_the_tickets_conversation_for_its_customer_only(mailbox: Mailbox) -> None:
    first = await mailbox.receive(tag("no signal at home"), message_id=mid())
    number = await _ticket_for(mailbox.core, first.interaction_id)
    subject = f"More details [#{number}]"
    same = await mailbox.receive(tag("here is a photo"), message_id=mid(), subject=subject)
    assert same.interaction_id == first.interaction_id
    other = await mailbox.receive(tag("I am someone else"), "li@example.cn", message_id=mid(),
                                  subject=subject)
    assert other.interaction_id != first.interaction_id


async def _ticket_for(core: HubCore, interaction_id: int) -> str:
    async with transaction(core.sessions) as s:
        centre = (await s.execute(select(OrgUnit.id).where(OrgUnit.code == "centre"))).scalar_one()
        agent = Agent(number=uuid.uuid4().hex[:8], name="Li", password_hash="", role="agent")
        s.add(agent)
        await s.flush()
        s.add(AgentUnit(agent_id=agent.id, unit_id=centre))
    ticket = await service.create(core, agent, service.NewTicket(
        type="complaint", title="No signal", interaction_id=interaction_id))
    return ticket.number


# -- bounces ---------------------------------------------------------------------------


def delivery_status(original_id: str, recipient: str = "nobody@example.cn") -> bytes:
    """An RFC 3464 report as Postfix sends it, with the original's headers."""
    return f"""\
From: MAILER-DAEMON@mx.example.cn (Mail Delivery System)
To: support@hub.test
Subject: Undelivered Mail Returned to Sender
Date: {format_datetime(datetime.now(UTC))}
Message-ID: <{mid()}>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not be delivered.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.cn

Final-Recipient: rfc822; {recipient}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 User unknown

--b1
Content-Type: text/rfc822-headers

From: support@hub.test
To: {recipient}
Subject: Re: Broadband down
Message-ID: <{original_id}>

--b1--
""".replace("\n", "\r\n").encode()


async def test_bounce_of_our_reply_marks_it_failed_and_opens_nothing(mailbox: Mailbox) -> None:
    first = await mailbox.receive(tag("please call me"), message_id=mid())
    reply_id, ours = await mailbox.answer(first, "We will call you.")
    opened = await mailbox.interactions()
    await mailbox.deliver(delivery_status(ours))

    async def failed() -> dict[str, Any] | None:
        message = await mailbox.core.facade("email").message(reply_id)
        return message if message["delivery_status"] == "failed" else None

    message = await wait_for(failed, 10, message="the reply marked failed")
    assert message["delivery_error"].startswith("bounced: nobody@example.cn: 5.1.1")
    assert "User unknown" in message["delivery_error"]
    marker = await mailbox.receive(tag("after the bounce"), "li@example.cn")
    assert await mailbox.interactions() == opened + 1  # the marker's, none for the bounce
    assert [m.id for m in await mailbox.inbound()] == [first.id, marker.id]


async def test_bounce_of_mail_we_never_sent_is_stored_like_any_mail(mailbox: Mailbox) -> None:
    await mailbox.deliver(delivery_status(mid()))

    rows = await wait_for(mailbox.inbound, 10, message="the bounce stored")
    assert len(rows) == 1 and "could not be delivered" in rows[0].text
    assert rows[0].meta["automatic"]


# -- acknowledgements ------------------------------------------------------------------


@pytest.fixture
def acknowledging(dovecot_alive: Dovecot, user: str, smtp: SmtpTestServer) -> dict[str, Any]:
    account = account_settings(dovecot_alive, user, smtp, auto_reply="We received your mail.")
    return email_settings(account, sweep_seconds=1)


async def test_acknowledgement_goes_once_to_a_new_conversation_and_never_to_automatic_mail(
    tmp_path: Path, database_url: str, acknowledging: dict[str, Any], dovecot_alive: Dovecot,
    user: str, smtp: SmtpTestServer,
) -> None:
    core = await start_hub(tmp_path, database_url, acknowledging)
    try:
        box = Mailbox(core, dovecot_alive, user, smtp)
        await box.receive(tag("first conversation"), message_id=mid())
        got = await smtp.wait_for_async(1, 10)
        ack = got[0].message
        assert ack["To"] == CUSTOMER and ack["Auto-Submitted"] == "auto-replied"
        assert "We received your mail." in ack.get_body(preferencelist=("plain",)).get_content()

        quiet = [
            box.receive(tag("second conversation, same sender"), message_id=mid(), subject="Other"),
            box.receive(tag("auto-submitted"), "robot@example.cn",
                        headers={"Auto-Submitted": "auto-generated"}),
            box.receive(tag("bulk"), "news@example.cn", headers={"Precedence": "bulk"}),
            box.receive(tag("a list"), "list@example.cn", headers={"List-Id": "<users.example.cn>"}),
            box.receive(tag("from ourselves"), user),
        ]
        for receiving in quiet:
            await receiving
        assert await box.interactions() == 6
        await asyncio.sleep(1.0)  # an acknowledgement job would have sent by now
        assert [r.message["To"] for r in smtp.received] == [CUSTOMER]
    finally:
        await core.stop()


# -- what a mail carries besides text --------------------------------------------------

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
       b"\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(48) + b"PE\x00\x00" + bytes(200)


async def test_html_only_mail_with_an_inline_image_and_a_refused_file(mailbox: Mailbox) -> None:
    mail = EmailMessage(policy=policy.SMTP)
    mail["From"], mail["To"], mail["Subject"] = CUSTOMER, mailbox.user, "Photo of the router"
    mail["Message-ID"] = f"<{mid()}>"
    mail.set_content('<html><body><p>The <b>red</b> light blinks:</p><img src="cid:router@x.cn">'
                     "</body></html>", subtype="html")
    mail.add_related(PNG, "image", "png", cid="<router@x.cn>", filename="router.png")
    mail.make_mixed()
    mail.add_attachment(EXE, "application", "octet-stream", filename="fix.exe")
    await mailbox.deliver(mail.as_bytes())

    [message] = await wait_for(mailbox.inbound, 10, message="the HTML mail stored")
    assert "The red light blinks:" in " ".join(message.text.split())
    assert "<b>red</b>" in message.meta["html"]
    assert message.meta["inline"] == {"router@x.cn": hashlib.sha256(PNG).hexdigest()}
    stored = await mailbox.core.facade("email").message(message.id)
    files = [(a["filename"], a["content_type"]) for a in stored["attachments"]]
    assert files == [("router.png", "image/png")]
    [refused] = message.meta["refused_files"]
    assert refused["filename"] == "fix.exe" and "x-msdownload" in refused["reason"]


async def test_mail_labelled_gb2312_keeps_its_gbk_characters(mailbox: Mailbox) -> None:
    # 镕 is in GBK but not in GB2312: a strict GB2312 decoder loses it.
    name, text = "朱镕基", "朱镕基先生的宽带坏了"
    subject = f"=?gb2312?B?{base64.b64encode(name.encode('gbk')).decode()}?="
    head = (f"From: {CUSTOMER}\r\nTo: {mailbox.user}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{mid()}>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
    await mailbox.deliver(head.encode() + text.encode("gbk") + b"\r\n")
    [message] = await wait_for(mailbox.inbound, 10, message="the GB2312 mail stored")
    assert message.text.strip() == text
    assert message.meta["subject"] == name
