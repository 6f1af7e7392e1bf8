"""Ingest: an InboundMessage becomes customer -> interaction -> message, once, in one transaction."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import dialect_insert, insert_for, transaction
from hub.events import InteractionEvent, MessageEvent
from hub.history import message_dict
from hub.messages import InboundMessage
from hub.models import (
    Attachment,
    Customer,
    CustomerIdentity,
    HistoryEntry,
    Interaction,
    InteractionStatus,
    Message,
    utcnow,
)
from hub.models.base import UTCDateTime
from hub.plugins import first_result

if TYPE_CHECKING:
    from hub.core import HubCore

log = logging.getLogger("contacthub.ingest")
MESSAGES = Message.__table__  # type: ignore[attr-defined]
INTERACTIONS = Interaction.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class IngestResult:
    """Where a message landed; ``created`` is False when it had been stored before."""

    message_id: int
    interaction_id: int
    customer_id: int
    seq: int
    created: bool
    new_interaction: bool


class _AlreadyStored(Exception):
    """Raised inside the transaction to roll it back when the message is a replay."""


class _AddressClaimed(Exception):
    """Raised inside the transaction to roll back a new customer when a concurrent ingest
    claimed the same sender address first; the retry finds that customer."""


async def ingest(core: HubCore, msg: InboundMessage) -> IngestResult:
    """Store ``msg`` exactly once and tell everyone who listens.

    Safe to call again with the same (channel, external_id) at any time: the unique
    constraint decides, so two concurrent replays cannot both insert.
    """
    for attempt in range(3):
        try:
            result, stored, queue = await _store(core, msg)
            break
        except _AlreadyStored:
            return await _existing(core, msg)
        except (IntegrityError, _AddressClaimed):
            # Another writer opened the same thread's interaction or identity a moment
            # before us; the retry sees its row.
            if attempt == 2:
                raise
    await announce_stored(core, msg, result, stored, queue)
    return result


async def _store(core: HubCore, msg: InboundMessage) -> tuple[IngestResult, dict[str, Any], str]:
    async with transaction(core.sessions) as s:
        # Most messages continue an open conversation: one statement finds it, takes the
        # next seq and names the customer, with no identity lookup at all.
        thread = await _continue_thread(s, msg)
        if thread is not None:
            interaction_id, customer_id, seq, queue = thread
            new = False
            if msg.identities:
                await _remember(s, customer_id, list(msg.identities))
        else:
            customer_id = await _customer_for(core, s, msg)
            interaction_id, queue = await _open_interaction(core, s, msg, customer_id)
            seq, new = 1, True
        values = {
            "interaction_id": interaction_id, "channel": msg.channel, "external_id": msg.external_id,
            "seq": seq, "direction": "in", "author_type": "customer", "author_name": msg.sender_name,
            "text": msg.text, "created_at": utcnow(), "agent_id": None, "delivery_status": "",
            "delivery_error": "", "provider_id": "", "meta": msg.meta,
        }
        # Core statements on the table: the ORM's bulk machinery costs more than the insert.
        _, insert_message, _ = _statements(s.bind.dialect.name)
        message_id = (await s.execute(insert_message, values)).scalar_one_or_none()
        if message_id is None:
            raise _AlreadyStored
        message = Message(id=message_id, **values)
        attachments = [
            Attachment(sha256=ref.sha256, filename=ref.filename, content_type=ref.content_type,
                       size=ref.size, message_id=message.id, uploaded_by=f"{msg.channel}:{msg.sender}")
            for ref in msg.attachments
        ]
        s.add_all(attachments)
        if new:
            await _insert_row(s, HistoryEntry(customer_id=customer_id, interaction_id=interaction_id,
                                              channel=msg.channel, kind="opened",
                                              summary=(msg.subject or msg.text)[:200]))
        if attachments:
            await s.flush()
        result = IngestResult(message.id, interaction_id, customer_id, seq, True, new)
        return result, message_dict(message, attachments), queue


@functools.cache
def _statements(dialect: str) -> tuple[Any, Any, Any]:
    """The two statements every message runs, built once: building a statement costs more
    Python than executing it, and a reused statement also keeps its compiled form."""
    t = INTERACTIONS.c
    continue_thread = (
        update(INTERACTIONS)
        .where(t.channel == bindparam("p_channel"), t.thread_key == bindparam("p_thread"),
               t.closed_at.is_(None))
        .values(last_seq=t.last_seq + 1, updated_at=bindparam("p_now", type_=UTCDateTime()))
        .returning(t.id, t.customer_id, t.last_seq, t.queue)
    )
    insert_message = (
        dialect_insert(dialect, MESSAGES)
        .on_conflict_do_nothing(index_elements=["channel", "external_id"])
        .returning(MESSAGES.c.id)
    )
    set_queue = (update(INTERACTIONS).where(t.id == bindparam("p_id"))
                 .values(queue=bindparam("p_queue")))
    return continue_thread, insert_message, set_queue


async def _continue_thread(s: AsyncSession, msg: InboundMessage) -> tuple[int, int, int, str] | None:
    """(interaction id, customer id, seq, queue) when the thread has an open interaction."""
    continue_thread, _, _ = _statements(s.bind.dialect.name)
    row = (await s.execute(continue_thread, {
        "p_channel": msg.channel, "p_thread": msg.thread_key, "p_now": utcnow(),
    })).one_or_none()
    return None if row is None else (row.id, row.customer_id, row.last_seq, row.queue)


async def next_seq(s: AsyncSession, interaction_id: int | None, after_seq: int | None = None) -> int:
    """Take the interaction's next message number; the row lock orders concurrent writers.

    With ``after_seq``, only if the last message is still that one; ``LookupError`` if not.
    """
    t = INTERACTIONS.c
    where = [t.id == interaction_id]
    if after_seq is not None:
        where.append(t.last_seq == after_seq)
    result = await s.execute(
        update(INTERACTIONS).where(*where)
        .values(last_seq=t.last_seq + 1, updated_at=utcnow()).returning(t.last_seq)
    )
    seq = result.scalar_one_or_none()
    if seq is None:
        raise LookupError(f"interaction {interaction_id} has moved past seq {after_seq}")
    return int(seq)


async def _existing(core: HubCore, msg: InboundMessage) -> IngestResult:
    async with core.sessions() as s:
        row = (await s.execute(
            select(Message.id, Message.interaction_id, Message.seq, Interaction.customer_id)
            .join(Interaction, Interaction.id == Message.interaction_id)
            .where(Message.channel == msg.channel, Message.external_id == msg.external_id)
        )).one()
    return IngestResult(row.id, row.interaction_id, row.customer_id, row.seq, False, False)


async def _customer_for(core: HubCore, s: AsyncSession, msg: InboundMessage) -> int:
    """The customer behind the sender: known identity, a plugin's answer, a pre-chat
    identity that matches, or a new customer. Every given identity is then remembered."""
    identities = [(msg.channel, msg.sender), *msg.identities]
    customer_id = await _identity_owner(s, msg.channel, msg.sender)
    sender_known = customer_id is not None
    if customer_id is None:
        customer_id = await first_result(
            core.pm, "hub_identify_customer", hub=core.facade(msg.channel),
            channel=msg.channel, address=msg.sender,
        )
    for kind, address in msg.identities:
        if customer_id is not None:
            break
        customer_id = await _identity_owner(s, kind, address)
    if customer_id is None:
        customer_id = await _insert_row(s, Customer(name=msg.sender_name or msg.sender))
    elif msg.sender_name:
        await s.execute(update(Customer).where(Customer.id == customer_id, Customer.name == "")
                        .values(name=msg.sender_name))
    assert customer_id is not None
    claimed = await _remember(s, int(customer_id), identities)
    if not claimed[0] and not sender_known:
        # Two first contacts from one address both found no identity (PostgreSQL lets
        # them read before either commits); the loser must not keep a second customer.
        raise _AddressClaimed
    return int(customer_id)


async def _remember(s: AsyncSession, customer_id: int, identities: list[tuple[str, str]]) -> list[bool]:
    """Store each (kind, address) for the customer unless it is known; True where stored now."""
    claimed = []
    for kind, address in identities:
        row = (await s.execute(
            insert_for(s, CustomerIdentity)
            .values(customer_id=customer_id, kind=kind, address=address, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["kind", "address"])
            .returning(CustomerIdentity.id)
        )).scalar_one_or_none()
        claimed.append(row is not None)
    return claimed


async def _identity_owner(s: AsyncSession, kind: str, address: str) -> int | None:
    return (await s.execute(
        select(CustomerIdentity.customer_id)
        .where(CustomerIdentity.kind == kind, CustomerIdentity.address == address)
    )).scalar_one_or_none()


async def _open_interaction(
    core: HubCore, s: AsyncSession, msg: InboundMessage, customer_id: int
) -> tuple[int, str]:
    """A new interaction holding this first message (seq 1). If a concurrent ingest opened
    one for the same thread first, the partial unique index refuses this one and the
    caller's retry continues that thread instead."""
    interaction = Interaction(customer_id=customer_id, channel=msg.channel,
                              thread_key=msg.thread_key, subject=msg.subject[:300],
                              status=InteractionStatus.QUEUED, last_seq=1, entry=msg.entry[:80],
                              queued_at=utcnow(), queue=fallback_queue(core, msg))
    interaction.id = await _insert_row(s, interaction)
    queue = await pick_queue(core, interaction, msg)
    if queue != interaction.queue:
        await s.execute(_statements(s.bind.dialect.name)[2], {"p_id": interaction.id, "p_queue": queue})
    return interaction.id, queue


