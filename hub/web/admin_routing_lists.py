"""The routing admin API's lists: customer tiers, region prefixes, the blocklist, entry rules
and strategies. Admins write, supervisors read; every write is audited and announced like the
rest of ``hub.web.admin_routing``."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import insert_for, transaction
from hub.errors import InvalidRequest, NotFound
from hub.models import BlockedAddress, Customer, CustomerTier, EntryRule, RegionPrefix, utcnow
from hub.routing.config import strategy_sources
from hub.routing.entry_rules import EntryRuleSpec
from hub.routing.regions import PrefixTable
from hub.web.access import require
from hub.web.admin_routing import ADMIN, READ, TAG, changed, check_queues_exist, conflict
from hub.web.admin_routing_bodies import (
    BlockedPage,
    BlockedView,
    Blocking,
    Done,
    EntryRuleBody,
    EntryRuleList,
    EntryRuleView,
    PrefixBatch,
    PrefixesStored,
    PrefixPage,
    PrefixRow,
    StrategyList,
    StrategyRow,
    TierList,
)
from hub.web.api import api
from hub.web.keys import CORE

MAX_PREFIX_BYTES = 8 * 1024 * 1024
"""A batch of 50,000 prefixes is far larger than the API's usual body limit."""
UPSERT_CHUNK = 2000
PAGE = 1000
MAX_PAGE = 10_000


def page_args(request: web.Request) -> tuple[int, int]:
    """``limit`` (1..10,000, default 1,000) and ``offset`` (default 0) from the query."""
    try:
        limit = int(request.query.get("limit", PAGE))
        offset = int(request.query.get("offset", 0))
    except ValueError as err:
        raise InvalidRequest("bad_page", "limit and offset are whole numbers") from err
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise InvalidRequest("bad_page", f"limit is 1 to {MAX_PAGE} and offset 0 or more")
    return limit, offset


# Prefixes


@api.route("GET", "/api/admin/routing/prefixes",
           summary="Region prefixes in ascending order, a page at a time (?after=&limit=)",
           role=READ, reply=PrefixPage, tag=TAG)
async def list_prefixes(request: web.Request) -> PrefixPage:
    limit, _offset = page_args(request)
    query = select(RegionPrefix).order_by(RegionPrefix.prefix).limit(limit + 1)
    if after := request.query.get("after", ""):
        query = query.where(RegionPrefix.prefix > after)
    async with request.app[CORE].sessions() as s:
        rows = (await s.execute(query)).scalars().all()
    items = [PrefixRow(prefix=r.prefix, region=r.region) for r in rows[:limit]]
    return PrefixPage(items=items, next=items[-1].prefix if len(rows) > limit else None)


@api.route("PUT", "/api/admin/routing/prefixes",
           summary="Add or replace up to 50,000 prefixes at once: body {\"prefixes\": {prefix: region}}",
           role=ADMIN, body=PrefixBatch, reply=PrefixesStored, tag=TAG, max_bytes=MAX_PREFIX_BYTES)
async def put_prefixes(request: web.Request, body: PrefixBatch) -> PrefixesStored:
    check_prefixes(body.prefixes)
    rows = [{"prefix": p, "region": r} for p, r in sorted(body.prefixes.items())]
    async with transaction(request.app[CORE].sessions) as s:
        for start in range(0, len(rows), UPSERT_CHUNK):
            insert = insert_for(s, RegionPrefix).values(rows[start:start + UPSERT_CHUNK])
            await s.execute(insert.on_conflict_do_update(
                index_elements=["prefix"], set_={"region": insert.excluded.region}))
    await changed(request, "routing.prefixes.update", "prefixes", f"{len(rows)} prefixes", "prefixes")
    return PrefixesStored(stored=len(rows))


def check_prefixes(prefixes: dict[str, str]) -> None:
    """Digits only, at most 20; a region path of at most 120 characters; else ``bad_prefix``."""
    for prefix, region in prefixes.items():
        if len(prefix) > 20 or len(region) > 120:
            raise InvalidRequest("bad_prefix", f"prefix {prefix[:40]!r}: at most 20 digits, and a "
                                               "region of at most 120 characters")
    try:
        PrefixTable(prefixes)
    except ValueError as err:
        raise InvalidRequest("bad_prefix", str(err)) from err


