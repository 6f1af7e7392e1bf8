"""The Hub facade: all a plugin or channel gets from the core, and all that is API."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import aiohttp
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select, update

from hub.errors import InvalidRequest, NotFound
from hub.events import Listener
from hub.messages import AttachmentRef, InboundMessage

if TYPE_CHECKING:
    from hub.core import HubCore
    from hub.ingest import IngestResult
    from hub.plugin_state import Lease


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

    async def ingest_many(self, msgs: Sequence[InboundMessage]) -> list[IngestResult]:
        """Store a batch of inbound messages exactly once each, as ``ingest`` would one by
        one, in one transaction (see ``hub.ingest_batch.ingest_many``); results in order.

        Acknowledge the batch to its peer only after this returns.
        """
        from hub.ingest_batch import ingest_many

        return await ingest_many(self._core, msgs)

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
        """Run a background job (a Celery task, or a plugin's ``hub.jobs.PluginJob``, by task
        name) with ids as arguments. Returns once it is queued, not run. Raises
        ``hub.errors.NotReady`` when the job queue cannot take it now (the hub has already
        tried twice); from ``Channel.send`` let it propagate, and the hub retries the send
        with backoff."""
        self._core.enqueue(task, *args)

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

    @property
    def services(self) -> Mapping[str, Any]:
        """Self-services plugins registered (``hub_register_services``), by name: ``await
        hub.services["balance"](variables)``; bound them by a deadline of your own."""
        return MappingProxyType(self._core.services)

    async def open_interactions(self, limit: int = 10_000) -> list[dict[str, Any]]:
        """This channel's open interactions, oldest first (``id``, ``thread_key``, ``status``,
        ``agent_id``, ``queue``): what a live channel checks against its peer after the hub
        restarted (which calls are still there)."""
        from hub.models import Interaction

        async with self._core.sessions() as s:
            rows = (await s.execute(
                select(Interaction.id, Interaction.thread_key, Interaction.status, Interaction.agent_id,
                       Interaction.queue)
                .where(Interaction.channel == self.scope, Interaction.closed_at.is_(None))  # type: ignore[union-attr]
                .order_by(Interaction.id).limit(limit))).all()
        return [{"id": r.id, "thread_key": r.thread_key, "status": r.status, "agent_id": r.agent_id,
                 "queue": r.queue} for r in rows]

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

    async def reply(self, interaction_id: int, text: str, *, client_id: str,
                    author_type: str = "system") -> int:
        """Store and send a message from the hub itself (an acknowledgement, a notice) in one
        of this channel's interactions; the message id. ``client_id`` makes it idempotent: the
        same id again returns the first message and sends nothing."""
        from hub.outbound import send_message

        async with self._core.sessions() as s:
            await self._own(s, interaction_id)
        return await send_message(self._core, interaction_id, text, author_type=author_type,
                                  client_id=f"{self.scope}:{client_id}")

    async def get_state(self, key: str) -> dict[str, Any] | None:
        """This plugin's document stored under ``key``, or None."""
        from hub import plugin_state

        return await plugin_state.get(self._core, self.scope, key)

    async def put_state(self, key: str, value: dict[str, Any]) -> None:
        """Store a JSON document under ``key`` (replacing it), committed when this returns."""
        from hub import plugin_state

        await plugin_state.put(self._core, self.scope, key, value)

    async def delete_state(self, key: str) -> bool:
        """Remove ``key``; whether it existed."""
        from hub import plugin_state

        return await plugin_state.remove(self._core, self.scope, key)

    async def list_state(self, prefix: str) -> dict[str, dict[str, Any]]:
        """Every document of this plugin whose key starts with ``prefix``, by key."""
        from hub import plugin_state

        return await plugin_state.items(self._core, self.scope, prefix)

    async def claim(self, key: str, seconds: float, holder: dict[str, Any] | None = None) -> bool:
        """Take the lease ``key`` for ``seconds`` unless another holder's lease is still running.

        Exactly one of several processes asking at once gets True. A holder that dies simply
        lets its lease run out. ``holder`` is stored as the lease's document (who, when).
        """
        from hub import plugin_state

        return await plugin_state.claim(self._core, self.scope, key, seconds, holder or {})

    async def lease(self, key: str, seconds: float, holder: dict[str, Any] | None = None) -> Lease | None:
        """Take the lease ``key`` as ``claim`` does, to keep it: the ``Lease`` returned renews
        it (``await lease.renew()``, well within ``seconds``; False means another process has
        it now, so stop what it guards) and releases it when done (``await lease.release()``).
        None while another holder's lease is running."""
        from hub import plugin_state

        return await plugin_state.take(self._core, self.scope, key, seconds, holder or {})

    def seal(self, secret: str) -> str:
        """Encrypt a secret this plugin must keep and use again (a mailbox password), with a
        key derived from the hub's secret key and this plugin's scope."""
        from hub import plugin_state

        box = plugin_state.fernet(self._core.settings.secret_key, self.scope)
        return box.encrypt(secret.encode()).decode()

    def unseal(self, token: str) -> str:
        """The secret ``seal`` returned ``token`` for; ValueError when the key has changed."""
        from hub import plugin_state

        return plugin_state.unseal(plugin_state.fernet(self._core.settings.secret_key, self.scope), token)

    async def interaction(self, interaction_id: int) -> dict[str, Any]:
        """One of this channel's interactions as a dict; NotFound for another channel's."""
        from hub.models import Interaction

        async with self._core.sessions() as s:
            await self._own(s, interaction_id)
            row = await s.get(Interaction, interaction_id)
        assert row is not None
        return row.model_dump(mode="json")

    async def caller(self, number: str) -> dict[str, Any]:
        """What the hub knows of a calling number, fast enough to branch an IVR on: the
        customer it belongs to (``customer_id``, ``name``, ``tier``, ``vip``), whether routing
        would refuse it (``blocked``), the caller's ``region`` (their record, else the
        number's prefix) and the ``outages`` wording for that region. A stranger comes back
        with ``customer_id`` None and the ordinary tier."""
        from hub.callers import identify_caller

        async with self._core.sessions() as s:
            return (await identify_caller(s, number)).as_dict()

    async def customer_left(self, interaction_id: int) -> bool:
        """The customer went before anyone took the contact (a caller hung up in the queue):
        one of this channel's interactions still waiting closes as ``abandoned``, and routing
        counts it so. False when it was not waiting any more: an agent has it, or it is closed."""
        from hub.db import transaction
        from hub.events import InteractionEvent
        from hub.models import HistoryEntry, Interaction, InteractionStatus, utcnow

        now = utcnow()
        async with transaction(self._core.sessions) as s:
            await self._own(s, interaction_id)
            # One conditional update: an agent taking the call at this moment wins or loses whole.
            row = (await s.execute(
                update(Interaction).where(Interaction.id == interaction_id,
                                          Interaction.agent_id.is_(None),  # type: ignore[union-attr]
                                          Interaction.closed_at.is_(None))  # type: ignore[union-attr]
                .values(status=InteractionStatus.CLOSED, disposition="abandoned", closed_at=now,
                        updated_at=now, close_note="the customer left before an agent answered")
                .returning(Interaction.channel, Interaction.customer_id, Interaction.queue))).first()
            if row is None:
                return False
            s.add(HistoryEntry(customer_id=row.customer_id, interaction_id=interaction_id,
                               channel=row.channel, kind="closed", summary="abandoned"))
        await self._core.interaction_event(InteractionEvent(
            "closed", interaction_id, row.channel, row.customer_id, queue=row.queue, disposition="abandoned"))
        return True

    async def agent(self, agent_id: int) -> dict[str, Any]:
        """An agent's ``id``, ``number`` and ``name`` (what a channel needs to reach them, e.g.
        the phone extension of the same number); NotFound if there is none."""
        row = await self._agent_row(agent_id)
        return {"id": row.id, "number": row.number, "name": row.name}

    async def answered(self, interaction_id: int, agent_id: int) -> bool:
        """The agent answered the offer on the channel's side (picked up the phone): the
        interaction is theirs, as if they had accepted it on screen. False when the offer was
        gone (timed out, withdrawn, the customer left): undo what the answer started."""
        from hub.routing.actions import accept_offer

        try:
            await accept_offer(self._core, await self._agent_row(agent_id), interaction_id)
        except InvalidRequest as err:
            if err.error_id != "offer_gone":
                raise
            return False
        return True

    async def not_answered(self, interaction_id: int, agent_id: int) -> bool:
        """The agent did not answer on the channel's side (no answer, busy, unreachable): the
        offer goes to the next agent and this one is set busy, as for a missed offer. False
        when the offer had already ended."""
        from hub.routing.actions import decline_offer

        try:
            await decline_offer(self._core, await self._agent_row(agent_id), interaction_id)
        except InvalidRequest as err:
            if err.error_id != "offer_gone":
                raise
            return False
        return True

    async def live(self, interaction_id: int, state: dict[str, Any]) -> None:
        """Show what one of this channel's live interactions is doing now (``{"state":
        "held", "muted": true, ...}``, as ``Channel.live`` returns it) on the screens that
        follow it and on its agent's; call it on every change the agent should see."""
        from hub.live import publish_live

        await publish_live(self._core, interaction_id, state, channel=self.scope)

    async def on_hold(self, interaction_id: int, held: bool) -> bool:
        """The customer of one of this channel's interactions was put on hold (``held``) or
        taken off it: its agent moves to hold or back to active in the ACD. False when the
        agent was not in the state to leave (already there, or no agent)."""
        from hub.live import set_held

        async with self._core.sessions() as s:
            await self._own(s, interaction_id)
        return await set_held(self._core, interaction_id, held)

    async def contact_ended(self, interaction_id: int, record: dict[str, Any], summary: str) -> bool:
        """The contact is over on the channel's side (the call hung up) while an agent had it:
        ``record`` (JSON: a call's legs, times, hang-up cause and side) is kept on the
        interaction, ``summary`` goes into the customer's history, the agent goes to wrap-up,
        and the screens hear the live state ``ended``. The agent still closes the interaction
        with a disposition. Safe to repeat: False when it was recorded already or no agent
        had the contact (a caller who left while waiting is ``customer_left``)."""
        from hub.live import contact_ended

        return await contact_ended(self._core, self.scope, interaction_id, record, summary)

    async def add_to_record(self, interaction_id: int, fields: dict[str, Any], summary: str) -> bool:
        """Add ``fields`` to the record of one of this channel's contacts, after it ended (a
        caller's survey score) and ``summary`` to the customer's history; False when there is
        no such interaction of this channel."""
        from hub.live import add_to_record

        return await add_to_record(self._core, self.scope, interaction_id, fields, summary)

    async def queue_position(self, interaction_id: int) -> int | None:
        """Where one of this channel's waiting interactions stands in its queue among the
        channel's others (1: next): in the order routing serves them (VIPs first, then the
        tier furthest below its service level, then arrival) where this process routes, by
        arrival otherwise; None once it is not waiting. For a caller's position announcement."""
        from hub.live import queue_position

        in_routing_order = self._core.routing.position(interaction_id)
        return in_routing_order or await queue_position(self._core, self.scope, interaction_id)

    async def free_agent(self, queue: str) -> dict[str, Any] | None:
        """An agent free now for a new contact of this channel in ``queue``, the one routing
        would choose (``id``, ``number``, ``name``, as ``agent`` gives), for an agent to ask
        for help (consult a queue); None when none is, the queue is unknown, or this process
        does not route. Nothing is offered or reserved: ring them and see."""
        agent_id = self._core.routing.free_agent(queue, self.scope)
        return None if agent_id is None else await self.agent(agent_id)

    async def open_outbound(self, customer_id: int, thread_key: str, agent_id: int, subject: str) -> int:
        """Open an interaction of this channel that agent ``agent_id`` starts (a call they
        place from the customer's panel): theirs from the start, they are active on it, the
        customer's history says so. Returns its id."""
        from hub.live import open_outbound

        return await open_outbound(self._core, self.scope, customer_id, thread_key, agent_id, subject)

    async def agent_by_number(self, number: str) -> dict[str, Any] | None:
        """The active agent with agent number ``number`` (``id``, ``number``, ``name``), or None:
        a channel resolving what a person typed (consult agent 1002)."""
        from hub.live import agent_by_number

        return await agent_by_number(self._core, number)

    async def hand_over(self, interaction_id: int, from_agent: int, to_agent: int) -> None:
        """Agent ``from_agent`` hands the interaction they hold to ``to_agent``, who is already
        on it (a consulted colleague the call was transferred to): it becomes theirs and they
        are active on it; routing frees the first agent. ``InvalidRequest`` when the contact is
        not ``from_agent``'s or the colleague does not exist."""
        from hub.live import hand_over

        await hand_over(self._core, self.scope, interaction_id, from_agent, to_agent)

    async def take_over(self, interaction_id: int, supervisor_id: int) -> None:
        """Supervisor ``supervisor_id`` takes one of this channel's interactions over from its
        agent (a call they were listening to): it becomes theirs and the agent is freed of it.
        ``PermissionDenied`` when they are not a supervisor."""
        from hub.live import take_over

        await take_over(self._core, self.scope, interaction_id, supervisor_id)

    async def requeue(self, interaction_id: int, queue: str, agent_id: int) -> None:
        """Agent ``agent_id`` hands the interaction they hold to ``queue`` (a call transferred
        to another department): it waits there with its first arrival time and routing offers
        it again. ``InvalidRequest`` for an unknown queue or a contact that is not theirs."""
        from hub.live import requeue

        await requeue(self._core, self.scope, interaction_id, queue, agent_id)

    async def _agent_row(self, agent_id: int) -> Any:
        from hub.models import Agent

        async with self._core.sessions() as s:
            row = await s.get(Agent, agent_id)
        if row is None:
            raise NotFound("agent")
        return row

    async def find_message(self, external_id: str) -> dict[str, Any] | None:
        """This channel's stored message with ``external_id`` (inbound or outbound, the
        latter as ``out:<client id>``), with its interaction's ``thread_key``; or None."""
        from hub.history import message_dict
        from hub.models import Interaction, Message

        async with self._core.sessions() as s:
            row = (await s.execute(
                select(Message, Interaction.thread_key)
                .join(Interaction, Interaction.id == Message.interaction_id)
                .where(Message.channel == self.scope, Message.external_id == external_id)
            )).one_or_none()
        if row is None:
            return None
        return {**message_dict(row[0]), "thread_key": row[1]}

    async def message(self, message_id: int) -> dict[str, Any]:
        """One of this channel's stored messages with its attachments and its interaction's
        ``thread_key``, ``entry`` and ``subject``; NotFound for another channel's."""
        from hub.history import message_dict
        from hub.models import Attachment, Interaction, Message

        async with self._core.sessions() as s:
            row = (await s.execute(
                select(Message, Interaction)
                .join(Interaction, Interaction.id == Message.interaction_id)
                .where(Message.id == message_id, Message.channel == self.scope)
            )).one_or_none()
            if row is None:
                raise NotFound("message")
            files = list((await s.execute(
                select(Attachment).where(Attachment.message_id == message_id))).scalars())
        message, interaction = row
        return {**message_dict(message, files), "thread_key": interaction.thread_key,
                "entry": interaction.entry, "subject": interaction.subject,
                "customer_id": interaction.customer_id}

    async def thread_messages(
        self, thread_key: str, *, direction: str | None = None, limit: int = 20,
    ) -> list[dict[str, Any]]:
        """The newest messages of this channel's thread ``thread_key`` across all its
        interactions, newest first; only inbound (``"in"``) or outbound when asked."""
        from hub.history import message_dict
        from hub.models import Interaction, Message

        query = (select(Message).join(Interaction, Interaction.id == Message.interaction_id)
                 .where(Interaction.channel == self.scope, Interaction.thread_key == thread_key))
        if direction is not None:
            query = query.where(Message.direction == direction)
        async with self._core.sessions() as s:
            rows = (await s.execute(
                query.order_by(Message.id.desc()).limit(limit)  # type: ignore[union-attr]
            )).scalars().all()
        return [message_dict(m) for m in rows]

    async def ticket_thread(self, number: str) -> str | None:
        """The thread key of the conversation ticket ``number`` came from, when that was one
        of this channel's; None otherwise (a subject's ticket tag joins a mail to it)."""
        from hub.models import Interaction, Ticket

        async with self._core.sessions() as s:
            return (await s.execute(
                select(Interaction.thread_key)
                .join(Ticket, Ticket.interaction_id == Interaction.id)
                .where(Ticket.number == number, Interaction.channel == self.scope)
            )).scalar_one_or_none()

    async def thread_ticket(self, thread_key: str) -> str | None:
        """The number of the newest ticket made from a conversation of this channel's thread
        ``thread_key``, or None (a mail reply carries it in its subject)."""
        from hub.models import Interaction, Ticket

        async with self._core.sessions() as s:
            return (await s.execute(
                select(Ticket.number)
                .join(Interaction, Ticket.interaction_id == Interaction.id)
                .where(Interaction.channel == self.scope, Interaction.thread_key == thread_key)
                .order_by(Ticket.id.desc()).limit(1)  # type: ignore[union-attr]
            )).scalar_one_or_none()

    async def pending_outbound(self, older_than: float, limit: int = 500) -> list[int]:
        """Ids of this channel's outbound messages still pending after ``older_than`` seconds:
        what a sweep hands to the sending job again when a worker died mid-send."""
        from datetime import timedelta

        from hub.models import Message, utcnow

        cutoff = utcnow() - timedelta(seconds=older_than)
        async with self._core.sessions() as s:
            return list((await s.execute(
                select(Message.id).where(
                    Message.channel == self.scope, Message.direction == "out",
                    Message.delivery_status == "pending", Message.created_at < cutoff)
                .order_by(Message.id).limit(limit)  # type: ignore[arg-type]
            )).scalars())

    @staticmethod
    def actor(request: Any) -> int | None:
        """The id of the logged-in agent making ``request`` (an admin route's caller)."""
        from hub.web.access import login_of

        login = login_of(request)
        return None if login is None else login.agent.id

    async def audit(self, request: Any, action: str, target: str = "", detail: str = "") -> None:
        """Keep a line in the hub's audit log for what the caller of ``request`` did;
        ``action`` is prefixed with this plugin's scope."""
        from hub.web.access import login_of
        from hub.web.auth import audit, client_ip

        login = login_of(request)
        await audit(self._core, None if login is None else login.agent, f"{self.scope}.{action}",
                    target, detail, client_ip(request))

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
