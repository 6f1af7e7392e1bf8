"""Batch ingest: many inbound messages stored in one transaction, each exactly once.

A mailbox sweep or a provider's batch hands over tens of messages at a time. One transaction
per message costs about nine statements each; a batch costs about a dozen in all, whatever
its size. The outcome is what ``hub.ingest.ingest`` called for each message in order gives:
the same customers, conversations, message numbers and events. When another writer races
the batch for a row (the same message, thread or new sender at the same moment) the batch
rolls back and every message goes through ``ingest``, which settles such races one by one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import insert_for, transaction
from hub.history import message_dict
from hub.ingest import (
    INTERACTIONS,
    MESSAGES,
    IngestResult,
    announce_stored,
    fallback_queue,
    ingest,
    pick_queue,
)
from hub.messages import InboundMessage
from hub.models import (
    Attachment,
    Customer,
    CustomerIdentity,
    HistoryEntry,
    InteractionStatus,
    utcnow,
)
from hub.models.base import UTCDateTime
from hub.plugins import first_result

if TYPE_CHECKING:
    from hub.core import HubCore

log = logging.getLogger("contacthub.ingest")
Address = tuple[str, str]
CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]
IDENTITIES = CustomerIdentity.__table__  # type: ignore[attr-defined]
HISTORY = HistoryEntry.__table__  # type: ignore[attr-defined]


class _Raced(Exception):
    """Another writer changed a row the batch relied on; the batch is rolled back."""


@dataclass(slots=True)
class _Thread:
    """The messages of one batch that go to one conversation, in order."""

    channel: str
    key: str
    members: list[int]
    interaction_id: int = 0
    customer_id: int = 0
    queue: str = ""
    first_seq: int = 1
    new: bool = False
    new_customer: int = -1
    """Index into the batch's new customers while the customer has no id yet."""


@dataclass(slots=True)
class _Batch:
    msgs: list[InboundMessage]
    results: list[IngestResult | None]
    copy_of: dict[int, int] = field(default_factory=dict)
    """A message given twice in the batch -> the index of its first copy."""
    announce: list[tuple[int, dict[str, Any], str]] = field(default_factory=list)


async def ingest_many(core: HubCore, msgs: Sequence[InboundMessage]) -> list[IngestResult]:
    """Store ``msgs`` exactly once each, in one transaction, and tell everyone who listens.

    The results are in the order of ``msgs``. Safe to call again with any of the same
    messages: those come back with ``created`` False. If it raises, none of the batch's own
    transaction is kept, but messages stored by the one-by-one path after a race are.
    """
    batch = _Batch(list(msgs), [None] * len(msgs))
    if len(batch.msgs) < 2:
        return [await ingest(core, msg) for msg in batch.msgs]
    try:
        async with transaction(core.sessions) as s:
            await _store(core, s, batch)
    except (IntegrityError, _Raced) as err:
        log.info("a batch of %d messages met a concurrent writer (%s); storing them one by one",
                 len(batch.msgs), type(err).__name__)
        return [await ingest(core, msg) for msg in batch.msgs]
    for index, stored, queue in batch.announce:
        result = batch.results[index]
        assert result is not None
        await announce_stored(core, batch.msgs[index], result, stored, queue)
    for index, first in batch.copy_of.items():
        done = batch.results[first]
        assert done is not None
        batch.results[index] = IngestResult(done.message_id, done.interaction_id, done.customer_id,
                                            done.seq, False, False)
    return [result for result in batch.results if result is not None]


async def _store(core: HubCore, s: AsyncSession, batch: _Batch) -> None:
    fresh = await _skip_stored(s, batch)
    if not fresh:
        return
    threads: dict[tuple[str, str], _Thread] = {}
    for index in fresh:
        msg = batch.msgs[index]
        threads.setdefault((msg.channel, msg.thread_key),
                           _Thread(msg.channel, msg.thread_key, [])).members.append(index)
    await _continue_threads(s, list(threads.values()))
    new = [thread for thread in threads.values() if thread.new]
    owners = await _find_customers(core, s, batch, new)
    await _remember(s, batch, list(threads.values()), owners)
    await _open_interactions(core, s, batch, new)
    await _insert_messages(s, batch, list(threads.values()))


async def _skip_stored(s: AsyncSession, batch: _Batch) -> list[int]:
    """Indexes of the messages to store: neither stored before nor given twice."""
    wanted: dict[str, list[str]] = {}
    for msg in batch.msgs:
        wanted.setdefault(msg.channel, []).append(msg.external_id)
    stored: dict[tuple[str, str], IngestResult] = {}
    m, i = MESSAGES.c, INTERACTIONS.c
    for channel, external_ids in wanted.items():
        rows = await s.execute(
            select(m.external_id, m.id, m.interaction_id, m.seq, i.customer_id)
            .join(INTERACTIONS, i.id == m.interaction_id)
            .where(m.channel == channel, m.external_id.in_(external_ids)))
        for row in rows:
            stored[(channel, row.external_id)] = IngestResult(
                row.id, row.interaction_id, row.customer_id, row.seq, False, False)
    fresh: list[int] = []
    first: dict[tuple[str, str], int] = {}
    for index, msg in enumerate(batch.msgs):
        key = (msg.channel, msg.external_id)
        if key in stored:
            batch.results[index] = stored[key]
        elif key in first:
            batch.copy_of[index] = first[key]
        else:
            first[key] = index
            fresh.append(index)
    return fresh