async def _insert_row(s: AsyncSession, row: Any) -> int:
    """Insert one new row with a core statement, its defaults filled in by the model; its id.

    The ORM's unit of work costs more Python than the insert on this hot path."""
    table = type(row).__table__
    values = row.model_dump(exclude={"id"})
    return int((await s.execute(_insert_returning_id(table), values)).scalar_one())


@functools.cache
def _insert_returning_id(table: Any) -> Any:
    return table.insert().returning(table.c.id)


async def pick_queue(core: HubCore, interaction: Interaction | dict[str, Any], msg: InboundMessage) -> str:
    """The queue of a new conversation: a plugin's answer to ``hub_pick_queue``, else the
    channel's own. ``interaction`` is the stored row, or its column values."""
    row = interaction if isinstance(interaction, dict) else interaction.model_dump()
    info = {key: row[key] for key in ("id", "channel", "customer_id", "thread_key", "subject")}
    queue = await first_result(core.pm, "hub_pick_queue", hub=core.facade(msg.channel),
                               interaction=info, message=msg)
    return str(queue) if queue else fallback_queue(core, msg)


def fallback_queue(core: HubCore, msg: InboundMessage) -> str:
    """The queue when no plugin picks one: the channel's own if it exists, else ``default``."""
    return msg.channel if msg.channel in core.queue_names else "default"


async def announce_stored(
    core: HubCore, msg: InboundMessage, result: IngestResult, stored: dict[str, Any], queue: str
) -> None:
    """After the commit: hooks and live screens hear of the new message."""
    if result.new_interaction:
        await core.interaction_event(InteractionEvent(
            "opened", result.interaction_id, msg.channel, result.customer_id, queue=queue,
        ))
    await core.message_event(MessageEvent(
        "inbound", result.message_id, result.interaction_id, msg.channel, result.seq,
    ), stored)
