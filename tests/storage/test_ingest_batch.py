"""A batch of inbound messages lands exactly as the same messages one by one would, faster."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from hub.core import HubCore
from hub.db import transaction
from hub.inbox import close_row
from hub.ingest import ingest
from hub.ingest_batch import ingest_many
from hub.models import Attachment, Customer, CustomerIdentity, HistoryEntry, Interaction, Message
from tests.web.web_helpers import png

from .helpers import count, inbound, rows

ALICE, BOB, CAROL = "13800000001", "13800000002", "13800000003"


async def test_a_batch_opens_conversations_and_numbers_their_messages(hub_core: HubCore) -> None:
    batch = [
        inbound("a-1", sender=ALICE), inbound("b-1", sender=BOB), inbound("a-2", sender=ALICE),
        inbound("c-1", sender=CAROL, thread="carol-1"), inbound("c-2", sender=CAROL, thread="carol-2"),
    ]

    a1, b1, a2, c1, c2 = await ingest_many(hub_core, batch)

    assert all(r.created for r in (a1, b1, a2, c1, c2))
    assert (a1.new_interaction, a1.seq, a2.new_interaction, a2.seq) == (True, 1, False, 2)
    assert a2.interaction_id == a1.interaction_id != b1.interaction_id
    # A new sender writing twice in one batch is one customer with two conversations.
    assert c1.customer_id == c2.customer_id and c1.interaction_id != c2.interaction_id
    assert c1.new_interaction and c2.new_interaction
    assert await count(hub_core, Customer) == 3
    assert await count(hub_core, CustomerIdentity) == 3
    assert await count(hub_core, Interaction) == 4
    assert await count(hub_core, HistoryEntry, HistoryEntry.kind == "opened") == 4
    stored = await rows(hub_core, Message, order_by=Message.id)
    assert [(m.external_id, m.seq) for m in stored] == [
        ("a-1", 1), ("b-1", 1), ("a-2", 2), ("c-1", 1), ("c-2", 1)]
    alice = (await rows(hub_core, Interaction, Interaction.id == a1.interaction_id))[0]
    assert alice.last_seq == 2


async def test_a_batch_continues_open_conversations_and_skips_what_was_stored(hub_core: HubCore) -> None:
    before = await ingest(hub_core, inbound("a-1", sender=ALICE))

    replay, a2, dup, a3 = await ingest_many(hub_core, [
        inbound("a-1", sender=ALICE), inbound("a-2", sender=ALICE),
        inbound("a-2", sender=ALICE, text="the provider sent it twice"), inbound("a-3", sender=ALICE),
    ])

    assert not replay.created and replay.message_id == before.message_id
    assert (a2.created, a2.seq, a3.seq) == (True, 2, 3)
    assert not dup.created and dup.message_id == a2.message_id and dup.seq == 2
    assert a2.interaction_id == a3.interaction_id == before.interaction_id
    assert not (a2.new_interaction or a3.new_interaction)
    assert await count(hub_core, Message) == 3
    assert await count(hub_core, Customer) == 1
    assert (await rows(hub_core, Interaction))[0].last_seq == 3


async def test_a_batch_of_messages_all_stored_before_changes_nothing(hub_core: HubCore) -> None:
    first = await ingest_many(hub_core, [inbound("a-1", sender=ALICE), inbound("b-1", sender=BOB)])
    again = await ingest_many(hub_core, [inbound("a-1", sender=ALICE), inbound("b-1", sender=BOB)])

    assert [r.message_id for r in again] == [r.message_id for r in first]
    assert not any(r.created for r in again)
    assert await count(hub_core, Message) == 2


async def test_a_known_sender_keeps_their_customer_and_gets_a_name(hub_core: HubCore) -> None:
    known = await ingest(hub_core, inbound("a-1", sender=ALICE))
    async with transaction(hub_core.sessions) as s:
        interaction = await s.get(Interaction, known.interaction_id)
        assert interaction is not None
        await close_row(s, interaction, "consult", "answered")
        customer = await s.get(Customer, known.customer_id)
        assert customer is not None
        customer.name = ""

    again, _ = await ingest_many(hub_core, [
        inbound("a-2", sender=ALICE, sender_name="Alice Wang"), inbound("b-1", sender=BOB)])

    assert again.customer_id == known.customer_id
    assert again.new_interaction and again.interaction_id != known.interaction_id
    named = (await rows(hub_core, Customer, Customer.id == known.customer_id))[0]
    assert named.name == "Alice Wang"


async def test_pre_chat_identities_link_and_are_remembered(hub_core: HubCore) -> None:
    call = await ingest(hub_core, inbound("call-1", sender=ALICE, channel="voice"))

    chat, other = await ingest_many(hub_core, [
        inbound("web-1", channel="web", sender="visitor-1", identities=(("voice", ALICE),
                                                                         ("email", "alice@example.com"))),
        inbound("web-2", channel="web", sender="visitor-2", identities=(("email", "bob@example.com"),)),
    ])

    assert chat.customer_id == call.customer_id
    assert other.customer_id != call.customer_id
    known = {(i.kind, i.address): i.customer_id for i in await rows(hub_core, CustomerIdentity)}
    assert known == {
        ("voice", ALICE): call.customer_id, ("web", "visitor-1"): call.customer_id,
        ("email", "alice@example.com"): call.customer_id,
        ("web", "visitor-2"): other.customer_id, ("email", "bob@example.com"): other.customer_id,
    }


async def test_attachments_are_kept_with_their_messages(hub_core: HubCore) -> None:
    photo = hub_core.files.store(png(), "modem.png")

    plain, with_photo = await ingest_many(hub_core, [
        inbound("a-1", sender=ALICE), inbound("b-1", sender=BOB, attachments=(photo,))])

    files = await rows(hub_core, Attachment)
    assert [(f.message_id, f.sha256, f.filename) for f in files] == [
        (with_photo.message_id, photo.sha256, "modem.png")]
    assert plain.message_id != with_photo.message_id


async def test_screens_and_hooks_hear_of_each_new_message_once_in_order(hub_core: HubCore) -> None:
    heard: list[tuple[str, Any]] = []

    async def listener(_topic: str, payload: dict[str, Any]) -> None:
        heard.append((payload["kind"], payload.get("message", {}).get("client_id")
                      or payload["interaction_id"]))

    hub_core.bus.subscribe("inbox", listener)
    await ingest(hub_core, inbound("a-1", sender=ALICE))
    heard.clear()

    results = await ingest_many(hub_core, [
        inbound("a-1", sender=ALICE), inbound("b-1", sender=BOB), inbound("a-2", sender=ALICE)])

    bob = results[1].interaction_id
    assert [kind for kind, _ in heard] == ["opened", "inbound", "inbound"]
    assert heard[0] == ("opened", bob)


async def test_a_batch_racing_single_ingests_stores_each_message_once(hub_core: HubCore) -> None:
    senders = [ALICE, BOB, CAROL]
    messages = [inbound(f"m-{n}", sender=senders[n % 3]) for n in range(9)]

    results = await asyncio.gather(
        ingest_many(hub_core, messages), ingest_many(hub_core, messages[::-1]),
        *(ingest(hub_core, msg) for msg in messages))

    batch, backwards, *singles = results
    ids: dict[str, set[int]] = defaultdict(set)
    for msg, result in [*zip(messages, batch, strict=True), *zip(messages[::-1], backwards, strict=True),
                        *zip(messages, singles, strict=True)]:
        ids[msg.external_id].add(result.message_id)
    assert all(len(found) == 1 for found in ids.values())
    assert await count(hub_core, Message) == 9
    assert await count(hub_core, Customer) == 3
    assert await count(hub_core, Interaction) == 3
    for interaction in await rows(hub_core, Interaction):
        seqs = [m.seq for m in await rows(hub_core, Message, Message.interaction_id == interaction.id,
                                          order_by=Message.seq)]
        assert seqs == [1, 2, 3] and interaction.last_seq == 3
