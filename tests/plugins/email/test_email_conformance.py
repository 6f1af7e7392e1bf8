"""The email channel passes the conformance kit against a real Dovecot and a real SMTP server.

Customers are mail senders: ``inject`` APPENDs their mail to the support mailbox, as an MX
would deliver it; the peer's ``external_id`` becomes the Message-ID, so injecting it again is
the same mail delivered twice. Replies are read off the SMTP server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from dovecot import Dovecot
from mail_support import account_settings, customer_mail, email_settings, new_user, sent_texts
from smtp_server import SmtpTestServer

import plugins.email
from hub.conformance import ChannelContract


class MailPeer:
    """The customers' side: their mail lands in the mailbox; the SMTP server gets replies."""

    def __init__(self, dovecot: Dovecot, user: str, smtp: SmtpTestServer) -> None:
        self.dovecot = dovecot
        self.user = user
        self.smtp = smtp

    def sender_for(self, n: int) -> str:
        return f"customer{n}@example.cn"

    async def inject(self, text: str, sender: str, external_id: str) -> None:
        raw = customer_mail(text, sender, message_id=f"{external_id}@mail.example.cn")
        if self.dovecot.running:
            await self.dovecot.aappend(self.user, raw)
        else:
            # The server is down; the MTA still delivers into the Maildir.
            await asyncio.to_thread(self.dovecot.drop, self.user, raw)

    async def inject_bad(self) -> None:
        await self.dovecot.aappend(self.user, b"\x01\x02 this is no mail: no header, no body\r\n")

    async def sent(self) -> list[str]:
        return sent_texts(self.smtp)

    async def disconnect(self) -> None:
        await self.dovecot.astop()
        await asyncio.to_thread(self.smtp.stop)

    async def reconnect(self) -> None:
        await self.dovecot.astart()
        await asyncio.to_thread(self.smtp.start)


@pytest.fixture
def mailbox_user(dovecot_alive: Dovecot) -> str:
    return new_user(dovecot_alive)


@pytest.fixture
def channel_plugin() -> object:
    return plugins.email


@pytest.fixture
def channel_settings(dovecot_alive: Dovecot, mailbox_user: str, smtp: SmtpTestServer) -> dict[str, Any]:
    return email_settings(account_settings(dovecot_alive, mailbox_user, smtp))


@pytest.fixture
def peer(dovecot_alive: Dovecot, mailbox_user: str, smtp: SmtpTestServer) -> Iterator[MailPeer]:
    driver = MailPeer(dovecot_alive, mailbox_user, smtp)
    yield driver
    if not dovecot_alive.running:
        dovecot_alive.start()


class TestEmailChannel(ChannelContract):
    """Every contract: a mailbox keeps what arrives while the hub cannot reach it."""

    receive_timeout = 15.0
    send_timeout = 20.0
    outage_send_wait = 1.0
    """A reply sent while the mail server is away fails its first try at once and waits, pending,
    for a retry: a second of outage shows that as well as the default five."""
