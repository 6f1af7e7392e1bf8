"""Offering a waiting call to an agent: their phone rings, and the answer decides the offer.

The router offers; this rings the agent's phone with ``bgapi originate`` (never ``api``: the
ringing would hold the connection for every other call) for as long as the offer lasts. An
answer takes the offer (``Hub.answered``) and bridges the caller to the agent; no answer,
busy or an unreachable phone lets it go (``Hub.not_answered``), and the router moves on and
sets the agent busy. An answer that comes after the offer ended (the caller left, the timer
won) is hung up again.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from hub.errors import HubError
from plugins.voice.esl.errors import CommandError

if TYPE_CHECKING:
    from hub.facade import Hub
    from plugins.voice.esl.connection import EslConnection

log = logging.getLogger("contacthub.channel.voice")


def caller_leg(thread_key: str) -> str | None:
    """The caller's leg of a call interaction (its thread key is ``call:<uuid>``)."""
    kind, _, leg = thread_key.partition(":")
    return leg if kind == "call" and leg else None


async def ring(hub: Hub, connection: EslConnection, interaction_id: int, agent_id: int, *,
               endpoint: str, rings: float) -> str | None:
    """Ring the agent for one offer; the agent's leg once bridged, else None."""
    interaction = await hub.interaction(interaction_id)
    caller = caller_leg(str(interaction["thread_key"]))
    if caller is None:
        return None
    agent = await hub.agent(agent_id)
    dial = endpoint.format(number=agent["number"])
    leg = str(uuid.uuid4())
    variables = (f"origination_uuid={leg},originate_timeout={max(1, int(rings))},ignore_early_media=true,"
                 f"contacthub_interaction={interaction_id}")
    try:
        await (await connection.bgapi(f"originate {{{variables}}}{dial} &park()"))
    except CommandError as err:
        log.info("voice: agent %s did not answer call %s (%s)", agent["number"], caller, err.reason)
        await hub.not_answered(interaction_id, agent_id)
        return None
    if not await hub.answered(interaction_id, agent_id):
        await connection.api(f"uuid_kill {leg} ORIGINATOR_CANCEL")
        return None
    try:
        await connection.api(f"uuid_bridge {caller} {leg}")
    except HubError as err:
        # The caller went in the moment between: the agent's phone is hung up too.
        log.info("voice: call %s could not be put through to agent %s: %s", caller, agent["number"], err)
        await connection.api(f"uuid_kill {leg}")
        return None
    return leg
