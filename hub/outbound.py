"""Outbound: an agent's reply is stored, handed to its channel, and its fate recorded."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.channel import DeliveryStatus
from hub.core import DELIVERIES
from hub.db import insert_for, transaction
from hub.errors import InvalidRequest
from hub.events import MessageEvent
from hub.ingest import next_seq
from hub.messages import AttachmentRef, OutboundMessage
from hub.models import Attachment, Interaction, InteractionStatus, Message, utcnow

if TYPE_CHECKING:
    from hub.core import HubCore

log = logging.getLogger("contacthub.outbound")


async def send_message(
    core: HubCore, interaction_id: int, text: str, *, agent_id: int | None = None,
    author_name: str = "", author_type: str = "agent", client_id: str = "",
    attachments: tuple[AttachmentRef, ...] = (), after_seq: int | None = None,
) -> int:
    """Store an outbound message (once per ``client_id``) and deliver it in the background.

    Returns the message id. A replay with the same ``client_id`` returns the first id and
    sends nothing again. With ``after_seq`` the message is stored only while it directly
    follows that message (a job deciding on what it saw), else ``interaction_moved`` (409).
    """
    if not text.strip() and not attachments:
        raise InvalidRequest("empty_message", "write a message or attach a file")
    external_id = f"out:{client_id or uuid.uuid4()}"
    try:
        message_id, channel, seq = await _store(
            core, interaction_id, external_id, text, agent_id, author_name, author_type, attachments,
            after_seq,
        )
    except _AlreadyStored as replay:
        return replay.message_id
    await core.message_event(MessageEvent("outbound", message_id, interaction_id, channel, seq,
                                          status=DeliveryStatus.PENDING))
    if core.serves_channels:
        core.spawn(deliver(core, message_id))
    else:
        await core.bus.publish(DELIVERIES, {"message_id": message_id})
    return message_id


class _AlreadyStored(Exception):
    def __init__(self, message_id: int) -> None:
        self.message_id = message_id


async def _store(
    core: HubCore, interaction_id: int, external_id: str, text: str, agent_id: int | None,
    author_name: str, author_type: str, attachments: tuple[AttachmentRef, ...], after_seq: int | None,
) -> tuple[int, str, int]:
    async with transaction(core.sessions) as s:
        interaction = await s.get(Interaction, interaction_id)
        if interaction is None or interaction.status == InteractionStatus.CLOSED:
            raise InvalidRequest("interaction_closed", "this conversation is closed", status=409)
        try:
            seq = await next_seq(s, interaction_id, after_seq)
        except LookupError as err:
            raise InvalidRequest("interaction_moved", "the conversation has new messages",
                                 status=409) from err
        message_id = (await s.execute(
            insert_for(s, Message).values(
                interaction_id=interaction_id, channel=interaction.channel,
                external_id=external_id, seq=seq, direction="out", author_type=author_type,
                agent_id=agent_id, author_name=author_name, text=text,
                delivery_status=DeliveryStatus.PENDING, created_at=utcnow(),
            ).on_conflict_do_nothing(index_elements=["channel", "external_id"])
            .returning(Message.id)
        )).scalar_one_or_none()
        if message_id is None:
            raise _AlreadyStored(await _existing_id(s, interaction.channel, external_id))
        for ref in attachments:
            s.add(Attachment(sha256=ref.sha256, filename=ref.filename, size=ref.size,
                             content_type=ref.content_type, message_id=message_id,
                             uploaded_by=f"agent:{agent_id}"))
        return message_id, interaction.channel, seq


async def _existing_id(s: AsyncSession, channel: str, external_id: str) -> int:
    return int((await s.execute(select(Message.id).where(
        Message.channel == channel, Message.external_id == external_id))).scalar_one())


async def deliver(core: HubCore, message_id: int) -> None:
    """Hand a stored outbound message to its channel and record what happened."""
    async with core.sessions() as s:
        row = (await s.execute(
            select(Message, Interaction).join(Interaction, Interaction.id == Message.interaction_id)
            .where(Message.id == message_id)
        )).one()
        message, interaction = row
        files = (await s.execute(select(Attachment).where(Attachment.message_id == message_id))).scalars()
        refs = tuple(AttachmentRef(a.sha256, a.filename, a.content_type, a.size) for a in files)
    out = OutboundMessage(
        message_id=message_id, interaction_id=interaction.id, channel=interaction.channel,
        thread_key=interaction.thread_key, recipient=interaction.thread_key, seq=message.seq,
        text=message.text, author_name=message.author_name, author_type=message.author_type,
        attachments=refs, subject=interaction.subject, created_at=message.created_at.isoformat(),
        entry=interaction.entry,
    )
    channel = core.channels.get(interaction.channel)
    if channel is None:
        await set_delivery(core, message_id, DeliveryStatus.FAILED,
                           f"channel {interaction.channel} is not loaded")
        return
    result = await channel.deliver(out)
    if result.status == DeliveryStatus.PENDING:
        return  # handed to the channel's own background job, which reports the outcome
    await set_delivery(core, message_id, result.status, result.error, result.provider_id)


async def set_delivery(
    core: HubCore, message_id: int, status: str, error: str = "", provider_id: str = "",
    channel: str | None = None,
) -> None:
    """Store a delivery status and tell the agent's screen; a failure is logged too."""
    values: dict[str, object] = {"delivery_status": status, "delivery_error": error[:500]}
    if provider_id:
        values["provider_id"] = provider_id
    async with transaction(core.sessions) as s:
        where = [Message.id == message_id, Message.direction == "out"]
        if channel is not None:
            where.append(Message.channel == channel)
        row = (await s.execute(
            update(Message).where(*where).values(**values)
            .returning(Message.interaction_id, Message.channel, Message.seq)
        )).one_or_none()
    if row is None:
        return
    if status == DeliveryStatus.FAILED:
        log.warning("message %s on %s failed: %s", message_id, row.channel, error)
    await core.message_event(MessageEvent("delivery", message_id, row.interaction_id,
                                          row.channel, row.seq, status=status, error=error))


async def redeliver_pending(core: HubCore) -> int:
    """After a restart, hand over again what was stored but never reported sent."""
    async with core.sessions() as s:
        ids = (await s.execute(select(Message.id).where(
            Message.direction == "out", Message.delivery_status == DeliveryStatus.PENDING
        ).order_by(Message.id))).scalars().all()  # type: ignore[arg-type]
    for message_id in ids:
        core.spawn(deliver(core, message_id))
    return len(ids)
