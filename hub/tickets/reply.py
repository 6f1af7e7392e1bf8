"""Answering the customer on the channel they used: the ticket's originating interaction if
it is still open, else a new conversation on the same channel and thread, held by the agent
who answers, so the customer's reply comes back to them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hub.db import transaction
from hub.errors import InvalidRequest
from hub.events import InteractionEvent
from hub.models import Agent, HistoryEntry, Interaction, InteractionStatus, Ticket, utcnow
from hub.outbound import send_message
from hub.tickets import org, service
from hub.tickets.workflow import may_act

if TYPE_CHECKING:
    from hub.core import HubCore


async def answer(
    core: HubCore, agent: Agent, ticket_id: int, text: str, *, version: int | None = None
) -> Ticket:
    """The reply step's work: answer the customer, then record it; at the ``reply`` step the
    ticket moves on, elsewhere the answer is a comment on the timeline. A repeat of the same
    answer to the same ticket version sends nothing again."""
    async with core.sessions() as s:
        ticket, view = await service.load(s, ticket_id)
        _kind, template = await service.template_of(s, ticket.type)
        actor = await org.actor_of(s, agent)
    if not may_act(template, view, actor):
        raise InvalidRequest("not_allowed", "you may not act on this ticket at its current step", status=403)
    if version is not None and version != ticket.version:
        raise InvalidRequest("ticket_changed", "someone changed this ticket meanwhile: reload it", status=409)
    await reply_to_customer(core, ticket, agent, text, client_id=f"ticket-{ticket_id}-v{ticket.version}")
    action = "advance" if ticket.step == "reply" else "comment"
    return await service.act(core, agent, ticket_id, action, opinion=f"answered: {text}"[:4000])


async def reply_to_customer(core: HubCore, ticket: Ticket, agent: Agent, text: str, *, client_id: str) -> int:
    """Send ``text`` to the ticket's customer on the originating channel; the message id.
    ``client_id`` makes a repeat (a retried job, a double click) send nothing again."""
    if ticket.interaction_id is None:
        raise InvalidRequest(
            "no_channel", "this ticket did not come from a conversation: call the customer back", status=409
        )
    conversation = await _open_conversation(core, ticket, agent)
    return await send_message(
        core, conversation, text, agent_id=agent.id, author_name=agent.name, client_id=client_id[:64]
    )


async def _open_conversation(core: HubCore, ticket: Ticket, agent: Agent) -> int:
    async with core.sessions() as s:
        origin = await s.get(Interaction, ticket.interaction_id)
    if origin is None:
        raise InvalidRequest("no_channel", "the conversation this ticket came from is gone", status=409)
    if origin.closed_at is None:
        return int(origin.id or 0)
    for _ in range(2):
        existing = await _open_on_thread(core, origin)
        if existing is not None:
            return existing
        try:
            return await _start(core, origin, ticket, agent)
        except IntegrityError:
            continue  # the customer wrote at the same moment: their conversation is the one
    raise InvalidRequest(
        "no_channel", "could not open a conversation with the customer; try again", status=409
    )


async def _open_on_thread(core: HubCore, origin: Interaction) -> int | None:
    async with core.sessions() as s:
        return (
            await s.execute(
                select(Interaction.id).where(
                    Interaction.channel == origin.channel,
                    Interaction.thread_key == origin.thread_key,
                    Interaction.closed_at.is_(None),
                )
            )
        ).scalar_one_or_none()  # type: ignore[union-attr]


async def _start(core: HubCore, origin: Interaction, ticket: Ticket, agent: Agent) -> int:
    now = utcnow()
    async with transaction(core.sessions) as s:
        interaction = Interaction(
            customer_id=origin.customer_id,
            channel=origin.channel,
            thread_key=origin.thread_key,
            status=InteractionStatus.ASSIGNED,
            queue=origin.queue,
            agent_id=agent.id,
            subject=f"{ticket.number} {ticket.title}"[:300],
            created_at=now,
            updated_at=now,
            assigned_at=now,
        )
        s.add(interaction)
        await s.flush()
        s.add(
            HistoryEntry(
                customer_id=origin.customer_id,
                interaction_id=interaction.id,
                channel=origin.channel,
                kind="opened",
                summary=f"reply to ticket {ticket.number}"[:500],
                at=now,
            )
        )
    await core.interaction_event(
        InteractionEvent(
            "assigned",
            int(interaction.id or 0),
            origin.channel,
            origin.customer_id,
            queue=origin.queue,
            agent_id=agent.id,
        )
    )
    return int(interaction.id or 0)