async def _continue_threads(s: AsyncSession, threads: list[_Thread]) -> None:
    """Threads with an open conversation take their message numbers; the rest are new."""
    t = INTERACTIONS.c
    by_channel: dict[str, list[str]] = {}
    for thread in threads:
        by_channel.setdefault(thread.channel, []).append(thread.key)
    open_ids: dict[tuple[str, str], int] = {}
    for channel, keys in by_channel.items():
        rows = await s.execute(select(t.thread_key, t.id).where(
            t.channel == channel, t.thread_key.in_(keys), t.closed_at.is_(None)))
        open_ids.update({(channel, key): int(id_) for key, id_ in rows})
    take = (update(INTERACTIONS)
            .where(t.id == bindparam("p_id"), t.closed_at.is_(None))
            .values(last_seq=t.last_seq + bindparam("p_count"),
                    updated_at=bindparam("p_now", type_=UTCDateTime()))
            .returning(t.customer_id, t.last_seq, t.queue))
    for thread in threads:
        interaction_id = open_ids.get((thread.channel, thread.key))
        if interaction_id is None:
            thread.new = True
            continue
        row = (await s.execute(take, {"p_id": interaction_id, "p_count": len(thread.members),
                                      "p_now": utcnow()})).one_or_none()
        if row is None:
            raise _Raced(f"interaction {interaction_id} closed under the batch")
        thread.interaction_id, thread.customer_id, thread.queue = interaction_id, row.customer_id, row.queue
        thread.first_seq = row.last_seq - len(thread.members) + 1


async def _find_customers(
    core: HubCore, s: AsyncSession, batch: _Batch, new: list[_Thread],
) -> dict[Address, int]:
    """The customer of each new conversation, as ``ingest`` finds it for a first message:
    a known sender, a plugin's answer, a known pre-chat identity, or a new customer. A
    sender new to the hub who writes twice in the batch becomes one customer, not two.
    Returns who owned the senders' addresses before the batch."""
    if not new:
        return {}
    wanted: set[Address] = set()
    for thread in new:
        msg = batch.msgs[thread.members[0]]
        wanted.update([(msg.channel, msg.sender), *msg.identities])
    owners = await _owners(s, wanted)
    named: list[tuple[int, str]] = []
    made: dict[Address, int] = {}
    """Addresses of the customers this batch makes -> index among the new customers."""
    new_names: list[str] = []
    for thread in new:
        msg = batch.msgs[thread.members[0]]
        sender = (msg.channel, msg.sender)
        owner = owners.get(sender)
        if owner is None and sender in made:
            thread.new_customer = made[sender]
            continue
        if owner is None:
            owner = await first_result(core.pm, "hub_identify_customer", hub=core.facade(msg.channel),
                                       channel=msg.channel, address=msg.sender)
        for address in msg.identities:
            if owner is not None:
                break
            if address in made:
                thread.new_customer = made[address]
                break
            owner = owners.get(address)
        if owner is not None:
            thread.customer_id = int(owner)
            if msg.sender_name:
                named.append((thread.customer_id, msg.sender_name))
            continue
        if thread.new_customer < 0:
            thread.new_customer = len(new_names)
            new_names.append(msg.sender_name or msg.sender)
        for address in [sender, *msg.identities]:
            if address not in owners:
                made.setdefault(address, thread.new_customer)
    ids = await _insert_values(s, CUSTOMERS, [{"name": name} for name in new_names])
    for thread in new:
        if thread.new_customer >= 0:
            thread.customer_id = ids[thread.new_customer]
    if named:
        c = CUSTOMERS.c
        await s.execute(update(CUSTOMERS).where(c.id == bindparam("p_id"), c.name == "")
                        .values(name=bindparam("p_name")),
                        [{"p_id": customer_id, "p_name": name} for customer_id, name in named])
    return owners


async def _owners(s: AsyncSession, addresses: set[Address]) -> dict[Address, int]:
    c = IDENTITIES.c
    rows = await s.execute(select(c.kind, c.address, c.customer_id)
                           .where(tuple_(c.kind, c.address).in_(sorted(addresses))))
    return {(kind, address): int(owner) for kind, address, owner in rows}


