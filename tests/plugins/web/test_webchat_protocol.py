"""The widget protocol: acked after commit, stored once, resumed by seq, live both ways."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import select, update
from webchat_support import Chat

from hub.channel import DeliveryStatus
from hub.conformance.helpers import get_interaction, get_message, wait_for
from hub.events import InteractionEvent
from hub.models import Interaction, Message, utcnow
from hub.outbound import send_message


async def test_a_message_is_acked_after_commit_and_stored_once(chat: Chat) -> None:
    visitor = await chat.visitor()
    welcome = await visitor.connect()
    assert welcome["conversation_id"] is None and welcome["last_seq"] == 0

    ack = await visitor.say("hello, my line is down")

    assert ack["seq"] == 1
    # The ack came after ingest returned, so the row is there when the client forgets its copy.
    assert await chat.count() == 1
    echoed = visitor.messages()
    assert [m["seq"] for m in echoed] == [1]
    assert echoed[0]["author"]["type"] == "visitor"
    assert echoed[0]["client_msg_id"] == ack["client_msg_id"]


async def test_a_resent_message_gets_the_same_seq_and_one_row(chat: Chat) -> None:
    visitor = await chat.visitor()
    await visitor.connect()
    client_msg_id = str(uuid.uuid4())
    first = await visitor.say("only once please", client_msg_id)
    await visitor.close()

    # The widget lost the ack (say, the tab slept): it reconnects and sends the same id again.
    await visitor.connect(last_seq=0, conversation_id=first["conversation_id"])
    again = await visitor.say("only once please", client_msg_id)

    assert again["seq"] == first["seq"]
    assert await chat.count() == 1


async def test_reconnect_gets_exactly_the_missed_messages_in_order(chat: Chat) -> None:
    visitor = await chat.visitor()
    await visitor.connect()
    ack = await visitor.say("is anyone there?")
    conversation = ack["conversation_id"]
    await visitor.close()

    for text in ("Hi, this is Alice", "Let me check your line", "It is fixed now"):
        await send_message(chat.core, conversation, text, author_name="Alice")
    await wait_for(lambda: _all_sent(chat, conversation, 3), message="replies handed over")

    visitor.seen.clear()
    welcome = await visitor.connect(last_seq=ack["seq"], conversation_id=conversation)
    assert welcome == {**welcome, "conversation_id": conversation, "last_seq": 1}
    replayed = [await visitor.expect("message") for _ in range(3)]

    assert [m["seq"] for m in replayed] == [2, 3, 4]
    assert [m["text"] for m in replayed] == ["Hi, this is Alice", "Let me check your line", "It is fixed now"]
    assert all(m["author"] == {"type": "agent", "name": "Alice"} for m in replayed)
    await visitor.send({"type": "ping"})
    await visitor.expect("pong")
    assert len(visitor.messages()) == 3, "nothing doubled"


async def _all_sent(chat: Chat, interaction_id: int, n: int) -> bool:
    async with chat.core.sessions() as s:
        rows = (await s.execute(select(Message.delivery_status).where(
            Message.interaction_id == interaction_id, Message.direction == "out"))).scalars().all()
    return len(rows) == n and all(r == DeliveryStatus.SENT for r in rows)


async def test_an_agent_reply_reaches_a_live_socket_and_is_delivered(chat: Chat) -> None:
    visitor = await chat.visitor()
    await visitor.connect()
    ack = await visitor.say("my bill is wrong")

    message_id = await send_message(chat.core, ack["conversation_id"], "Sorry! Fixing it.", author_name="Bob")
    reply = await visitor.expect("message")

    assert reply["text"] == "Sorry! Fixing it." and reply["seq"] == 2
    assert reply["author"] == {"type": "agent", "name": "Bob"}
    await wait_for(lambda: _status_is(chat, message_id, DeliveryStatus.DELIVERED), message="delivered")


async def _status_is(chat: Chat, message_id: int, status: str) -> bool:
    return (await get_message(chat.core, message_id)).delivery_status == status


async def test_typing_goes_both_ways(chat: Chat) -> None:
    visitor = await chat.visitor()
    await visitor.connect()
    conversation = (await visitor.say("hi"))["conversation_id"]
    heard: list[dict] = []

    async def agent_screen(_topic: str, payload: dict) -> None:
        heard.append(payload)

    chat.core.bus.subscribe(f"interaction:{conversation}", agent_screen)
    await visitor.send({"type": "typing", "state": "on"})
    await wait_for(lambda: any(p.get("event") == "typing" for p in heard), message="visitor typing")
    assert next(p for p in heard if p.get("event") == "typing") == {
        "event": "typing", "by": "customer", "state": "on", "interaction_id": conversation}

    await chat.core.bus.publish(f"interaction:{conversation}", {
        "event": "typing", "by": "agent", "state": "on", "interaction_id": conversation, "name": "Alice"})
    assert await visitor.expect("typing") == {"type": "typing", "by": "agent", "state": "on", "name": "Alice"}


async def test_read_receipts_go_both_ways(chat: Chat) -> None:
    visitor = await chat.visitor()
    await visitor.connect()
    conversation = (await visitor.say("hi"))["conversation_id"]
    await send_message(chat.core, conversation, "hello there")
    reply = await visitor.expect("message")

    await visitor.send({"type": "read", "up_to_seq": reply["seq"]})
    await wait_for(lambda: _customer_read(chat, conversation, reply["seq"]), message="customer_read_seq")

    await chat.core.bus.publish(f"interaction:{conversation}", {
        "event": "read", "by": "agent", "up_to_seq": 1, "interaction_id": conversation})
    assert await visitor.expect("read") == {"type": "read", "by": "agent", "up_to_seq": 1}


async def _customer_read(chat: Chat, interaction_id: int, seq: int) -> bool:
    return (await get_interaction(chat.core, interaction_id)).customer_read_seq == seq


async def test_a_closed_conversation_says_so_and_the_next_message_opens_a_new_one(chat: Chat) -> None:
    visitor = await chat.visitor()
    await visitor.connect()
    first = await visitor.say("thanks, bye")
    conversation = first["conversation_id"]
    async with chat.core.sessions.begin() as s:
        await s.execute(update(Interaction).where(Interaction.id == conversation)
                        .values(status="closed", closed_at=utcnow()))
    await chat.core.interaction_event(InteractionEvent("closed", conversation, "web", 1))
    assert await visitor.expect("status") == {"type": "status", "state": "closed"}

    await visitor.send({"type": "message", "client_msg_id": str(uuid.uuid4()), "text": "one more thing"})
    switched = await visitor.expect("welcome")
    assert switched["conversation_id"] != conversation and switched["last_seq"] == 0
    ack = await visitor.expect("ack")
    assert ack["conversation_id"] == switched["conversation_id"] and ack["seq"] == 1
    assert [m["text"] for m in visitor.messages()][-1] == "one more thing"


async def test_two_tabs_of_one_visitor_both_see_the_conversation(chat: Chat) -> None:
    token = await chat.token()
    from webchat_support import Visitor

    tab1, tab2 = Visitor(chat, token), Visitor(chat, token)
    await tab1.connect()
    await tab2.connect()
    await tab1.say("from tab one")
    echoed = await tab2.expect("message")
    assert echoed["text"] == "from tab one"
    health = await chat.channel.health()
    assert health.state == "ok" and health.extra["connections"] == 2
    await asyncio.gather(tab1.close(), tab2.close())
