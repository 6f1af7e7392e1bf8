"""After the hub itself restarted: the calls it had, checked against the switch.

Calls do not stop when the hub does. A caller talking to an agent stays bridged on the
switch; a caller who was waiting lost the hub's socket and went on in the dialplan (its
fallback). At its first connection a restarted hub therefore goes through the voice
interactions left open and the taken calls it had kept (``LiveCalls.save``):

- a taken call whose legs are still up is followed again, so the agent keeps the controls
  and the record is written when it ends;
- a taken call whose caller or agent is gone ends now, recorded as lost; a caller left
  alone on the switch (parked after the agent went) is hung up rather than kept in silence;
- a waiting caller still on the switch stays in the queue (routing rings an agent and the
  bridge reaches the caller wherever the dialplan holds them); one who is gone is abandoned.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from plugins.voice.calls import LOST, CallTable
from plugins.voice.live_calls import STATE_PREFIX, LiveCall, LiveCalls
from plugins.voice.ringing import caller_leg

if TYPE_CHECKING:
    from hub.facade import Hub
    from plugins.voice.arrivals import Arrivals
    from plugins.voice.esl.connection import EslConnection

log = logging.getLogger("contacthub.channel.voice")


async def adopt(hub: Hub, switch: CallTable, live: LiveCalls, arrivals: Arrivals,
                connection: EslConnection) -> None:
    """Take back, or close, what a previous run of the hub left open (see the module)."""
    saved = await hub.list_state(STATE_PREFIX)
    kept = {int(value["interaction_id"]): value for value in saved.values()}
    followed = ended = abandoned = 0
    for row in await hub.open_interactions():
        interaction_id, customer = int(row["id"]), caller_leg(str(row["thread_key"]))
        if customer is None or live.get(interaction_id) is not None or customer in arrivals.waiting:
            continue  # not a call, or this run has it already
        if row["status"] == "assigned":
            call = live.restore(kept.pop(interaction_id)) if interaction_id in kept else None
            if call is not None and _legs_up(call, switch):
                agent = call.agent
                leg = switch.get(agent.uuid) if agent is not None else None
                if leg is not None and leg.state == "HELD":
                    call.state, call.held_since, call.holds = "held", time.time(), call.holds + 1
                await live.publish(call)
                followed += 1
                continue
            await _end_lost(hub, live, call, interaction_id, customer, switch, connection)
            ended += 1
        elif switch.get(customer) is not None:
            arrivals.waiting[customer] = interaction_id
        elif await hub.customer_left(interaction_id):
            abandoned += 1
    for interaction_id in kept:  # closed meanwhile: nothing to follow
        await hub.delete_state(f"{STATE_PREFIX}{interaction_id}")
    if followed or ended or abandoned:
        log.info("voice: after the hub restarted, %d calls followed again, %d ended as lost, "
                 "%d waiting callers gone", followed, ended, abandoned)


def _legs_up(call: LiveCall, switch: CallTable) -> bool:
    agent = call.agent
    return switch.get(call.customer) is not None and agent is not None and switch.get(agent.uuid) is not None


async def _end_lost(hub: Hub, live: LiveCalls, call: LiveCall | None, interaction_id: int, customer: str,
                    switch: CallTable, connection: EslConnection) -> None:
    if call is None:
        # Taken, but the hub went before it had kept the call: only the end is known.
        call = LiveCall(interaction_id, customer, 0.0)
        live.by_interaction[interaction_id] = call
    call.hangup_cause = call.hangup_cause or LOST
    call.hangup_side = call.hangup_side or "switch"
    if switch.get(customer) is not None:
        try:
            await connection.api(f"uuid_kill {customer} NORMAL_CLEARING")
        except Exception as err:  # gone in the meantime
            log.info("voice: caller %s left alone could not be hung up: %s", customer, err)
    await live.end(call)
