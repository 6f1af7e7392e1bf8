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
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hub.errors import HubError
from plugins.voice.esl.errors import CommandError

if TYPE_CHECKING:
    from hub.facade import Hub
    from plugins.voice.esl.connection import EslConnection

log = logging.getLogger("contacthub.channel.voice")


def caller_leg(thread_key: str) -> str | None:
    """The caller's leg of a call interaction (its thread key is ``call:<uuid>``, or
    ``call:<uuid>#<n>`` for the n-th time the caller asked for a person in one call)."""
    kind, _, leg = thread_key.partition(":")
    leg = leg.partition("#")[0]
    return leg if kind == "call" and leg else None


async def _accepted_on_screen(hub: Hub, interaction_id: int, agent_id: int) -> bool:
    """The offer had ended because the agent took it on screen (the phone was told to answer
    then): the call is theirs, put it through."""
    interaction = await hub.interaction(interaction_id)
    return interaction["agent_id"] == agent_id and interaction["status"] == "assigned"


@dataclass(frozen=True, slots=True)
class Rung:
    """An offer the agent answered: the call is bridged to their phone."""

    customer: str
    leg: str
    agent_number: str
    rung_at: float
    answered_at: float
    bridged_at: float


async def ring(hub: Hub, connection: EslConnection, interaction_id: int, agent_id: int, *,
               endpoint: str, rings: float, leg: str | None = None, caller: str | None = None,
               agent_number: str | None = None, hold_music: str = "", auto_answer: bool = False,
               before_bridge: Callable[[str, str], Awaitable[None]] | None = None) -> Rung | None:
    """Ring the agent for one offer (their phone's leg gets the UUID ``leg``); the bridged call
    once they answered, else None. The caller's leg and the agent's number, when the channel
    knows them, save two reads on the way to the phone. ``before_bridge(caller, number)`` runs
    once the agent answered, before the caller is put through (the agent's number announced)."""
    rung_at = time.time()
    if caller is None:
        caller = caller_leg(str((await hub.interaction(interaction_id))["thread_key"]))
        if caller is None:
            return None
    number = agent_number or str((await hub.agent(agent_id))["number"])
    dial = endpoint.format(number=number)
    leg = leg or str(uuid.uuid4())
    variables = (f"origination_uuid={leg},originate_timeout={max(1, int(rings))},ignore_early_media=true,"
                 f"contacthub_interaction={interaction_id}")
    if auto_answer:
        variables += ",sip_auto_answer=true"
    if hold_music:
        # What the caller hears when the agent holds the call (uuid_hold on the agent's leg);
        # a comma would end the variable: FreeSWITCH takes it escaped.
        music = hold_music.replace(",", "\\,")
        variables += f",hold_music={music}"
    try:
        await (await connection.bgapi(f"originate {{{variables}}}{dial} &park()"))
    except CommandError as err:
        log.info("voice: agent %s did not answer call %s (%s)", number, caller, err.reason)
        await hub.not_answered(interaction_id, agent_id)
        return None
    answered_at = time.time()
    if not await hub.answered(interaction_id, agent_id) and not await _accepted_on_screen(
            hub, interaction_id, agent_id):
        await connection.api(f"uuid_kill {leg} ORIGINATOR_CANCEL")
        return None
    if before_bridge is not None:
        try:
            await before_bridge(caller, number)
        except HubError as err:
            log.info("voice: call %s goes through without its announcement: %s", caller, err)
    bridged_at = time.time()
    try:
        # When the agent's leg goes (hangs up, is transferred away) the caller stays, parked
        # under the hub's socket: for the survey, or to wait for the next agent.
        await connection.api(f"uuid_setvar {caller} park_after_bridge true")
        await connection.api(f"uuid_bridge {caller} {leg}")
    except HubError as err:
        # The caller went in the moment between: the agent's phone is hung up too.
        log.info("voice: call %s could not be put through to agent %s: %s", caller, number, err)
        await connection.api(f"uuid_kill {leg}")
        return None
    return Rung(caller, leg, number, rung_at, answered_at, bridged_at)
