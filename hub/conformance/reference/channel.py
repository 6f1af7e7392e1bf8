"""MemoryChannel: the reference channel, reading from and writing to a ``MemoryPeer``."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from hub.channel import Capabilities, Channel, DeliveryStatus, Health, HealthState, SendResult
from hub.conformance.reference import client
from hub.conformance.reference.config import MemoryConfig
from hub.errors import NotReady
from hub.messages import InboundMessage, OutboundMessage

if TYPE_CHECKING:
    from hub.facade import Hub


class MalformedMessage(ValueError):
    """A native message the channel cannot read; it is logged and dropped, never retried."""


class MemoryChannel(Channel):
    """A channel whose peer lives in the same process; every real channel has this shape."""

    name = "memory"
    capabilities = Capabilities(realtime=True, can_initiate=True)

    def __init__(self, hub: Hub) -> None:
        super().__init__(hub)
        # Validate settings while the hub is created, so a typo stops start-up at once.
        self.config = MemoryConfig.from_settings(hub.settings)
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        try:
            client.connect(self.config.peer)
            self._health_is(HealthState.OK)
        except client.PeerUnavailable as err:
            # Not fatal: the reader keeps trying, and health says why nothing flows yet.
            self._health_is(HealthState.DOWN, str(err))
        self._reader = asyncio.create_task(self._read_forever(), name=f"{self.name}-reader")

    async def stop(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def send(self, out: OutboundMessage) -> SendResult:
        native = {"to": out.recipient, "text": out.text, "ref": out.message_id}
        try:
            provider_id = await client.connect(self.config.peer).post(native)
        except client.PeerUnavailable as err:
            # NotReady makes Channel.deliver retry with backoff, then record a failure.
            raise NotReady(str(err)) from err
        return SendResult(DeliveryStatus.SENT, provider_id=provider_id)

    async def health(self) -> Health:
        return self.current_health

    async def _read_forever(self) -> None:
        """Take inbound messages one by one; on trouble, say so once and retry with backoff."""
        delay = self.config.retry_min
        while True:
            try:
                await self._read_one()
            except client.PeerUnavailable as err:
                self._health_is(HealthState.DOWN, str(err))
            except Exception as err:
                # Most likely the database is away. The message stays at the peer unacknowledged
                # and comes back on the next fetch; ingest's idempotency makes that safe.
                self.log.debug("storing an inbound message failed", exc_info=True)
                self._health_is(HealthState.DEGRADED, f"cannot store inbound messages: {err}")
            else:
                delay = self.config.retry_min
                continue
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.config.retry_max)

    async def _read_one(self) -> None:
        peer = client.connect(self.config.peer)
        if self.current_health.state != HealthState.DEGRADED:
            self._health_is(HealthState.OK)  # logs only when the link has just come back
        native = await peer.fetch()
        try:
            msg = self.to_inbound(native)
        except MalformedMessage as err:
            self.log.warning("dropped a malformed message from peer %r: %s", self.config.peer, err)
            peer.ack(native)  # it will never get better; acknowledging stops a redelivery loop
            return
        await self.hub.ingest(msg)
        self._health_is(HealthState.OK)
        # Acknowledge only now that ingest has committed: a crash before this line makes the
        # peer deliver again, and ingest stores (channel, external_id) once.
        peer.ack(native)

    def _health_is(self, state: HealthState, detail: str = "") -> None:
        # Diagnostics for operators: which peer this is about. Nothing
        # secret goes here; a channel with credentials shows the account name, never the key.
        self.report_health(state, detail, peer=self.config.peer)

    def to_inbound(self, native: Any) -> InboundMessage:
        """Turn a native message into the hub's shape; ``MalformedMessage`` says what is wrong."""
        if not isinstance(native, dict):
            raise MalformedMessage(f"expected a dict, got {type(native).__name__}")
        missing = [key for key in ("id", "from", "text") if not isinstance(native.get(key), str)]
        if missing or not native["id"] or not native["from"]:
            raise MalformedMessage(f"missing or empty field(s) {', '.join(missing) or 'id/from'}")
        return InboundMessage(
            channel=self.name, external_id=native["id"], sender=native["from"],
            thread_key=native["from"], text=native["text"],
            sender_name=str(native.get("name", "")), raw=native,
        )
