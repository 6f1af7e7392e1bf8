"""A customer who leaves before anyone took the contact: a waiting interaction closes as
abandoned, once; one an agent already has is left alone."""

from __future__ import annotations

from sqlalchemy import update

from hub.core import HubCore
from hub.db import transaction
from hub.ingest import ingest
from hub.messages import InboundMessage
from hub.models import Agent, HistoryEntry, Interaction

from .helpers import rows


async def waiting_call(core: HubCore, uuid: str) -> int:
    result = await ingest(core, InboundMessage(
        channel="voice", external_id=f"call:{uuid}", sender="+8613800138000", thread_key=f"call:{uuid}",
        text="Call: Main menu › 0 Agent"))
    return result.interaction_id


async def test_a_waiting_contact_closes_as_abandoned_once(hub_core: HubCore) -> None:
    interaction_id = await waiting_call(hub_core, "a")
    hub = hub_core.facade("voice")
    assert await hub.customer_left(interaction_id) is True
    assert await hub.customer_left(interaction_id) is False, "already closed"
    [row] = await rows(hub_core, Interaction, Interaction.id == interaction_id)
    assert (row.status, row.disposition, row.closed_at is not None) == ("closed", "abandoned", True)
    history = await rows(hub_core, HistoryEntry, HistoryEntry.interaction_id == interaction_id)
    assert [(h.kind, h.summary) for h in history] == [
        ("opened", "Call: Main menu › 0 Agent"), ("closed", "abandoned")]


async def test_a_contact_an_agent_has_is_left_to_the_agent(hub_core: HubCore) -> None:
    interaction_id = await waiting_call(hub_core, "b")
    async with transaction(hub_core.sessions) as s:
        agent = Agent(number="1001", name="Li Na", password_hash="")
        s.add(agent)
        await s.flush()
        await s.execute(update(Interaction).where(Interaction.id == interaction_id).values(agent_id=agent.id))
    assert await hub_core.facade("voice").customer_left(interaction_id) is False
    [row] = await rows(hub_core, Interaction, Interaction.id == interaction_id)
    assert row.closed_at is None
