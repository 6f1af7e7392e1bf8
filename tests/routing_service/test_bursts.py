"""Contacts that arrive together (a mailbox sweep, a provider's batch) are read from the
database together, and each is admitted exactly as it would have been on its own."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from hub.events import InteractionEvent
from hub.messages import InboundMessage
from hub.models import BlockedAddress, RegionPrefix
from hub.routing import offers
from tests.routing_service.conftest import Centre


def mail(sender: str, *, phone: str | None = None) -> InboundMessage:
    return InboundMessage(channel="chat", external_id=uuid.uuid4().hex, sender=sender, thread_key=sender,
                          text="hello", identities=(("phone", phone),) if phone else ())


def count_calls(monkeypatch: pytest.MonkeyPatch, name: str) -> list[Any]:
    calls: list[Any] = []
    real = getattr(offers, name)

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[1:] or kwargs)
        return await real(*args, **kwargs)

    monkeypatch.setattr(offers, name, counted)
    return calls


async def listen(centre: Centre) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    async def listener(_topic: str, payload: dict[str, Any]) -> None:
        seen.append(payload)

    centre.core.bus.subscribe("inbox", listener)
    return seen


async def test_a_burst_is_read_in_two_queries_and_admitted_one_by_one(
    centre: Centre, monkeypatch: pytest.MonkeyPatch
) -> None:
    await centre.queue("shenzhen", region="guangdong/shenzhen", overflow=[{"after": 60, "queue": "default"}])
    alice = await centre.agent("default")
    bob = await centre.agent("shenzhen")
    await centre.add(BlockedAddress(kind="chat", address="troll", reason="abuse"),
                     RegionPrefix(prefix="0755", region="guangdong/shenzhen"))
    await centre.ready(alice)
    await centre.ready(bob)
    events = await listen(centre)
    work_reads = count_calls(monkeypatch, "open_work")
    address_reads = count_calls(monkeypatch, "addresses")

    hub = centre.core.facade("chat")
    results = await hub.ingest_many([mail("first"), mail("troll"), mail("caller", phone="+86 755 1234 5678"),
                                     *(mail(f"later-{n}") for n in range(7))])
    await centre.settled()

    first, troll, caller, *later = [r.interaction_id for r in results]
    assert len(work_reads) == 1 and len(address_reads) == 0, "one read for the whole burst"
    assert await centre.offer_of(first) == alice, "the first to arrive is the first offered"
    assert await centre.offer_of(caller) == bob, "the caller's number routes to their city"
    assert [(e["interaction_id"], e["disposition"]) for e in events if e.get("kind") == "refused"] == [
        (troll, "blacklisted")]
    chats = centre.core.settings.capacity["chat"]
    assert [await centre.offer_of(i) for i in later] == [alice] * (chats - 1) + [None] * (8 - chats), (
        "alice takes as many chats as she may, in the order they came; the rest wait")
    await centre.core.routing.publish_board()
    waiting = {q["queue"]: q["waiting"] for q in centre.core.routing.board["queues"]}
    assert waiting["default"] == 8 - chats


async def test_an_arrival_heard_twice_in_one_burst_is_refused_once(centre: Centre) -> None:
    await centre.add(BlockedAddress(kind="chat", address="troll", reason="abuse"))
    events = await listen(centre)
    hub = centre.core.facade("chat")
    [troll, _] = await hub.ingest_many([mail("troll"), mail("someone")])
    # A replayed announcement queued behind the first, before the router got to either.
    opened = InteractionEvent("opened", troll.interaction_id, "chat", troll.customer_id, queue="default")
    await centre.core.interaction_event(opened)
    await centre.settled()
    assert [e["interaction_id"] for e in events if e.get("kind") == "refused"] == [troll.interaction_id]

