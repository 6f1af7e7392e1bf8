"""A call arriving on the hub's socket: who it is, the IVR, and then the queue, a transfer or
goodbye.

The dialplan hands each call to the hub with ``socket <host>:<port> async full``. The caller
is identified from the number (``Hub.caller``), led through the IVR flow, and a caller who
asks for a person becomes an interaction waiting in the chosen queue, with the path they
took through the IVR for the agent to see. They hear hold music until an agent takes the
call. The interaction is stored once per call, whatever is retried: its key is the call's
UUID.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hub.errors import ChannelError
from hub.messages import InboundMessage
from plugins.voice.esl.errors import ConnectionLost
from plugins.voice.ivr import Flow, Hangup, IvrRun, RouteToQueue, Transfer, facts_from_caller
from plugins.voice.ivr_call import IvrCall, Service

if TYPE_CHECKING:
    from hub.facade import Hub
    from plugins.voice.esl.outbound import OutboundSession

log = logging.getLogger("contacthub.channel.voice")
CHANNEL = "voice"


def call_key(uuid: str) -> str:
    """The external id and thread key of a call: one interaction per call."""
    return f"call:{uuid}"


class Arrivals:
    """The ``OutboundServer`` handler: one IVR per call, then where the IVR sent it."""

    def __init__(self, hub: Hub, flow: Flow, *, services: Mapping[str, Service] | None = None,
                 hold_music: str = "local_stream://moh", tts_engine: str = "flite") -> None:
        self.hub = hub
        self.flow = flow
        self.services = dict(services or {})
        self.hold_music = hold_music
        self.tts_engine = tts_engine
        self.waiting: dict[str, int] = {}
        """Call UUID -> interaction id, for calls waiting in a queue or talking."""

    async def __call__(self, session: OutboundSession) -> None:
        channel = session.channel
        number = channel.get("Caller-Caller-ID-Number") or channel.get("Channel-Caller-ID-Number") or ""
        run = IvrRun(self.flow, facts_from_caller(await self.hub.caller(number)))
        ivr = IvrCall(session, run, services=self.services, tts_engine=self.tts_engine)
        try:
            final = await ivr.run()
            if isinstance(final, RouteToQueue):
                await ivr.play(final.prompts)
                await self._queue(session, run, final, number)
            elif isinstance(final, Transfer):
                await ivr.play(final.prompts)
                await session.execute("transfer", final.target)
            elif isinstance(final, Hangup) and not session.hungup.is_set():
                await ivr.play(final.prompts)
                await session.hangup("NORMAL_CLEARING")
        except (ChannelError, ConnectionLost):
            pass  # the caller hung up meanwhile: the path says where
        finally:
            # A socket that closed without a hangup (the switch went away) may leave the call
            # alive or not: the channel's reconciliation after the reconnect decides.
            if session.hungup.is_set():
                self.waiting.pop(session.uuid, None)

    async def _queue(self, session: OutboundSession, run: IvrRun, final: RouteToQueue, number: str) -> None:
        result = await self.hub.ingest(InboundMessage(
            channel=CHANNEL, external_id=call_key(session.uuid), sender=number or "anonymous",
            thread_key=call_key(session.uuid), text=f"Call: {run.path.summary()}",
            sender_name=run.facts.customer_name, entry=session.channel.get("Caller-Destination-Number") or "",
            identities=(("phone", number),) if number else (),
            meta=self._meta(session, run, final)))
        self.waiting[session.uuid] = result.interaction_id
        # Hold music until an agent takes the call or the caller gives up; the bridge or the
        # hangup ends the playback.
        music = asyncio.ensure_future(session.execute("playback", self.hold_music))
        ended = [asyncio.ensure_future(session.hungup.wait()), asyncio.ensure_future(session.wait_closed())]
        try:
            await asyncio.wait(ended, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in ended:
                waiter.cancel()
        if session.hungup.is_set() and await self.hub.customer_left(result.interaction_id):
            log.info("voice: caller %s hung up while waiting in %s", number or "anonymous", final.queue)
            music.cancel()
            with contextlib.suppress(asyncio.CancelledError, ChannelError, ConnectionLost):
                await music

    def _meta(self, session: OutboundSession, run: IvrRun, final: RouteToQueue) -> dict[str, Any]:
        return {"kind": "call", "call_uuid": session.uuid, "queue": final.queue,
                "priority": final.priority, "skills": list(final.skills), "ivr_path": run.path.as_list(),
                "ivr_summary": run.path.summary(), "variables": dict(final.variables),
                "tier": run.facts.tier, "region": run.facts.region}
