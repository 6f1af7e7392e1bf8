"""Arrivals read ahead: the router's queue of events, looked over before it is worked through,
so the contacts that arrived together are read from the database together.

A mailbox sweep or a burst of chats opens hundreds of conversations within a second. Placing
each needs its open-work row and its customer's addresses; reading those one contact at a
time is two queries per contact, in one worker that everything else waits behind. Read
ahead, it is two queries per burst.

What was read ahead is only as old as the burst: an event about a contact that was read
(assigned, closed, moved) drops what was read for it, and the handler then reads afresh.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from hub.routing import offers as stored

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from hub.routing.offers import OpenWork

log = logging.getLogger("contacthub.routing")
ARRIVALS = frozenset({"opened", "followup"})


class Lookahead:
    """What a burst of arrivals needs, read in one go and handed out once per contact."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._work: dict[int, OpenWork | None] = {}
        self._addresses: dict[int, list[tuple[str, str]]] = {}

    async def read(self, events: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Read ahead for the arrivals among ``events`` (``(topic, payload)`` as queued)."""
        self.clear()
        ids = [int(payload["interaction_id"]) for topic, payload in events
               if topic == "inbox" and payload.get("event") == "InteractionEvent"
               and payload.get("kind") in ARRIVALS]
        if len(ids) < 2:
            return  # nothing gained over the handler's own read
        try:
            found = await stored.open_work(self.sessions, among=set(ids))
            addresses = await stored.addresses_of(self.sessions, {work.customer_id for work in found})
        except Exception:
            # The handlers read for themselves, and report a database that is down.
            log.warning("routing could not read %d arrivals ahead", len(ids), exc_info=True)
            return
        self._work = dict.fromkeys(ids)
        self._work.update((work.id, work) for work in found)
        self._addresses = {work.customer_id: addresses.get(work.customer_id, []) for work in found}

    def work(self, interaction_id: int) -> tuple[bool, OpenWork | None]:
        """(known, open work): known is False when this contact was not read ahead."""
        if interaction_id not in self._work:
            return False, None
        return True, self._work.pop(interaction_id)

    def addresses(self, customer_id: int) -> list[tuple[str, str]] | None:
        return self._addresses.get(customer_id)

    def forget(self, interaction_id: int) -> None:
        """Something happened to the contact since it was read: its row is stale."""
        self._work.pop(interaction_id, None)

    def clear(self) -> None:
        self._work.clear()
        self._addresses.clear()
