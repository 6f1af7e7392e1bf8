"""Ticket search: the filters agents combine, newest first, one page at a time, every search
logged with who searched what.

Each common filter is answered from an index of ``ticket`` (see ``Ticket.__table_args__``):
customer, phone, number, unit + status, handler + status, type + status, region, creation
dates. Free text is the exception: no index serves ``%word%`` on both databases without
extensions, so it is bounded instead (``TEXT_WINDOW``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import product
from typing import Any

from sqlalchemy import and_, or_, select, text, union
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from hub.errors import InvalidRequest
from hub.history import mask_address
from hub.models import CustomerIdentity, Ticket, TicketSearch
from hub.models.base import utcnow
from hub.routing.arrival import PHONE_KINDS
from hub.routing.regions import COUNTRY, number_forms
from hub.tickets.search_filters import TicketFilters

MAX_LIMIT = 200
TEXT_WINDOW = 2000
"""A text search looks at most this many of the newest tickets matching its other filters per
page; the page's ``next`` continues after them, so nothing is skipped, only paged."""

Cursor = tuple[datetime, int]
"""A row's place in the order: its ``(created_at, id)``."""

_COLUMNS = (Ticket.id, Ticket.number, Ticket.type, Ticket.status, Ticket.step, Ticket.title,
            Ticket.region, Ticket.owner_unit_id, Ticket.handler_id, Ticket.customer_id, Ticket.phone,
            Ticket.created_at, Ticket.step_due_at, Ticket.urge_count)


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of results, newest first; ``next`` is the cursor of the following page, or
    None when there is none."""

    items: list[dict[str, Any]]
    next: Cursor | None


async def search_tickets(
    sessions: async_sessionmaker[AsyncSession], filters: TicketFilters, *, agent_id: int | None,
    limit: int = 50, before: Cursor | None = None, now: datetime | None = None,
    unmasked: bool = False,
) -> SearchPage:
    """At most ``limit`` tickets matching ``filters``, newest first (``created_at`` then ``id``,
    descending), strictly after the ``before`` cursor; and, in the same transaction, one
    ``TicketSearch`` row saying who searched (``agent_id``), what (``filters.as_log()``) and
    how many tickets this page found, zero included. Phones are masked unless ``unmasked``.
    ``now`` decides what is overdue (the log keeps the real time). A ``limit`` outside
    1..MAX_LIMIT raises ``bad_limit``; a refused search is neither run nor logged."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest("bad_limit", f"limit must be 1 to {MAX_LIMIT}")
    now = now or utcnow()
    async with sessions() as s:
        plan = await _plan(s, filters, now, before)
        rows, next_ = await _page(s, plan, filters.text, limit)
        s.add(TicketSearch(agent_id=agent_id, query=filters.as_log(), results=len(rows)))
        await s.commit()
    return SearchPage([_item(row, now, unmasked) for row in rows], next_)


def cursor_text(cursor: Cursor) -> str:
    """A cursor as one URL-safe token, for ``before=`` in the next request."""
    return f"{cursor[0].astimezone(UTC).strftime('%Y%m%dT%H%M%S.%f')}Z{cursor[1]}"


