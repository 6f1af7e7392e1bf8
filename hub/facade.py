"""The Hub facade: all a plugin or channel gets from the core, and all that is API."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select, update

from hub.errors import NotFound
from hub.events import Listener
from hub.messages import AttachmentRef, InboundMessage

if TYPE_CHECKING:
    from hub.core import HubCore
    from hub.ingest import IngestResult


class Hub:
    """The core as one plugin (or channel) called ``scope`` sees it.

    Reading and writing interactions is limited to the scope's own channel, so a plugin
    cannot reach another channel's conversations through this object.
    """

    def __init__(self, core: HubCore, scope: str) -> None:
        self._core = core
        self.scope = scope
        self.log = logging.getLogger(f"contacthub.plugin.{scope}")
        self._http: aiohttp.ClientSession | None = None

    @property
    def settings(self) -> dict[str, Any]:
        """This plugin's own settings section (``[plugins.<scope>]``)."""
        return self._core.settings.section(self.scope)

    @property
    def public_url(self) -> str:
        """The URL customers' browsers reach the hub at, without a trailing slash."""
        return self._core.settings.public_url.rstrip("/")

    async def ingest(self, msg: InboundMessage) -> IngestResult:
        """Store an inbound message exactly once (see ``hub.ingest.ingest``).

        Acknowledge the message to its peer only after this returns: it has committed.
        """
        from hub.ingest import ingest

        return await ingest(self._core, msg)

    def store_file(self, data: bytes, filename: str) -> AttachmentRef:
        """Keep an uploaded or received file; raises ``InvalidRequest`` if too big or of a
        refused type (the type is sniffed from the bytes)."""
        return self._core.files.store(data, filename)

    def file_path(self, sha256: str) -> Path:
        return self._core.files.path(sha256)

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        """Send a live update to every open screen subscribed to ``topic``."""
        await self._core.bus.publish(topic, payload)

    def subscribe(self, topic: str, listener: Listener) -> Callable[[], None]:
        """Receive live updates on ``topic``; returns the function that unsubscribes."""
        return self._core.bus.subscribe(topic, listener)

    def signer(self, purpose: str) -> URLSafeTimedSerializer:
        """A signer keyed by the hub's secret and salted by scope and purpose."""
        return URLSafeTimedSerializer(self._core.settings.secret_key, salt=f"{self.scope}:{purpose}")

    @property
    def http(self) -> aiohttp.ClientSession:
        """A shared HTTP client session for talking to providers' APIs."""
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._http

    def enqueue(self, task: str, *args: Any) -> None:
        """Run a background job (a Celery task by name) with ids as arguments."""
        self._core.celery.send_task(task, args=args)

    async def latest_interaction(self, thread_key: str) -> dict[str, Any] | None:
        """This channel's newest interaction for ``thread_key``, open or closed."""
        from hub.models import Interaction

        async with self._core.sessions() as s:
            row = (await s.execute(
                select(Interaction)
                .where(Interaction.channel == self.scope, Interaction.thread_key == thread_key)
                .order_by(Interaction.id.desc()).limit(1)  # type: ignore[union-attr]
            )).scalar_one_or_none()
        return None if row is None else row.model_dump(mode="json")

    async def messages_since(
        self, interaction_id: int, after_seq: int, limit: int = 500
    ) -> list[dict[str, Any]]:
        """Messages of one of this channel's interactions with ``seq > after_seq``, in order."""
        from hub.history import messages_after

        async with self._core.sessions() as s:
            await self._own(s, interaction_id)
            return await messages_after(s, interaction_id, after_seq, limit)

    async def mark_read_by_customer(self, interaction_id: int, up_to_seq: int) -> None:
        """Record that the customer has seen every message up to ``up_to_seq``."""
        from hub.db import transaction
        from hub.models import Interaction

        async with transaction(self._core.sessions) as s:
            await self._own(s, interaction_id)
            await s.execute(
                update(Interaction)
                .where(Interaction.id == interaction_id,
                       Interaction.customer_read_seq < up_to_seq,
                       Interaction.last_seq >= up_to_seq)
                .values(customer_read_seq=up_to_seq)
            )
        await self.publish(f"interaction:{interaction_id}",
                           {"event": "read", "by": "customer", "up_to_seq": up_to_seq,
                            "interaction_id": interaction_id})

    async def record_delivery(
        self, message_id: int, status: str, error: str = "", provider_id: str = ""
    ) -> None:
        """A delivery report arrived later (sent, delivered, read, failed)."""
        from hub.outbound import set_delivery

        await set_delivery(self._core, message_id, status, error, provider_id, channel=self.scope)

    def agents_online(self) -> int:
        """How many agents have a live screen open now; 0 means nobody can answer a chat."""
        return sum(1 for connections in self._core.presence.values() if connections > 0)

    async def internal_call_allowed(self, caller: int, callee: int) -> bool:
        """Whether agent ``caller`` may call agent ``callee``: not while customers wait in
        either one's queues (the centre's rule; a voice channel asks before bridging)."""
        from hub.routing.actions import internal_call_allowed

        return await internal_call_allowed(self._core, caller, callee)

    async def mark_followup(self, interaction_id: int) -> None:
        """Set one of this channel's open interactions aside as awaiting follow-up (a message
        left while nobody could answer live); the inbox hears an InteractionEvent ``followup``."""
        from hub.db import transaction
        from hub.events import InteractionEvent
        from hub.models import Interaction, InteractionStatus, utcnow

        async with transaction(self._core.sessions) as s:
            await self._own(s, interaction_id)
            customer_id = (await s.execute(
                update(Interaction)
                .where(Interaction.id == interaction_id, Interaction.closed_at.is_(None))  # type: ignore[union-attr]
                .values(status=InteractionStatus.FOLLOWUP, updated_at=utcnow())
                .returning(Interaction.customer_id)
            )).scalar_one_or_none()
        if customer_id is not None:
            await self._core.interaction_event(
                InteractionEvent("followup", interaction_id, self.scope, customer_id))

    async def attachment_in_thread(self, thread_key: str, sha256: str) -> AttachmentRef | None:
        """The file ``sha256`` if a message of this channel's interactions for ``thread_key``
        carries it, else None: lets a channel hand customers their own files and no others."""
        from hub.models import Attachment, Interaction, Message

        async with self._core.sessions() as s:
            row = (await s.execute(
                select(Attachment)
                .join(Message, Message.id == Attachment.message_id)
                .join(Interaction, Interaction.id == Message.interaction_id)
                .where(Attachment.sha256 == sha256, Interaction.channel == self.scope,
                       Interaction.thread_key == thread_key)
                .limit(1)
            )).scalar_one_or_none()
        if row is None:
            return None
        return AttachmentRef(row.sha256, row.filename, row.content_type, row.size)

    async def _own(self, s: Any, interaction_id: int) -> None:
        from hub.models import Interaction

        channel = (await s.execute(
            select(Interaction.channel).where(Interaction.id == interaction_id)
        )).scalar_one_or_none()
        if channel != self.scope:
            raise NotFound("interaction")

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
