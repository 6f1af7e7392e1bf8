"""What the email tests share: mail as customers write it, and a hub serving one mailbox."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from dovecot import Dovecot
from smtp_server import SmtpTestServer

import plugins.email
from hub.conformance import wait_for
from hub.core import HubCore, create_hub
from hub.settings import load_settings

PASSWORD = "s3cret-pass"
SPARE_USERS = 300
"""Mailboxes made before the shared server starts: more than one run takes."""
_users = itertools.count(1)
_spare: dict[int, list[str]] = {}


def add_spare_users(dovecot: Dovecot) -> None:
    """Give a server that has not started yet ``SPARE_USERS`` empty mailboxes for
    ``new_user`` to hand out. A user added while the server runs can log in only after
    Dovecot's next read of its users file, at most once a second; these are known from the
    first login on."""
    assert not dovecot.running, "spare users are added before the server starts"
    users = [f"support{next(_users)}@hub.test" for _ in range(SPARE_USERS)]
    dovecot.add_users(dict.fromkeys(users, PASSWORD))
    _spare[id(dovecot)] = users[::-1]


def new_user(dovecot: Dovecot) -> str:
    """A fresh mailbox on the server, so tests never see each other's mail: one of its
    spare users while they last, else one added now."""
    if spare := _spare.get(id(dovecot)):
        return spare.pop()
    user = f"support{next(_users)}@hub.test"
    dovecot.add_user(user, PASSWORD)
    return user


def customer_mail(
    text: str, sender: str = "zhang@example.cn", *, subject: str = "Broadband down",
    message_id: str | None = None, in_reply_to: str = "", references: Sequence[str] = (),
    to: str = "support@hub.test", date: datetime | None = None, name: str = "",
    headers: dict[str, str] | None = None,
) -> bytes:
    """A plain mail as a customer's client sends it."""
    mail = EmailMessage(policy=policy.SMTP)
    mail["From"] = f"{name} <{sender}>" if name else sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = format_datetime(date or datetime.now(UTC))
    if message_id is not None:
        mail["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        mail["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        mail["References"] = " ".join(f"<{r}>" for r in references)
    for key, value in (headers or {}).items():
        mail[key] = value
    mail.set_content(text)
    return mail.as_bytes()


def account_settings(
    dovecot: Dovecot, user: str, smtp: SmtpTestServer | None, **extra: Any,
) -> dict[str, Any]:
    account: dict[str, Any] = {
        "name": "support", "address": user, "display_name": "Support", "imap_host": dovecot.host,
        "imap_port": dovecot.port, "imap_security": "none", "imap_password": PASSWORD,
        "queue": "email",
    }
    if smtp is not None:
        account.update({"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_security": "none",
                        "smtp_auth": False})
    account.update(extra)
    return account


def email_settings(*accounts: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"accounts": list(accounts), "sweep_seconds": 2, "reconnect_max_seconds": 1,
            "login_retry_seconds": 1, "send_lease_seconds": 5, **extra}


async def start_hub(tmp_path: Path, database_url: str, section: dict[str, Any], **settings: Any) -> HubCore:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "var", "database_url": database_url, "redis_url": "",
        "blocked_plugins": [], "plugins": {"email": section}, "run_jobs_in_process": True,
        "routing": False,
    }
    values.update(settings)
    core = create_hub(load_settings(**values), plugins=[plugins.email], load_entry_points=False)
    await core.start()
    return core


def sent_texts(smtp: SmtpTestServer) -> list[str]:
    """The plain-text body of every mail the SMTP server accepted, oldest first."""
    texts = []
    for got in smtp.received:
        body = got.message.get_body(preferencelist=("plain",))
        texts.append(body.get_content() if body is not None else "")
    return texts


async def stored(core: HubCore, count: int, seconds: float = 15) -> list[Any]:
    """Wait until the email channel has stored ``count`` inbound messages; return them."""
    from sqlalchemy import select

    from hub.models import Message

    async def enough() -> list[Any] | None:
        async with core.sessions() as s:
            rows = list((await s.execute(select(Message).where(
                Message.channel == "email", Message.direction == "in").order_by(Message.id))).scalars())
        return rows if len(rows) >= count else None

    rows = await wait_for(enough, seconds, message=f"{count} mails stored")
    await asyncio.sleep(0.3)
    return rows
