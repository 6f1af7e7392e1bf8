"""Ingest stores each inbound message exactly once, in the right interaction, in order."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from sqlalchemy import update

from hub.core import HubCore
from hub.db import transaction
from hub.inbox import close_row
from hub.ingest import ingest
from hub.models import HistoryEntry, Interaction, InteractionStatus, Message, utcnow

from .helpers import count, inbound, rows


async def test_a_replayed_message_is_stored_once(hub_core: HubCore) -> None:
    first = await ingest(hub_core, inbound("mo-1"))
    again = await ingest(hub_core, inbound("mo-1", text="a retry may even change the text"))

    assert first.created and not again.created
    assert (again.message_id, again.interaction_id, again.customer_id, again.seq) == (
        first.message_id, first.interaction_id, first.customer_id, first.seq)
    assert not again.new_interaction
    assert await count(hub_core, Message) == 1


async def test_the_same_external_id_on_another_channel_is_another_message(hub_core: HubCore) -> None:
    sms = await ingest(hub_core, inbound("42", channel="sms"))
    email = await ingest(hub_core, inbound("42", channel="email", sender="a@example.com"))

    assert sms.created and email.created
    assert sms.message_id != email.message_id


async def test_concurrent_replays_store_each_message_once_in_gapless_order(hub_core: HubCore) -> None:
    threads = ["13800000001", "13800000002", "13800000003"]
    messages = [inbound(f"mo-{n}", sender=threads[n % 3]) for n in range(5)]

    results = await asyncio.gather(*(ingest(hub_core, messages[i % 5]) for i in range(50)))

    assert sum(r.created for r in results) == 5
    by_external: dict[str, set[int]] = defaultdict(set)
    for i, result in enumerate(results):
        by_external[messages[i % 5].external_id].add(result.message_id)
    assert all(len(ids) == 1 for ids in by_external.values())
    assert await count(hub_core, Message) == 5
    open_ones = await rows(hub_core, Interaction, Interaction.closed_at.is_(None))
    assert sorted(i.thread_key for i in open_ones) == threads
    assert await count(hub_core, Interaction) == 3
    assert await count(hub_core, HistoryEntry, HistoryEntry.kind == "opened") == 3
    for interaction in open_ones:
        seqs = [m.seq for m in await rows(hub_core, Message, Message.interaction_id == interaction.id,
                                          order_by=Message.seq)]
        assert seqs == list(range(1, len(seqs) + 1))
        assert interaction.last_seq == len(seqs)


async def test_messages_of_one_thread_share_the_open_interaction(hub_core: HubCore) -> None:
    first = await ingest(hub_core, inbound("mo-1"))
    second = await ingest(hub_core, inbound("mo-2"))

    assert first.new_interaction and not second.new_interaction
    assert second.interaction_id == first.interaction_id
    assert (first.seq, second.seq) == (1, 2)


async def test_a_thread_opens_a_new_interaction_after_the_old_one_is_closed(hub_core: HubCore) -> None:
    old = await ingest(hub_core, inbound("mo-1"))
    async with transaction(hub_core.sessions) as s:
        interaction = await s.get(Interaction, old.interaction_id)
        assert interaction is not None
        await close_row(s, interaction, "consult", "answered")

    new = await ingest(hub_core, inbound("mo-2"))
    later = await ingest(hub_core, inbound("mo-3"))

    assert new.new_interaction and new.interaction_id != old.interaction_id
    assert later.interaction_id == new.interaction_id
    assert new.customer_id == old.customer_id
    assert (new.seq, later.seq) == (1, 2)
    closed = await rows(hub_core, Interaction, Interaction.id == old.interaction_id)
    assert closed[0].status == InteractionStatus.CLOSED


async def test_a_closed_interaction_keeps_its_messages(hub_core: HubCore) -> None:
    old = await ingest(hub_core, inbound("mo-1"))
    async with transaction(hub_core.sessions) as s:
        await s.execute(update(Interaction).where(Interaction.id == old.interaction_id)
                        .values(status=InteractionStatus.CLOSED, closed_at=utcnow()))

    await ingest(hub_core, inbound("mo-2"))
    replay = await ingest(hub_core, inbound("mo-1"))

    assert not replay.created and replay.interaction_id == old.interaction_id
    assert await count(hub_core, Message, Message.interaction_id == old.interaction_id) == 1


async def test_history_records_opening_and_closing(hub_core: HubCore) -> None:
    result = await ingest(hub_core, inbound("mo-1", subject="", text="my bill is wrong"))
    await ingest(hub_core, inbound("mo-2"))
    async with transaction(hub_core.sessions) as s:
        interaction = await s.get(Interaction, result.interaction_id)
        assert interaction is not None
        await close_row(s, interaction, "complaint", "refunded")

    entries = await rows(hub_core, HistoryEntry, order_by=HistoryEntry.id)

    assert [(e.kind, e.summary) for e in entries] == [("opened", "my bill is wrong"),
                                                        ("closed", "complaint")]
    assert {(e.customer_id, e.interaction_id, e.channel) for e in entries} == {
        (result.customer_id, result.interaction_id, "sms")}


async def test_timestamps_come_back_timezone_aware(hub_core: HubCore) -> None:
    result = await ingest(hub_core, inbound("mo-1"))
    async with transaction(hub_core.sessions) as s:
        interaction = await s.get(Interaction, result.interaction_id)
        assert interaction is not None
        await close_row(s, interaction, "consult", "")

    interaction = (await rows(hub_core, Interaction))[0]
    message = (await rows(hub_core, Message))[0]
    entry = (await rows(hub_core, HistoryEntry))[0]

    for value in (interaction.created_at, interaction.closed_at, message.created_at, entry.at):
        assert value is not None and value.utcoffset() is not None
        assert abs((utcnow() - value).total_seconds()) < 60