async def _remember(
    s: AsyncSession, batch: _Batch, threads: list[_Thread], known: dict[Address, int],
) -> None:
    """Every sender and given identity is kept for its customer, as ``ingest`` does.

    A new conversation's sender that no customer had must be claimed now: if another writer
    claimed it since we looked, the insert fails and the batch goes one by one."""
    claim: dict[Address, int] = {}
    keep: dict[Address, int] = {}
    for thread in threads:
        for position, index in enumerate(thread.members):
            msg = batch.msgs[index]
            if thread.new and position == 0:
                sender = (msg.channel, msg.sender)
                if sender not in known and sender not in claim:
                    claim[sender] = thread.customer_id
            for address in msg.identities:
                keep.setdefault(address, thread.customer_id)
    now = utcnow()
    if claim:
        await s.execute(IDENTITIES.insert(), [
            {"customer_id": owner, "kind": kind, "address": address, "created_at": now}
            for (kind, address), owner in claim.items()])
    extra = [{"customer_id": owner, "kind": kind, "address": address, "created_at": now}
             for (kind, address), owner in keep.items() if (kind, address) not in claim]
    if extra:
        await s.execute(insert_for(s, IDENTITIES).on_conflict_do_nothing(
            index_elements=["kind", "address"]), extra)


async def _open_interactions(core: HubCore, s: AsyncSession, batch: _Batch, new: list[_Thread]) -> None:
    if not new:
        return
    now = utcnow()
    rows = []
    for thread in new:
        msg = batch.msgs[thread.members[0]]
        rows.append({
            "customer_id": thread.customer_id, "channel": msg.channel, "thread_key": msg.thread_key,
            "subject": msg.subject[:300], "status": InteractionStatus.QUEUED,
            "last_seq": len(thread.members), "entry": msg.entry[:80], "queued_at": now,
            "queue": fallback_queue(core, msg)})
    ids = await _insert_values(s, INTERACTIONS, rows)
    moved = []
    for thread, row, interaction_id in zip(new, rows, ids, strict=True):
        row["id"] = thread.interaction_id = interaction_id
        thread.queue = await pick_queue(core, row, batch.msgs[thread.members[0]])
        if thread.queue != row["queue"]:
            moved.append({"p_id": interaction_id, "p_queue": thread.queue})
    if moved:
        t = INTERACTIONS.c
        await s.execute(update(INTERACTIONS).where(t.id == bindparam("p_id"))
                        .values(queue=bindparam("p_queue")), moved)
    await _insert_values(s, HISTORY, [
        {"customer_id": thread.customer_id, "interaction_id": thread.interaction_id,
         "channel": thread.channel, "kind": "opened",
         "summary": (batch.msgs[thread.members[0]].subject or batch.msgs[thread.members[0]].text)[:200]}
        for thread in new])


async def _insert_messages(s: AsyncSession, batch: _Batch, threads: list[_Thread]) -> None:
    """The messages themselves, numbered within their threads; a plain insert, so a copy
    another writer stored since we looked fails the batch rather than vanishing."""
    place: dict[int, tuple[_Thread, int]] = {}
    for thread in threads:
        for position, index in enumerate(thread.members):
            place[index] = (thread, thread.first_seq + position)
    order = sorted(place)
    now = utcnow()
    values = []
    for index in order:
        msg, (thread, seq) = batch.msgs[index], place[index]
        values.append({
            "interaction_id": thread.interaction_id, "channel": msg.channel,
            "external_id": msg.external_id, "seq": seq, "direction": "in", "author_type": "customer",
            "author_name": msg.sender_name, "text": msg.text, "created_at": now, "agent_id": None,
            "delivery_status": "", "delivery_error": "", "provider_id": "", "meta": msg.meta})
    ids = await _insert_values(s, MESSAGES, values)
    message_ids = dict(zip(order, ids, strict=True))
    files = [(index, ref) for index in order for ref in batch.msgs[index].attachments]
    file_rows = [Attachment(sha256=ref.sha256, filename=ref.filename, content_type=ref.content_type,
                            size=ref.size, message_id=message_ids[index],
                            uploaded_by=f"{batch.msgs[index].channel}:{batch.msgs[index].sender}")
                 for index, ref in files]
    file_ids = await _insert_values(s, Attachment.__table__, [  # type: ignore[attr-defined]
        row.model_dump(exclude={"id"}) for row in file_rows])
    attachments: dict[int, list[Attachment]] = {}
    for (index, _), row, file_id in zip(files, file_rows, file_ids, strict=True):
        row.id = file_id
        attachments.setdefault(index, []).append(row)
    for index, message_id, row in zip(order, ids, values, strict=True):
        thread, seq = place[index]
        # The stored row as the message's watchers see it; no ORM object for a row just written.
        message = SimpleNamespace(id=message_id, **row)
        batch.results[index] = IngestResult(message_id, thread.interaction_id, thread.customer_id, seq,
                                            True, thread.new and seq == 1)
        batch.announce.append((index, message_dict(message, attachments.get(index, [])), thread.queue))


async def _insert_values(s: AsyncSession, table: Any, values: list[dict[str, Any]]) -> list[int]:
    """Insert rows (columns left out take their defaults); their ids, in order."""
    if not values:
        return []
    statement = table.insert().returning(table.c.id, sort_by_parameter_order=True)
    return [int(id_) for id_ in (await s.execute(statement, values)).scalars()]
