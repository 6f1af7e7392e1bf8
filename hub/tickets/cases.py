"""The case library: resolved tickets kept as cases, suggested while a similar ticket is
processed.

Similarity is measured on words for alphabetic text and on pairs of characters for Chinese
(which has no spaces to split on): a bigram is the usual unit of Chinese full-text search.
Cases are a curated few among millions of tickets, found by a partial index on ``is_case``
per type, so the scoring runs in Python over a bounded list (the newest ``MAX_CANDIDATES``)
instead of a full-text index both databases would need their own kind of.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text

from hub.errors import NotFound
from hub.models import Ticket, TicketAction

if TYPE_CHECKING:
    from hub.core import HubCore

MAX_CANDIDATES = 2000
MIN_SCORE = 0.1
"""Below this, two texts share little more than a transcript's "customer:" labels."""
RESOLVING = ("process", "repair")
"""Steps whose closing opinion says how a ticket was solved."""
_WORD = re.compile(r"[a-z0-9]{2,}")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")


def grams(words: str) -> Counter[str]:
    """Alphabetic words (lower case) and Chinese character pairs of ``words``."""
    lowered = words.lower()
    found: Counter[str] = Counter(_WORD.findall(lowered))
    for run in _CJK.findall(lowered):
        if len(run) == 1:
            found[run] += 1
        else:
            found.update(run[i : i + 2] for i in range(len(run) - 1))
    return found


def similarity(a: Counter[str], b: Counter[str]) -> float:
    """Cosine of two gram counts: 1 the same text, 0 nothing in common."""
    if not a or not b:
        return 0.0
    shared = sum(count * b[gram] for gram, count in a.items() if gram in b)
    return shared / math.sqrt(sum(c * c for c in a.values()) * sum(c * c for c in b.values()))


async def similar_cases(core: HubCore, ticket_id: int, limit: int = 5) -> list[dict[str, Any]]:
    """The cases of the ticket's type most like it, best first; same kind and category count."""
    async with core.sessions() as s:
        ticket = await s.get(Ticket, ticket_id)
        if ticket is None:
            raise NotFound("ticket")
        rows = (
            await s.execute(
                select(
                    Ticket.id,
                    Ticket.number,
                    Ticket.title,
                    Ticket.description,
                    Ticket.kind,
                    Ticket.category_id,
                    Ticket.closed_at,
                )
                .where(text("is_case"), Ticket.type == ticket.type, Ticket.id != ticket_id)
                .order_by(Ticket.closed_at.desc())  # type: ignore[union-attr]
                .limit(MAX_CANDIDATES)
            )
        ).all()
    wanted = grams(f"{ticket.title} {ticket.description}")
    scored = []
    for row in rows:
        score = similarity(wanted, grams(f"{row.title} {row.description}"))
        if score < MIN_SCORE:
            continue
        score += 0.1 * (row.kind == ticket.kind and bool(row.kind))
        score += 0.1 * (row.category_id == ticket.category_id and row.category_id is not None)
        scored.append((score, row))
    scored.sort(key=lambda item: item[0], reverse=True)
    best = scored[:limit]
    resolutions = await _resolutions(core, [int(row.id) for _score, row in best])
    return [
        {
            "id": row.id,
            "number": row.number,
            "title": row.title,
            "score": round(score, 3),
            "resolution": resolutions.get(int(row.id), ""),
            "closed_at": row.closed_at.isoformat() if row.closed_at else None,
        }
        for score, row in best
    ]


async def _resolutions(core: HubCore, ids: list[int]) -> dict[int, str]:
    """What was done: the last opinion given when each case left its processing step."""
    if not ids:
        return {}
    query = (
        select(TicketAction.ticket_id, TicketAction.opinion)
        .where(
            TicketAction.ticket_id.in_(ids),
            TicketAction.from_step.in_(RESOLVING),  # type: ignore[attr-defined]
            TicketAction.opinion != "",
        )
        .order_by(TicketAction.at)
    )  # type: ignore[arg-type]
    async with core.sessions() as s:
        return {ticket_id: opinion for ticket_id, opinion in (await s.execute(query)).all()}