def parse_cursor(token: str) -> Cursor:
    """The cursor ``cursor_text`` made; anything else raises ``InvalidRequest("bad_cursor")``."""
    try:
        at, _, ident = token.partition("Z")
        return datetime.strptime(at, "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC), int(ident)
    except ValueError as err:
        raise InvalidRequest("bad_cursor", "before: not a cursor this search returned") from err


# -- the query ------------------------------------------------------------------------------

MAX_BRANCHES = 100
"""At most this many index walks merged for one page; a region prefix that would need more
is answered by one range on the region and a sort instead."""


@dataclass(frozen=True, slots=True)
class _Plan:
    """The WHERE terms every row meets, and groups of alternatives (a row meets one term of
    each group), each term an equality an index walks newest first. ``empty``: nothing can
    match (a phone or region nobody has)."""

    where: list[ColumnElement[bool]]
    alternatives: list[list[ColumnElement[bool]]]
    empty: bool = False


async def _plan(s: AsyncSession, f: TicketFilters, now: datetime, before: Cursor | None) -> _Plan:
    """Each filter as terms an index answers. A phone and a region prefix each match several
    exact values; they become alternatives, walked one by one and merged, because an IN list
    or a range yields rows in value order and the newest fifty would need a sort of them all
    (and SQLite, to avoid that sort, walks the whole created_at index instead)."""
    where: list[ColumnElement[bool]] = []
    alternatives: list[list[ColumnElement[bool]]] = []
    for column, value in ((Ticket.customer_id, f.customer_id), (Ticket.number, f.number),
                          (Ticket.type, f.type), (Ticket.status, f.status),
                          (Ticket.owner_unit_id, f.unit_id), (Ticket.handler_id, f.handler_id)):
        if value is not None:
            where.append(column == value)
    if f.phone:
        alternatives.append(await _phone_alternatives(s, f.phone))
    if f.created_from:
        where.append(Ticket.created_at >= f.created_from)
    if f.created_to:
        where.append(Ticket.created_at < f.created_to)
    if f.overdue:
        where += [Ticket.status == "open", Ticket.step_due_at < now]  # type: ignore[list-item, operator]
    elif f.overdue is False:
        # Spelled out rather than negated: NOT (... step_due_at < now) is NULL, so false,
        # for an open ticket with no step deadline, which is not overdue.
        where.append(or_(Ticket.status != "open", Ticket.step_due_at.is_(None),  # type: ignore[union-attr]
                         Ticket.step_due_at >= now))  # type: ignore[operator]
    where += _keyset(before)
    if f.region:
        regions = await _regions_under(s, f.region)
        if len(regions) * max(len(alternatives and alternatives[0]), 1) > MAX_BRANCHES:
            where.append(_region_condition(f.region))
        else:
            alternatives.append([Ticket.region == region for region in regions])
    # A group of one is a plain term: no merge to build for a county or a lone number.
    where += [group[0] for group in alternatives if len(group) == 1]
    groups = [group for group in alternatives if len(group) != 1]
    return _Plan(where, groups, empty=any(not group for group in groups))


def phone_forms(digits: str) -> list[str]:
    """Every way the same number may have been stored: as dialled, national, with the trunk
    ``0``, and with the country code as ``+86`` or ``0086``."""
    forms = {digits, *number_forms(digits)}
    nationals = {form[1:] if form.startswith("0") else form
                 for form in forms if not form.startswith("00")}
    for national in nationals:
        forms |= {national, f"+86{national}", f"{COUNTRY}{national}"}
    return sorted(forms)


async def _phone_alternatives(s: AsyncSession, digits: str) -> list[ColumnElement[bool]]:
    """The number on the ticket in any of its forms, or the ticket's customer being one who
    has the number as a phone identity."""
    forms = phone_forms(digits)
    customers = (await s.execute(select(CustomerIdentity.customer_id).where(
        CustomerIdentity.kind.in_(PHONE_KINDS), CustomerIdentity.address.in_(forms)))).scalars().all()  # type: ignore[attr-defined]
    return [*(Ticket.phone == form for form in forms),
            *(Ticket.customer_id == customer for customer in sorted(set(customers)))]


# A loose index scan: each step seeks the next distinct region in the range, so finding the
# k regions under a prefix costs k index seeks, however many tickets each region holds.
_REGIONS = text("""
WITH RECURSIVE found(region) AS (
    SELECT (SELECT min(region) FROM ticket WHERE region >= :low AND region < :high)
    UNION ALL
    SELECT (SELECT min(region) FROM ticket WHERE region > found.region AND region < :high)
    FROM found WHERE found.region IS NOT NULL
)
SELECT region FROM found WHERE region IS NOT NULL LIMIT :most
""")


async def _regions_under(s: AsyncSession, region: str) -> list[str]:
    """The distinct ticket regions equal to ``region`` or below it, at most MAX_BRANCHES + 1.

    Why not a range: a range over several regions gives rows in region order, so the newest
    fifty would need a sort of every ticket under the prefix. Walking each region's
    ``(region, created_at)`` index newest first and merging reads about fifty per region."""
    found = (await s.execute(_REGIONS, {"low": region, "high": region + "0",
                                        "most": MAX_BRANCHES + 1})).scalars().all()
    below = region + "/"
    return [r for r in found if r == region or r.startswith(below)]


def _region_condition(region: str) -> ColumnElement[bool]:
    """``region`` and everything below it. The range on the string is what the index answers
    ('0' is the character after '/'); the second term drops siblings that only share the
    prefix ("shenzhen-east" sorts inside the range too). The range assumes byte order, as
    SQLite and a PostgreSQL database with the "C" collation compare."""
    below = region + "/"
    return and_(Ticket.region >= region, Ticket.region < region + "0",
                or_(Ticket.region == region, Ticket.region.startswith(below, autoescape=True)))  # type: ignore[attr-defined]


def _keyset(before: Cursor | None) -> list[ColumnElement[bool]]:
    if before is None:
        return []
    at, ident = before
    # The redundant "<=" is a plain range every index on created_at can seek to.
    return [Ticket.created_at <= at, or_(Ticket.created_at < at, Ticket.id < ident)]  # type: ignore[operator]


_ORDER = (Ticket.created_at.desc(), Ticket.id.desc())  # type: ignore[attr-defined, union-attr]


def _keys(plan: _Plan, limit: int, offset: int = 0) -> Any:
    """The ``(id, created_at)`` of the newest ``limit`` rows (after ``offset``) the plan selects:
    one ordered index walk, or with alternatives one walk per combination, each stopping
    early, merged. UNION, not UNION ALL: a ticket whose own phone and whose customer's both
    match comes back once. Only keys: the walks read the indexes, not the rows."""
    columns = (Ticket.id, Ticket.created_at)
    if not plan.alternatives:
        return select(*columns).where(*plan.where).order_by(*_ORDER).offset(offset).limit(limit)
    branches = [select(*columns).where(*terms, *plan.where).order_by(*_ORDER)
                .limit(limit + offset).subquery() for terms in product(*plan.alternatives)]
    merged = union(*(select(branch) for branch in branches)).subquery()
    return (select(merged).order_by(merged.c.created_at.desc(), merged.c.id.desc())
            .offset(offset).limit(limit))


def _rows_of(keys: Any, *where: ColumnElement[bool], limit: int) -> Any:
    """The listed columns of the tickets ``keys`` selects that also meet ``where``, in order;
    rows are read by primary key, only for the keys that made the cut."""
    keys = keys.subquery()
    return (select(*_COLUMNS).join(keys, keys.c.id == Ticket.id).where(*where)
            .order_by(keys.c.created_at.desc(), keys.c.id.desc()).limit(limit))


async def _page(s: AsyncSession, plan: _Plan, text_: str | None,
                limit: int) -> tuple[list[Any], Cursor | None]:
    if plan.empty:
        return [], None
    if text_:
        return await _text_page(s, plan, _text_conditions(text_), limit)
    if plan.alternatives:
        query = _rows_of(_keys(plan, limit), limit=limit)
    else:
        query = select(*_COLUMNS).where(*plan.where).order_by(*_ORDER).limit(limit)
    rows = list((await s.execute(query)).all())
    return rows, _cursor(rows[-1]) if len(rows) == limit else None


def _text_conditions(text_: str) -> list[ColumnElement[bool]]:
    return [or_(Ticket.title.icontains(word, autoescape=True),  # type: ignore[attr-defined]
                Ticket.description.icontains(word, autoescape=True))  # type: ignore[attr-defined]
            for word in text_.split()]


async def _text_page(s: AsyncSession, plan: _Plan, words: list[ColumnElement[bool]],
                     limit: int) -> tuple[list[Any], Cursor | None]:
    """Text matched within the newest ``TEXT_WINDOW`` tickets the other filters select: the
    window is an index walk, so a page costs at most that many row reads whatever the words.
    ``next`` follows the last result, or the window's end when the page is short of results
    but more tickets remain to look at."""
    # Joined, not "id IN (...)": the planner then reads the window's rows by key and sorts
    # them, instead of walking the whole created_at index looking for them.
    rows = list((await s.execute(_rows_of(_keys(plan, TEXT_WINDOW), *words, limit=limit))).all())
    if len(rows) == limit:
        return rows, _cursor(rows[-1])
    end = (await s.execute(_keys(plan, 1, TEXT_WINDOW - 1))).first()
    return rows, (end.created_at, end.id) if end else None


def _cursor(row: Any) -> Cursor:
    return row.created_at, row.id


def _item(row: Any, now: datetime, unmasked: bool) -> dict[str, Any]:
    overdue = row.status == "open" and row.step_due_at is not None and row.step_due_at < now
    return {
        "id": row.id, "number": row.number, "type": row.type, "status": row.status, "step": row.step,
        "title": row.title, "region": row.region, "owner_unit_id": row.owner_unit_id,
        "handler_id": row.handler_id, "customer_id": row.customer_id,
        "phone": row.phone if unmasked else mask_address("phone", row.phone),
        "created_at": row.created_at.isoformat(),
        "step_due_at": row.step_due_at.isoformat() if row.step_due_at else None,
        "overdue": overdue, "urge_count": row.urge_count,
    }