@api.route("DELETE", "/api/admin/routing/prefixes/{prefix}", summary="Remove a region prefix",
           role=ADMIN, reply=Done, tag=TAG)
async def delete_prefix(request: web.Request) -> Done:
    prefix = request.match_info["prefix"]
    async with transaction(request.app[CORE].sessions) as s:
        row = await s.get(RegionPrefix, prefix)
        if row is None:
            raise NotFound("prefix")
        await s.delete(row)
    await changed(request, "routing.prefix.delete", f"prefix:{prefix}", row.region, "prefixes")
    return Done()


# Blocklist


@api.route("GET", "/api/admin/routing/blocklist",
           summary="Blocked addresses by kind and address (?kind=&offset=&limit=)", role=READ,
           reply=BlockedPage, tag=TAG)
async def list_blocked(request: web.Request) -> BlockedPage:
    limit, offset = page_args(request)
    query = select(BlockedAddress).order_by(BlockedAddress.kind, BlockedAddress.address)
    if kind := request.query.get("kind", ""):
        query = query.where(BlockedAddress.kind == kind)
    async with request.app[CORE].sessions() as s:
        rows = (await s.execute(query.offset(offset).limit(limit + 1))).scalars().all()
    items = [BlockedView.model_validate(r.model_dump()) for r in rows[:limit]]
    return BlockedPage(items=items, next=offset + limit if len(rows) > limit else None)


@api.route("POST", "/api/admin/routing/blocklist",
           summary="Block an address (blocking it again replaces the reason)", role=ADMIN,
           body=Blocking, reply=BlockedView, tag=TAG)
async def block_address(request: web.Request, body: Blocking) -> BlockedView:
    admin = require(request)
    async with transaction(request.app[CORE].sessions) as s:
        row = await s.get(BlockedAddress, (body.kind, body.address))
        if row is None:
            row = BlockedAddress(kind=body.kind, address=body.address, created_by=admin.id,
                                 created_at=utcnow())
        row.reason = body.reason
        s.add(row)
        await s.flush()
        view = BlockedView.model_validate(row.model_dump())
    await changed(request, "routing.block.add", f"{body.kind}:{body.address}", body.reason, "blocklist")
    return view


@api.route("DELETE", "/api/admin/routing/blocklist/{kind}/{address}", summary="Unblock an address",
           role=ADMIN, reply=Done, tag=TAG)
async def unblock_address(request: web.Request) -> Done:
    kind, address = request.match_info["kind"], request.match_info["address"]
    async with transaction(request.app[CORE].sessions) as s:
        row = await s.get(BlockedAddress, (kind, address))
        if row is None:
            raise NotFound("blocked address")
        await s.delete(row)
    await changed(request, "routing.block.remove", f"{kind}:{address}", "", "blocklist")
    return Done()


# Entry rules


def rule_view(row: EntryRule) -> EntryRuleView:
    return EntryRuleView.model_validate(row.model_dump())


@api.route("GET", "/api/admin/routing/entry-rules",
           summary="Entry rules by entry, position and id", role=READ, reply=EntryRuleList, tag=TAG)
async def list_entry_rules(request: web.Request) -> EntryRuleList:
    async with request.app[CORE].sessions() as s:
        rows = (await s.execute(select(EntryRule).order_by(
            EntryRule.entry, EntryRule.position, EntryRule.id))).scalars().all()
    return EntryRuleList(items=[rule_view(r) for r in rows])


@api.route("POST", "/api/admin/routing/entry-rules", summary="Add an entry rule", role=ADMIN,
           body=EntryRuleBody, reply=EntryRuleView, tag=TAG)
async def create_entry_rule(request: web.Request, body: EntryRuleBody) -> EntryRuleView:
    async with transaction(request.app[CORE].sessions) as s:
        await check_entry_rule(s, body.model_dump())
        row = EntryRule(**body.model_dump())
        s.add(row)
        await s.flush()
        view = rule_view(row)
    await changed(request, "routing.entry_rule.create", f"entry_rule:{view.id}", body.model_dump_json(),
                  "entry-rules")
    return view


@api.route("PUT", "/api/admin/routing/entry-rules/{id}", summary="Replace an entry rule",
           role=ADMIN, body=EntryRuleBody, reply=EntryRuleView, tag=TAG)
