"""Where a waiting contact stands in its queue: the order a router serves the queue in now,
read without changing anything (a caller's position announcement)."""

from __future__ import annotations

from hub.routing.engine import PickKey, Router
from hub.routing.model import Interaction


def place_in_queue(router: Router, interaction_id: int, now: float) -> int | None:
    """Where a waiting interaction stands among its channel's contacts waiting in its home
    queue (1: next), in the order ``router`` serves them now: VIPs first, then the tier
    furthest below its service-level target, the higher tier, the earlier arrival
    (``Router.order_key``). None when it is not waiting there."""
    item = router.waiting.items.get(interaction_id)
    queue = None if item is None else router.queues.get(item[0].queue)
    if item is None or queue is None:
        return None
    me = item[0]
    deficits: dict[str, float] = {}

    def key(interaction: Interaction) -> PickKey:
        deficit = deficits.get(interaction.tier)
        if deficit is None:
            deficit = deficits[interaction.tier] = router.deficit(queue, interaction.tier, now)
        return router.order_key(interaction, router.waiting.sequence(interaction.id), deficit)

    mine = key(me)
    return 1 + sum(1 for other, _ in router.waiting.items.values()
                   if other.queue == me.queue and other.channel == me.channel
                   and other.id != me.id and key(other) > mine)
