"""One customer's contact history across channels, and an interaction's transcript."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.models import Attachment, Customer, CustomerIdentity, Interaction, Message


def message_dict(m: Message | SimpleNamespace, attachments: list[Attachment] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    """A stored message as live screens and the API show it (``m`` may be the bare row)."""
    return {
        "id": m.id, "interaction_id": m.interaction_id, "seq": m.seq, "direction": m.direction,
        "author_type": m.author_type, "author_name": m.author_name, "text": m.text,
        "client_id": m.external_id if m.direction == "in" else "",
        "created_at": m.created_at.isoformat(), "delivery_status": m.delivery_status,
        "delivery_error": m.delivery_error, "meta": m.meta or {},
        "attachments": [
            {"id": a.id, "sha256": a.sha256, "filename": a.filename,
             "content_type": a.content_type, "size": a.size}
            for a in attachments
        ],
    }


async def messages_after(
    s: AsyncSession, interaction_id: int, after_seq: int, limit: int = 500
) -> list[dict[str, Any]]:
    """The transcript from ``after_seq`` on, each message with its attachments."""
    rows = (await s.execute(
        select(Message).where(Message.interaction_id == interaction_id, Message.seq > after_seq)
        .order_by(Message.seq).limit(limit)  # type: ignore[arg-type]
    )).scalars().all()
    by_message: dict[int, list[Attachment]] = defaultdict(list)
    if rows:
        files = (await s.execute(
            select(Attachment).where(Attachment.message_id.in_([m.id for m in rows]))  # type: ignore[union-attr]
        )).scalars()
        for a in files:
            by_message[a.message_id].append(a)  # type: ignore[index]
    return [message_dict(m, by_message.get(m.id or 0, [])) for m in rows]


SHARED_KINDS = frozenset({"phone", "email"})
"""Identity kinds several channels share (``CustomerIdentity.kind``); the others are a
channel's own (a web visitor's id, a WeChat openid)."""


def mask_address(kind: str, address: str) -> str:
    """Hide the middle of a phone number or the local part of an email address."""
    if kind == "email" and "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    if kind == "phone" and len(address) > 6:
        return f"{address[:3]}{'*' * (len(address) - 7)}{address[-4:]}"
    if len(address) > 8:
        return f"{address[:4]}…{address[-2:]}"
    return address


async def customer_panel(
    s: AsyncSession, customer_id: int, *, unmasked: bool, limit: int = 50
) -> dict[str, Any]:
    """What the agent sees beside a conversation: who, tier, region, every earlier contact."""
    customer = await s.get(Customer, customer_id)
    if customer is None:
        return {}
    identities = (await s.execute(
        select(CustomerIdentity).where(CustomerIdentity.customer_id == customer_id)
        .order_by(CustomerIdentity.id)  # type: ignore[arg-type]
    )).scalars().all()
    # A caller's number is known twice, as the voice (or SMS) channel's sender and as the phone
    # number the channels share: shown once, as the phone number.
    shared = {i.address for i in identities if i.kind in SHARED_KINDS}
    identities = [i for i in identities if i.kind in SHARED_KINDS or i.address not in shared]
    interactions = (await s.execute(
        select(Interaction).where(Interaction.customer_id == customer_id)
        .order_by(Interaction.created_at.desc()).limit(limit)  # type: ignore[attr-defined]
    )).scalars().all()
    return {
        "id": customer.id, "name": customer.name, "tier": customer.tier,
        "region": customer.region, "since": customer.created_at.isoformat(),
        "identities": [
            {"id": i.id, "kind": i.kind,
             "address": i.address if unmasked else mask_address(i.kind, i.address)}
            for i in identities
        ],
        "interactions": [
            {"id": i.id, "channel": i.channel, "status": i.status, "subject": i.subject,
             "disposition": i.disposition, "created_at": i.created_at.isoformat(),
             "closed_at": i.closed_at.isoformat() if i.closed_at else None}
            for i in interactions
        ],
    }