async def put_entry_rule(request: web.Request, body: EntryRuleBody) -> EntryRuleView:
    rule_id = _rule_id(request)
    async with transaction(request.app[CORE].sessions) as s:
        row = await _rule(s, rule_id)
        await check_entry_rule(s, {**body.model_dump(), "id": rule_id})
        for field, value in body.model_dump().items():
            setattr(row, field, value)
        s.add(row)
        view = rule_view(row)
    await changed(request, "routing.entry_rule.update", f"entry_rule:{rule_id}", body.model_dump_json(),
                  "entry-rules")
    return view


@api.route("DELETE", "/api/admin/routing/entry-rules/{id}", summary="Remove an entry rule",
           role=ADMIN, reply=Done, tag=TAG)
async def delete_entry_rule(request: web.Request) -> Done:
    rule_id = _rule_id(request)
    async with transaction(request.app[CORE].sessions) as s:
        await _rule(s, rule_id)
        await s.execute(delete(EntryRule).where(EntryRule.id == rule_id))  # type: ignore[arg-type]
    await changed(request, "routing.entry_rule.delete", f"entry_rule:{rule_id}", "", "entry-rules")
    return Done()


def _rule_id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError as err:
        raise NotFound("entry rule") from err


async def _rule(s: AsyncSession, rule_id: int) -> EntryRule:
    row = await s.get(EntryRule, rule_id)
    if row is None:
        raise NotFound("entry rule")
    return row


async def check_entry_rule(s: AsyncSession, doc: dict[str, Any]) -> None:
    """The routing core's own validation of the rule, then its destination queues exist."""
    try:
        EntryRuleSpec.validate(doc)
    except ValueError as err:
        raise InvalidRequest("bad_entry_rule", str(err)) from err
    await check_queues_exist(s, {d["queue"] for d in doc["destinations"]})


# Tiers


@api.route("GET", "/api/admin/routing/tiers", summary="Customer tiers by rank ascending",
           role=READ, reply=TierList, tag=TAG)
async def get_tiers(request: web.Request) -> TierList:
    async with request.app[CORE].sessions() as s:
        rows = (await s.execute(
            select(CustomerTier).order_by(CustomerTier.rank, CustomerTier.name))).scalars()
        return TierList.model_validate({"items": [r.model_dump() for r in rows]})


@api.route("PUT", "/api/admin/routing/tiers",
           summary="Replace the ordered list of customer tiers (later is higher)", role=ADMIN,
           body=TierList, reply=TierList, tag=TAG)
async def put_tiers(request: web.Request, body: TierList) -> TierList:
    names = [t.name for t in body.items]
    if len(set(names)) != len(names):
        raise InvalidRequest("duplicate_tier", "each tier name may appear once")
    async with transaction(request.app[CORE].sessions) as s:
        stored = {t.name: t for t in (await s.execute(select(CustomerTier))).scalars()}
        removed = sorted(set(stored) - set(names))
        await _check_tiers_unused(s, removed)
        for name in removed:
            await s.delete(stored[name])
        for rank, tier in enumerate(body.items):
            row = stored.get(tier.name) or CustomerTier(name=tier.name, label_en=tier.label_en)
            row.rank, row.vip = rank, tier.vip
            row.label_en, row.label_zh_cn = tier.label_en, tier.label_zh_cn
            s.add(row)
    await changed(request, "routing.tiers.update", "tiers", ", ".join(names), "tiers")
    return body


async def _check_tiers_unused(s: AsyncSession, removed: list[str]) -> None:
    if not removed:
        return
    count = (await s.execute(select(func.count()).select_from(Customer).where(
        Customer.tier.in_(removed)))).scalar_one()  # type: ignore[attr-defined]
    if count:
        raise conflict("tier_in_use", f"{count} customers still have tier {', '.join(removed)}; "
                                      "move them to another tier before removing it")


# Strategies


@api.route("GET", "/api/admin/routing/strategies",
           summary="Distribution strategies: built-in or from which plugin", role=READ,
           reply=StrategyList, tag=TAG)
async def list_strategies(request: web.Request) -> StrategyList:
    sources = strategy_sources(request.app[CORE].pm)
    return StrategyList(items=[StrategyRow(name=name, source=src) for name, src in sorted(sources.items())])
