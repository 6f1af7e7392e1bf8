"""State changes the double runs as dialplan steps without being applications (no EXECUTE events).

``__transfer__`` starts a new caller profile, ``__bridged__`` is one side of a uuid_bridge,
``__park__`` parks without the park application (uuid_park, park_after_bridge) and ``__noroute__``
is a dialplan lookup that found nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from freeswitch_double_apps import park_loop, run_messages
from freeswitch_double_calls import Leg
from freeswitch_double_channel import new_uuid, now_us
from freeswitch_double_dial import after_peer_left, bridge_vars, fire_bridge


async def _transfer_step(leg: Leg, arg: str) -> None:
    """A transfer starts a new caller profile: index + 1, RDNIS, Transfer-Source (capture 11)."""
    dest, _, rest = arg.partition(" ")
    context, _, dialplan = rest.partition(" ")
    profile = leg.profile
    profile.transfer_source = f"{int(time.time())}:{new_uuid()}:bl_xfer:{dest}/{context}/{dialplan or 'XML'}"
    profile.rdnis, profile.destination_number = profile.destination_number, dest
    profile.context, profile.dialplan = context or profile.context, dialplan or "XML"
    profile.logical_direction, profile.index = "inbound", profile.index + 1
    profile.times["profile_created"] = now_us()
    leg.enter("CS_ROUTING")
    leg.enter("CS_EXECUTE")


async def _bridged_step(leg: Leg, arg: str) -> None:
    """uuid_bridge: the originator fires BRIDGE/UNBRIDGE; afterwards hang up or park (park_after_bridge)."""
    peer_uuid, _, role = arg.partition(" ")
    peer, done = leg.switch.channels.get(peer_uuid), leg.bridge_done
    if not isinstance(peer, Leg) or done is None:
        return
    originator = role == "originator"
    if originator:
        bridge_vars(leg, peer)
        fire_bridge(leg, peer, "CHANNEL_BRIDGE")
    else:
        leg.enter("CS_EXCHANGE_MEDIA")
    try:
        await _bridged_wait(leg, peer, done)
        if not originator:
            after_peer_left(leg)
            return
        # The originator's bridge returns once the other side is gone (CHANNEL_UNBRIDGE after it, 08).
        await peer.bridge_left.wait()
        if peer.is_down:
            await peer.finished.wait()
        fire_bridge(leg, peer, "CHANNEL_UNBRIDGE")
        after_peer_left(leg)
    finally:
        leg.bridge_left.set()


async def _bridged_wait(leg: Leg, peer: Leg, done: asyncio.Event) -> None:
    def over() -> bool:
        return done.is_set() or leg.is_down or peer.is_down or leg.interrupt not in (None, "break")

    while not over():
        await leg.idle_until(lambda: over() or not leg.messages.empty())
        if leg.interrupt == "break":
            leg.interrupt = None
        await run_messages(leg)  # sendmsg to a bridged leg runs inside the bridge (tested 23)
    done.set()
    peer.poke()


async def _park_step(leg: Leg, arg: str) -> None:
    await park_loop(leg)


async def _no_route_step(leg: Leg, arg: str) -> None:
    leg.hangup("NO_ROUTE_DESTINATION")  # no extension matched: no EXECUTE event at all


PSEUDO: dict[str, Callable[[Leg, str], Awaitable[None]]] = {
    "__transfer__": _transfer_step, "__bridged__": _bridged_step, "__park__": _park_step,
    "__noroute__": _no_route_step,
}
