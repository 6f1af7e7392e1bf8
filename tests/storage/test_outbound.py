"""Outbound replies are stored once per client id and their delivery is recorded."""

from __future__ import annotations

import pytest

from hub import Capabilities, Channel, Health, SendResult, hookimpl
from hub.channel import DeliveryStatus
from hub.core import HubCore
from hub.db import transaction
from hub.errors import ChannelError, InvalidRequest
from hub.facade import Hub
from hub.inbox import close_row
from hub.ingest import ingest
from hub.messages import OutboundMessage
from hub.models import Interaction, Message
from hub.outbound import send_message

from .helpers import count, eventually, inbound, rows


async def delivered(core: HubCore, message_id: int) -> Message | None:
    async def check() -> Message | None:
        message = (await rows(core, Message, Message.id == message_id))[0]
        return message if message.delivery_status != DeliveryStatus.PENDING else None

    return await eventually(check)


async def test_a_resent_reply_with_the_same_client_id_is_stored_once(hub_core: HubCore) -> None:
    thread = await ingest(hub_core, inbound("mo-1"))

    first = await send_message(hub_core, thread.interaction_id, "hello", client_id="c-1")
    again = await send_message(hub_core, thread.interaction_id, "hello", client_id="c-1")
    other = await send_message(hub_core, thread.interaction_id, "more", client_id="c-2")

    assert again == first != other
    replies = await rows(hub_core, Message, Message.direction == "out", order_by=Message.seq)
    assert [(m.id, m.seq) for m in replies] == [(first, 2), (other, 3)]


async def test_a_reply_to_an_unloaded_channel_is_marked_failed(hub_core: HubCore) -> None:
    thread = await ingest(hub_core, inbound("mo-1"))

    message_id = await send_message(hub_core, thread.interaction_id, "hello")

    message = await delivered(hub_core, message_id)
    assert message is not None
    assert message.delivery_status == DeliveryStatus.FAILED
    assert message.delivery_error == "channel sms is not loaded"


async def test_a_reply_to_a_closed_interaction_is_refused(hub_core: HubCore) -> None:
    thread = await ingest(hub_core, inbound("mo-1"))
    async with transaction(hub_core.sessions) as s:
        interaction = await s.get(Interaction, thread.interaction_id)
        assert interaction is not None
        await close_row(s, interaction, "consult", "")

    with pytest.raises(InvalidRequest) as refused:
        await send_message(hub_core, thread.interaction_id, "too late")

    assert refused.value.error_id == "interaction_closed"
    assert await count(hub_core, Message, Message.direction == "out") == 0


class Sms(Channel):
    """A channel that accepts every message except those that say 'bounce'."""

    name = "sms"
    capabilities = Capabilities()

    def __init__(self, hub: Hub) -> None:
        super().__init__(hub)
        self.sent: list[OutboundMessage] = []

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, out: OutboundMessage) -> SendResult:
        if out.text == "bounce":
            raise ChannelError("number does not exist")
        self.sent.append(out)
        return SendResult(DeliveryStatus.SENT, provider_id=f"smsc-{out.seq}")

    async def health(self) -> Health:
        return Health()


class SmsPlugin:
    @hookimpl
    def hub_register_channels(self, register: object) -> None:
        register(Sms)  # type: ignore[operator]


async def test_the_channel_result_is_recorded(database_url: str, make_hub: object) -> None:
    core = await make_hub(database_url=database_url, plugins=[SmsPlugin()])  # type: ignore[operator]
    thread = await ingest(core, inbound("mo-1"))

    sent = await delivered(core, await send_message(core, thread.interaction_id, "hello"))
    bounced = await delivered(core, await send_message(core, thread.interaction_id, "bounce"))

    assert sent is not None and bounced is not None
    assert (sent.delivery_status, sent.provider_id, sent.delivery_error) == ("sent", "smsc-2", "")
    assert (bounced.delivery_status, bounced.delivery_error) == ("failed", "number does not exist")
    assert [out.text for out in core.channels["sms"].sent] == ["hello"]  # type: ignore[attr-defined]


async def test_a_reply_decided_on_a_stale_transcript_is_refused(hub_core: HubCore) -> None:
    thread = await ingest(hub_core, inbound("mo-1"))
    await ingest(hub_core, inbound("mo-2"))

    with pytest.raises(InvalidRequest) as refused:
        await send_message(hub_core, thread.interaction_id, "bye", after_seq=thread.seq)
    fresh = await send_message(hub_core, thread.interaction_id, "bye", after_seq=thread.seq + 1)

    assert refused.value.error_id == "interaction_moved"
    replies = await rows(hub_core, Message, Message.direction == "out")
    assert [(m.id, m.seq) for m in replies] == [(fresh, 3)]
