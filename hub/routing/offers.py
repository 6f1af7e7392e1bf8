"""Offers in the database: the row is the offer, and deleting it is how exactly one of
accept, decline, timeout and withdrawal wins, whichever process asks first."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db import transaction
from hub.models import Customer, CustomerIdentity, Interaction, InteractionStatus, RoutingOffer, utcnow
from hub.routing.model import Offer

ROUTED = (InteractionStatus.QUEUED, InteractionStatus.FOLLOWUP)
"""Statuses of interactions routing still has to place (``queued_at`` set)."""


def to_datetime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True, slots=True)
class OpenWork:
    """An open interaction as a restarting router needs it."""

    id: int
    customer_id: int
    channel: str
    queue: str
    status: str
    agent_id: int | None
    tier: str
    region: str
    thread_key: str
    entry: str
    arrived_at: float
    assigned_at: float | None


async def store_offers(sessions: async_sessionmaker[AsyncSession], offers: list[Offer],
                       timeouts: dict[str, float]) -> list[Offer]:
    """Keep new offers; returns those stored. An interaction closed or taken meanwhile gets
    no row (the caller withdraws those offers from the router)."""
    stored = []
    async with transaction(sessions) as s:
        for offer in offers:
            still_waiting = (await s.execute(
                select(Interaction.id).where(Interaction.id == offer.interaction.id,
                                             Interaction.agent_id.is_(None),  # type: ignore[union-attr]
                                             Interaction.closed_at.is_(None))  # type: ignore[union-attr]
            )).scalar_one_or_none()
            if still_waiting is None:
                continue
            timeout = timeouts.get(offer.queue, 20.0)
            s.add(RoutingOffer(interaction_id=offer.interaction.id, agent_id=offer.agent_id,
                               queue=offer.queue, level=offer.level,
                               offered_at=to_datetime(offer.offered_at),
                               expires_at=to_datetime(offer.offered_at + timeout)))
            stored.append(offer)
    return stored


@dataclass(frozen=True, slots=True)
class Claimed:
    """The offer a claim deleted: where it was offered and at what skill level."""

    queue: str
    level: int


async def claim(s: AsyncSession, interaction_id: int, agent_id: int | None = None) -> Claimed | None:
    """Delete the offer of ``interaction_id`` (to ``agent_id`` if given); what it was, or
    None when another claim won."""
    where = [RoutingOffer.interaction_id == interaction_id]
    if agent_id is not None:
        where.append(RoutingOffer.agent_id == agent_id)
    row = (await s.execute(delete(RoutingOffer).where(*where)
                           .returning(RoutingOffer.queue, RoutingOffer.level))).first()
    return None if row is None else Claimed(str(row[0]), int(row[1]))


async def claim_offer(sessions: async_sessionmaker[AsyncSession], interaction_id: int,
                      agent_id: int | None = None) -> Claimed | None:
    """``claim`` in a transaction of its own."""
    async with transaction(sessions) as s:
        return await claim(s, interaction_id, agent_id)


async def offer_facts(sessions: async_sessionmaker[AsyncSession],
                      interaction_id: int) -> tuple[str, str, float]:
    """(channel, customer tier, arrival time) of an interaction, for announcing its offer."""
    query = (select(Interaction.channel, Customer.tier, Interaction.queued_at, Interaction.created_at)
             .join(Customer, Customer.id == Interaction.customer_id).where(Interaction.id == interaction_id))
    async with sessions() as s:
        channel, tier, queued_at, created_at = (await s.execute(query)).one()
    return channel, tier, (queued_at or created_at).timestamp()


async def assign_offered(s: AsyncSession, interaction_id: int, agent_id: int) -> Any:
    """Accepting: the interaction becomes the agent's, if it is still open and nobody's."""
    now = utcnow()
    return (await s.execute(
        update(Interaction)
        .where(Interaction.id == interaction_id, Interaction.closed_at.is_(None),  # type: ignore[union-attr]
               Interaction.agent_id.is_(None))  # type: ignore[union-attr]
        .values(agent_id=agent_id, status=InteractionStatus.ASSIGNED, assigned_at=now, updated_at=now)
        .returning(Interaction.channel, Interaction.customer_id, Interaction.queue)
    )).one_or_none()


def not_offered() -> Any:
    """SQL condition: nobody is being offered the interaction right now."""
    return ~exists().where(RoutingOffer.interaction_id == Interaction.id)


async def open_work(sessions: async_sessionmaker[AsyncSession],
                    interaction_id: int | None = None, *,
                    among: Collection[int] | None = None) -> list[OpenWork]:
    """Open interactions routing places or tracks: waiting ones (``queued_at`` set) and
    assigned ones; all of them, one (``interaction_id``) or those ``among`` some ids; one query."""
    routed = and_(Interaction.status.in_(ROUTED), Interaction.queued_at.is_not(None))  # type: ignore[attr-defined, union-attr]
    where = [Interaction.closed_at.is_(None),  # type: ignore[union-attr]
             routed | (Interaction.status == InteractionStatus.ASSIGNED)]
    if interaction_id is not None:
        where.append(Interaction.id == interaction_id)
    if among is not None:
        where.append(Interaction.id.in_(list(among)))  # type: ignore[union-attr]
    # Columns rather than ORM objects: a busy router reads thousands of these a minute.
    query = (select(*_WORK_COLUMNS, Customer.tier, Customer.region)
             .join(Customer, Customer.id == Interaction.customer_id).where(*where)
             .order_by(Interaction.queued_at, Interaction.id))  # type: ignore[arg-type]
    async with sessions() as s:
        rows = (await s.execute(query)).all()
    return [_work(*row) for row in rows]


_WORK_COLUMNS = (Interaction.id, Interaction.customer_id, Interaction.channel, Interaction.queue,
                 Interaction.status, Interaction.agent_id, Interaction.thread_key, Interaction.entry,
                 Interaction.queued_at, Interaction.created_at, Interaction.assigned_at)


def _work(id_: int, customer_id: int, channel: str, queue: str, status: str, agent_id: int | None,
          thread_key: str, entry: str, queued_at: datetime | None, created_at: datetime,
          assigned_at: datetime | None, tier: str, region: str) -> OpenWork:
    arrived = (queued_at or created_at).timestamp()
    return OpenWork(int(id_), customer_id, channel, queue, str(status), agent_id, tier, region,
                    thread_key, entry, arrived, assigned_at.timestamp() if assigned_at else None)


async def stored_offers(sessions: async_sessionmaker[AsyncSession]) -> list[RoutingOffer]:
    async with sessions() as s:
        return list((await s.execute(select(RoutingOffer))).scalars())


async def addresses(sessions: async_sessionmaker[AsyncSession], customer_id: int) -> list[tuple[str, str]]:
    """Every (kind, address) a customer is known by: the blocklist and prefix table use them."""
    return (await addresses_of(sessions, [customer_id])).get(customer_id, [])


async def addresses_of(sessions: async_sessionmaker[AsyncSession],
                       customer_ids: Collection[int]) -> dict[int, list[tuple[str, str]]]:
    """``addresses`` of many customers in one query; a customer with none is left out."""
    query = select(CustomerIdentity.customer_id, CustomerIdentity.kind, CustomerIdentity.address).where(
        CustomerIdentity.customer_id.in_(list(customer_ids)))  # type: ignore[attr-defined]
    found: dict[int, list[tuple[str, str]]] = {}
    async with sessions() as s:
        for customer_id, kind, address in (await s.execute(query)).all():
            found.setdefault(customer_id, []).append((kind, address))
    return found


async def remember_region(sessions: async_sessionmaker[AsyncSession], customer_id: int, region: str) -> None:
    """A customer's region, found from their number, is kept for their next contacts."""
    async with transaction(sessions) as s:
        await s.execute(update(Customer).where(Customer.id == customer_id, Customer.region == "")
                        .values(region=region))


async def stop_routing(sessions: async_sessionmaker[AsyncSession], interaction_id: int) -> None:
    """Routing will not place this interaction (refused): it waits as a follow-up a person
    may pick, and a restart does not route it again."""
    async with transaction(sessions) as s:
        await s.execute(update(Interaction).where(
            Interaction.id == interaction_id, Interaction.agent_id.is_(None),  # type: ignore[union-attr]
            Interaction.closed_at.is_(None))  # type: ignore[union-attr]
            .values(queued_at=None, status=InteractionStatus.FOLLOWUP, updated_at=utcnow()))


def seconds_left(offer: RoutingOffer, now: float) -> float:
    expires = offer.expires_at or offer.offered_at + timedelta(seconds=20)
    return max(0.0, expires.timestamp() - now)
