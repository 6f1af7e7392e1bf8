"""ChannelContract: the tests every channel passes. A plugin's test module subclasses it.

The live-contact contracts (``hub.conformance.live``) are part of it: they run for a channel
that declares live controls and skip, saying so, for the others."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from typing import Any, ClassVar

import pytest

from hub.channel import Capabilities, Channel, DeliveryStatus, HealthState
from hub.conformance.helpers import (
    EventRecorder,
    count_messages,
    get_interaction,
    get_message,
    identity_owner,
    messages_with_text,
    wait_for,
)
from hub.conformance.live import LiveContactContract
from hub.conformance.peer import PeerDriver
from hub.core import HubCore
from hub.models import Message
from hub.outbound import send_message

SENT_STATES = {DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ}
AWAY_STATES = {HealthState.DEGRADED, HealthState.DOWN}


class ChannelContract(LiveContactContract):
    """The conformance contract of one channel.

    Subclass it as ``Test<Something>`` in a test module that provides the ``channel_plugin``
    and ``peer`` fixtures (and ``channel_settings`` if the channel needs any); pytest collects
    the subclass and runs every test below against the real channel and its peer.

    A peer that cannot do something turns the tests that need it off with a class attribute
    set to False; each of them then shows as skipped with the attribute's name, never passes
    silently. The timeouts are generous on purpose: the kit checks behaviour, not speed.

    A channel whose contacts are live (``Channel.controls()`` declares any) also passes the
    live-contact contracts of ``LiveContactContract``: well-formed controls, nothing done to
    other interactions, and the full life of the contacts its peer places (``LivePeerDriver``).
    """

    pytestmark = pytest.mark.asyncio  # the plugin's project may run pytest-asyncio in strict mode

    carries_text: ClassVar[bool] = True
    """Customers' contacts are text messages the peer delivers and replies go back to it as
    text. False for calls: the text contracts are skipped, and the live-contact contracts
    (``LiveContactContract``) take their place; a channel with neither stays at bronze."""
    supports_outage: ClassVar[bool] = True
    """The peer can be taken away and brought back (``disconnect`` / ``reconnect``)."""
    supports_offline_inbound: ClassVar[bool] = True
    """The peer keeps customers' messages while the channel cannot reach it (a mailbox, an SMS
    centre's store) and hands them over after ``reconnect``. False for a browser or a caller."""
    supports_bad_input: ClassVar[bool] = True
    """The peer can deliver a malformed native input (``inject_bad``)."""
    health_follows_peer: ClassVar[bool] = True
    """The channel holds or polls a link to its peer and so can tell when it is gone. False for a
    channel that only receives webhooks: it cannot know a silent provider from a quiet day."""

    receive_timeout: ClassVar[float] = 10.0
    """Seconds an injected message (or a health change) may take to show."""
    send_timeout: ClassVar[float] = 15.0
    """Seconds an agent's reply may take to reach the peer and be reported."""
    outage_send_wait: ClassVar[float] = 5.0
    """Seconds a reply sent while the peer is away may take to be marked failed; one still
    pending then must be delivered after ``reconnect``."""
    settle: ClassVar[float] = 0.3
    """Seconds the kit waits before checking that something happened only once."""

    hub: HubCore
    channel: Channel
    peer: PeerDriver
    events: EventRecorder

    @pytest.fixture(autouse=True)
    def _contract_setup(
        self, conformance_hub: HubCore, channel_under_test: Channel, peer: PeerDriver,
        conformance_events: EventRecorder,
    ) -> None:
        self.hub = conformance_hub
        self.channel = channel_under_test
        self.peer = peer
        self.events = conformance_events

    # Setup and health.

    async def test_declares_name_and_capabilities(self) -> None:
        name = self.channel.name
        assert re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name), f"channel name {name!r} is not a short slug"
        assert isinstance(type(self.channel).capabilities, Capabilities)
        assert self.channel.capabilities.max_text >= 0
        assert self.hub.channel_plugins.get(name), "the channel did not come through hub_register_channels"

    async def test_starts_healthy(self) -> None:
        await self._wait_state({HealthState.OK}, "health ok after start")
        report = await self.hub.health()
        assert report[self.channel.name]["state"] == "ok"

    async def test_stop_is_repeatable(self) -> None:
        await self.channel.stop()
        await self.channel.stop()

    # Receive.

    async def test_receive_stores_one_message(self) -> None:
        self._require("carries_text")
        text = f"hello {_tag()} — 你好, café"
        sender = self.peer.sender_for(1)
        message = await self._receive(text, 1)
        assert (message.direction, message.author_type) == ("in", "customer")
        interaction = await get_interaction(self.hub, message.interaction_id)
        assert interaction.channel == self.channel.name and interaction.closed_at is None
        owner = await identity_owner(self.hub, self.channel.name, sender)
        assert owner == interaction.customer_id, f"no customer identity ({self.channel.name}, {sender})"
        await wait_for(lambda: self.events.of_kind("inbound", message.id), self.receive_timeout,
                       message="the inbound message event")
        opened = [e for e in self.events.of_kind("opened") if e.interaction_id == interaction.id]
        assert len(opened) == 1 and len(self.events.of_kind("inbound", message.id)) == 1

    async def test_two_senders_are_two_customers(self) -> None:
        self._require("carries_text")
        first = await self._receive(f"first {_tag()}", 1)
        second = await self._receive(f"second {_tag()}", 2)
        one = await get_interaction(self.hub, first.interaction_id)
        two = await get_interaction(self.hub, second.interaction_id)
        assert one.id != two.id and one.customer_id != two.customer_id

    async def test_burst_is_stored_once_each(self) -> None:
        self._require("carries_text")
        before = await count_messages(self.hub, self.channel.name)
        texts = [f"burst {n} {_tag()}" for n in range(12)]
        for n, text in enumerate(texts):
            await self.peer.inject(text, self.peer.sender_for(n % 3 + 1), _tag())
        for text in texts:
            await self._stored_once(text)
        assert await count_messages(self.hub, self.channel.name) == before + len(texts)

    # Replay.

    async def test_replay_is_stored_once(self) -> None:
        self._require("carries_text")
        text, external_id, sender = f"replayed {_tag()}", _tag(), self.peer.sender_for(1)
        await self.peer.inject(text, sender, external_id)
        first = await self._stored_once(text)
        await self.peer.inject(text, sender, external_id)  # the provider retries
        await self._receive(f"after the replay {_tag()}", 1)
        assert [m.id for m in await messages_with_text(self.hub, self.channel.name, text)] == [first.id]
        assert len(self.events.of_kind("inbound", first.id)) == 1, "the replay was announced again"

    async def test_quick_replay_is_stored_once(self) -> None:
        self._require("carries_text")
        text, external_id, sender = f"retried at once {_tag()}", _tag(), self.peer.sender_for(1)
        await self.peer.inject(text, sender, external_id)
        await self.peer.inject(text, sender, external_id)
        await self._stored_once(text)

    # Send.

    async def test_send_reaches_peer(self) -> None:
        self._require("carries_text")
        inbound = await self._receive(f"question {_tag()}", 1)
        await self._send_and_confirm(inbound.interaction_id, f"answer {_tag()} — 谢谢")

    async def test_send_while_peer_away_is_never_lost(self) -> None:
        """While the peer is away a reply either ends ``failed`` with an error the agent sees
        (and the peer never gets it), or stays ``pending`` and is delivered, once, after the
        peer is back. Reported as sent without reaching the peer, or pending forever, fails."""
        self._require("carries_text")
        self._require("supports_outage")
        inbound = await self._receive(f"before the outage {_tag()}", 1)
        reply = f"sent into the outage {_tag()}"
        await self.peer.disconnect()
        try:
            message_id = await send_message(self.hub, inbound.interaction_id, reply)
            failed = await self._failed_within(message_id, self.outage_send_wait)
        finally:
            await self.peer.reconnect()
        if failed is not None:
            assert failed.delivery_error, "a failed message must say why"
            await asyncio.sleep(self.settle)
            assert not self._count(await self.peer.sent(), reply), "marked failed, yet the peer got it"
        else:
            _assert_delivered(await self._settled(message_id))
            await self._wait_sent_once(reply)
        await self._send_and_confirm(inbound.interaction_id, f"after the outage {_tag()}")

    # Reconnect.

    async def test_receives_after_reconnect(self) -> None:
        self._require("carries_text")
        self._require("supports_outage")
        await self._receive(f"before {_tag()}", 1)
        await self.peer.disconnect()
        await asyncio.sleep(self.settle)
        await self.peer.reconnect()
        await self._receive(f"after {_tag()}", 1)

    async def test_inbound_during_outage_is_kept(self) -> None:
        self._require("carries_text")
        self._require("supports_outage")
        self._require("supports_offline_inbound")
        texts = [f"while away {n} {_tag()}" for n in range(3)]
        await self.peer.disconnect()
        try:
            for n, text in enumerate(texts):
                await self.peer.inject(text, self.peer.sender_for(n + 1), _tag())
            await asyncio.sleep(self.settle)
        finally:
            await self.peer.reconnect()
        for text in texts:
            await self._stored_once(text)
        await self._receive(f"after {_tag()}", 1)

    # Bad input.

    async def test_bad_input_is_dropped_and_logged(self, caplog: pytest.LogCaptureFixture) -> None:
        """A malformed input stores nothing, is logged on one line without a traceback, and the
        next good message flows; the channel stays healthy."""
        self._require("carries_text")
        self._require("supports_bad_input")
        caplog.set_level(logging.INFO, logger="contacthub")
        before = await count_messages(self.hub, self.channel.name)
        await self.peer.inject_bad()
        await self._receive(f"after the bad one {_tag()}", 1)
        assert await count_messages(self.hub, self.channel.name) == before + 1
        records = _hub_records(caplog, logging.INFO)
        assert records, "the bad input was not logged"
        assert not [r for r in records if r.exc_info], "bad input is a log line, not a traceback"
        await self._wait_state({HealthState.OK}, "health ok after a bad input")

    # Health.

    async def test_health_follows_peer(self, caplog: pytest.LogCaptureFixture) -> None:
        """Down or degraded while the peer is away, ok once it is back; a few log lines, no storm."""
        self._require("supports_outage")
        self._require("health_follows_peer")
        caplog.set_level(logging.INFO, logger="contacthub")
        await self._wait_state({HealthState.OK}, "health ok before the outage")
        await self.peer.disconnect()
        try:
            await self._wait_state(AWAY_STATES, "health degraded or down while the peer is away")
            await asyncio.sleep(1.0)  # long enough for a retry loop to show a log storm
        finally:
            await self.peer.reconnect()
        await self._wait_state({HealthState.OK}, "health ok after the peer is back")
        assert (await self.hub.health())[self.channel.name]["state"] == "ok"
        noisy = _hub_records(caplog, logging.WARNING)
        assert len(noisy) <= 3, f"{len(noisy)} warnings for one outage: {[r.getMessage() for r in noisy]}"

    # Helpers for the tests above (and for a subclass's own tests).

    def _require(self, flag: str) -> None:
        if not getattr(self, flag):
            pytest.skip(f"{type(self).__name__}.{flag} is False")

    async def _receive(self, text: str, customer: int) -> Message:
        """Inject ``text`` from customer number ``customer`` and return it once stored."""
        await self.peer.inject(text, self.peer.sender_for(customer), _tag())
        return await self._stored_once(text)

    async def _stored_once(self, text: str) -> Message:
        await wait_for(lambda: messages_with_text(self.hub, self.channel.name, text),
                       self.receive_timeout, message=f"inbound {text!r} to be stored")
        await asyncio.sleep(self.settle)
        found = await messages_with_text(self.hub, self.channel.name, text)
        assert len(found) == 1, f"inbound {text!r} was stored {len(found)} times"
        return found[0]

    async def _send_and_confirm(self, interaction_id: int, reply: str) -> Message:
        message_id = await send_message(self.hub, interaction_id, reply, author_name="Conformance")
        final = await self._settled(message_id)
        _assert_delivered(final)
        await self._wait_sent_once(reply)
        await wait_for(lambda: [e for e in self.events.of_kind("delivery", message_id)
                                if e.status in SENT_STATES],
                       self.send_timeout, message="a delivery event")
        return final

    async def _settled(self, message_id: int) -> Message:
        """The message once its delivery status has left ``pending``."""
        async def settled() -> Message | None:
            message = await get_message(self.hub, message_id)
            return None if message.delivery_status == DeliveryStatus.PENDING else message

        return await wait_for(settled, self.send_timeout, message=f"message {message_id} to leave pending")

    async def _failed_within(self, message_id: int, seconds: float) -> Message | None:
        async def failed() -> Message | None:
            message = await get_message(self.hub, message_id)
            return message if message.delivery_status == DeliveryStatus.FAILED else None

        try:
            return await wait_for(failed, seconds)
        except AssertionError:
            return None

    async def _wait_sent_once(self, reply: str) -> None:
        await wait_for(lambda: self._peer_count(reply), self.send_timeout,
                       message=f"the peer to receive {reply!r}")
        await asyncio.sleep(self.settle)
        assert await self._peer_count(reply) == 1, f"the peer received {reply!r} more than once"

    async def _peer_count(self, reply: str) -> int:
        return self._count(await self.peer.sent(), reply)

    @staticmethod
    def _count(sent: list[str], reply: str) -> int:
        # A channel may wrap a reply (an email quotes and signs it), so look for it inside.
        return sum(reply in text for text in sent)

    async def _state(self) -> HealthState:
        return (await self.channel.health()).state

    async def _wait_state(self, states: set[HealthState], what: str) -> Any:
        async def reached() -> bool:
            return await self._state() in states

        await wait_for(reached, self.receive_timeout, message=what)


def _tag() -> str:
    return uuid.uuid4().hex[:12]


def _assert_delivered(message: Message) -> None:
    assert message.delivery_status in SENT_STATES, (
        f"message {message.id} ended {message.delivery_status}: {message.delivery_error}"
    )


def _hub_records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("contacthub") and r.levelno >= level]
