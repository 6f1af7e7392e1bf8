"""Replies leave through a background job: one copy per reply, however the job is retried.

``EmailChannel.send`` only queues ``email.send`` with the message id. The job takes a lease
on the message before it talks to the server, so two runs (a retry, a sweep, a second
worker) never send it at once; it skips a message already reported sent or failed. A
worker that dies while sending lets the lease lapse; the sweep ``email.resend_stalled``
then queues the message again. The only window left is between the server's "250" and the
job recording it: a crash exactly there sends the reply again with the same Message-ID,
which mail clients show as one message.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hub.errors import AuthFailed, ChannelError, NotFound
from plugins.email.accounts import Accounts, smtp_server
from plugins.email.compose import FileToSend, Quoted, build_message, references_for, reply_subject
from plugins.email.config import EmailConfig
from plugins.email.ids import MessageIds
from plugins.email.smtp import submit
from plugins.email.threads import thread_sender

if TYPE_CHECKING:
    from email.message import EmailMessage

    from hub.facade import Hub

SEND = "email.send"


def message_ids(hub: Hub) -> MessageIds:
    return MessageIds(hub.signer("message-id").make_signer())


async def send_job(hub: Hub, message_id: int) -> None:
    """Send stored reply ``message_id``; raises ``NotReady`` for a retry later."""
    config = EmailConfig.from_settings(hub.settings)
    try:
        message = await hub.message(message_id)
    except NotFound:
        return
    if message["direction"] != "out" or message["delivery_status"] != "pending":
        return
    lease = f"send:{message_id}"
    if not await hub.claim(lease, config.send_lease_seconds, {"by": f"{socket.gethostname()}:{os.getpid()}"}):
        return  # another run holds it; if that run dies, the sweep queues this again
    try:
        # Read again under the lease: a run that finished just before we took it has
        # recorded the outcome and released the lease.
        message = await hub.message(message_id)
        if message["delivery_status"] != "pending":
            return
        account = await Accounts(hub, config).get(str(message["entry"]))
        if account is None or not account.smtp_host:
            await hub.record_delivery(message_id, "failed",
                                      f"the mail account {message['entry']!r} has no SMTP server set")
            return
        mail, recipient = await compose_reply(hub, account, message)
        try:
            reply = await submit(smtp_server(account), mail, recipients=[recipient])
        except (AuthFailed, ChannelError) as err:
            await hub.record_delivery(message_id, "failed", str(err))
            return
        await hub.record_delivery(message_id, "sent", provider_id=str(mail["Message-ID"]).strip("<>"))
        hub.log.info("email %s sent to %s: %s", message_id, recipient, reply[:80])
    finally:
        # Sent, failed or to be retried: the status now says what a later run must do.
        await hub.delete_state(lease)


async def give_up(hub: Hub, err: Exception, message_id: int) -> None:
    await hub.record_delivery(message_id, "failed", f"gave up after retries: {err}")


async def resend_stalled(hub: Hub) -> int:
    """Periodic: queue again the replies pending for longer than a send lease."""
    config = EmailConfig.from_settings(hub.settings)
    stalled = await hub.pending_outbound(config.send_lease_seconds)
    for message_id in stalled:
        hub.enqueue(SEND, message_id)
    return len(stalled)


async def compose_reply(hub: Hub, account: Any, message: dict[str, Any]) -> tuple[EmailMessage, str]:
    """The reply as a MIME message and the address it goes to."""
    thread_key = str(message["thread_key"])
    parents = await hub.thread_messages(thread_key, direction="in", limit=1)
    parent = parents[0]["meta"] if parents else {}
    recipient = parent.get("reply_to") or parent.get("from") or thread_sender(thread_key)
    if not recipient:
        raise ChannelError("this conversation has no address to answer")
    ticket = await hub.thread_ticket(thread_key)
    subject = reply_subject(parent.get("subject") or str(message.get("subject") or ""),
                            f"[#{ticket}]" if ticket else "")
    quote = None
    if parents:
        quote = Quoted(sender=_display(parent), date=_date(parent.get("date", "")),
                       text=str(parents[0]["text"]))
    files = [FileToSend(a["filename"], a["content_type"], hub.file_path(a["sha256"]).read_bytes())
             for a in message["attachments"]]
    parent_id = str(parent.get("message_id", ""))
    to_name = str(parent.get("from_name", "")) if recipient == parent.get("from") else ""
    mail = build_message(
        from_addr=account.address, from_name=account.display_name or str(message.get("author_name", "")),
        to_addr=recipient, to_name=to_name,
        subject=subject, text=str(message["text"]),
        message_id=message_ids(hub).make(int(message["id"]), account.domain),
        in_reply_to=parent_id,
        references=references_for(parent.get("references", []), parent.get("in_reply_to", []), parent_id)
        if parent_id else [],
        quote=quote, signature=account.signature, attachments=files,
        automatic=message.get("author_type") == "system",
    )
    return mail, str(recipient)


def _display(meta: dict[str, Any]) -> str:
    name, addr = meta.get("from_name", ""), meta.get("from", "")
    return f"{name} <{addr}>" if name else str(addr)


def _date(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


