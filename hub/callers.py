"""Who is calling: what the hub knows of a phone number the moment a contact arrives.

A voice IVR branches on it before the caller hears the second prompt, so it is a handful
of indexed reads: the customer the number belongs to (in any of the forms a number is
written in), their tier and whether it is a VIP tier, whether routing would refuse the
number (the blocklist), their region (their record, else the number's prefix), and what
the ongoing outages in that region say.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from hub.models import BlockedAddress, Customer, CustomerIdentity, CustomerTier, Outage, RegionPrefix
from hub.routing.arrival import PHONE_KINDS
from hub.routing.regions import PrefixTable, number_forms, within

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class Caller:
    """A number and what is known of it; a stranger has no customer and the ordinary tier."""

    number: str
    customer_id: int | None = None
    name: str = ""
    tier: str = "ordinary"
    vip: bool = False
    blocked: bool = False
    region: str = ""
    outages: tuple[str, ...] = ()
    """The wording of each ongoing outage covering the caller's region, oldest first."""

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "customer_id": self.customer_id, "name": self.name,
                "tier": self.tier, "vip": self.vip, "blocked": self.blocked, "region": self.region,
                "outages": list(self.outages)}


def spellings(number: str) -> list[str]:
    """The ways the same number may have been stored: as given, bare digits, national, +86."""
    forms = number_forms(number)
    found = [number, *forms]
    national = [form for form in forms if not form.startswith(("0", "+"))]
    found += ["+86" + form for form in national] + ["0086" + form for form in national]
    return list(dict.fromkeys(found))


async def identify_caller(s: AsyncSession, number: str) -> Caller:
    """What is known of ``number`` (see the module docstring)."""
    spelled = spellings(number)
    customer = (await s.execute(
        select(Customer.id, Customer.name, Customer.tier, Customer.region, CustomerTier.vip)
        .join(CustomerIdentity, CustomerIdentity.customer_id == Customer.id)
        .outerjoin(CustomerTier, CustomerTier.name == Customer.tier)
        .where(CustomerIdentity.kind.in_(PHONE_KINDS), CustomerIdentity.address.in_(spelled))  # type: ignore[attr-defined]
        .order_by(CustomerIdentity.id).limit(1))).first()
    if customer is None:
        customer_id, name, tier, region, vip = None, "", "ordinary", "", await _is_vip(s, "ordinary")
    else:
        customer_id, name, tier, region, vip = customer
    region = region or await _region_of(s, number)
    return Caller(number, customer_id, name, tier, bool(vip), await _is_blocked(s, spelled),
                  region, await _outages(s, region))


async def _is_vip(s: AsyncSession, tier: str) -> bool:
    return bool((await s.execute(select(CustomerTier.vip).where(CustomerTier.name == tier))).scalar())


async def _is_blocked(s: AsyncSession, spelled: list[str]) -> bool:
    found = await s.execute(select(BlockedAddress.kind).where(
        BlockedAddress.kind.in_(PHONE_KINDS), BlockedAddress.address.in_(spelled)).limit(1))  # type: ignore[attr-defined]
    return found.first() is not None


async def _region_of(s: AsyncSession, number: str) -> str:
    """The region of the longest stored prefix of any form of the number."""
    prefixes = {form[:n] for form in number_forms(number) for n in range(1, min(len(form), 20) + 1)}
    if not prefixes:
        return ""
    rows = (await s.execute(select(RegionPrefix.prefix, RegionPrefix.region)
                            .where(RegionPrefix.prefix.in_(sorted(prefixes))))).all()  # type: ignore[attr-defined]
    # The few candidate rows in routing's own table: the same longest-prefix rule, read once.
    return PrefixTable(dict(rows)).region_of(number) or "" if rows else ""


async def _outages(s: AsyncSession, region: str) -> tuple[str, ...]:
    if not region:
        return ()
    rows = (await s.execute(select(Outage.region, Outage.wording)
                            .where(Outage.ended_at.is_(None))  # type: ignore[union-attr]
                            .order_by(Outage.started_at))).all()
    return tuple(wording for area, wording in rows if within(region, area) and wording)
