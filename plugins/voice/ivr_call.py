"""One caller's way through the IVR, played on the switch over the call's own socket.

The interpreter (``plugins.voice.ivr``) decides; this module turns each of its actions into
FreeSWITCH applications on the outbound session (``playback``, ``play_and_get_digits``)
and feeds back what became of them, until the interpreter ends the IVR: to a queue, a
transfer or a hangup. Self-service and password checks go to the services a plugin
registered; a service that fails or takes too long is a failed answer, never a stuck call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from hub.errors import ChannelError
from plugins.voice.esl.errors import ConnectionLost
from plugins.voice.esl.outbound import OutboundSession
from plugins.voice.ivr import (
    Action,
    Audio,
    CallerHungUp,
    CallService,
    Collect,
    Digits,
    IvrRun,
    NoInput,
    Play,
    Played,
    Result,
    ServiceResult,
    Verify,
)

log = logging.getLogger("contacthub.channel.voice")
Service = Callable[[Mapping[str, str]], Awaitable[Mapping[str, Any] | None]]
"""A self-service: the call's variables in, its values out (None: it failed)."""
DIGITS_VAR = "contacthub_digits"
_ANY_KEY = r"^[0-9*#]+$"


class IvrCall:
    """Plays one ``IvrRun`` on one session; ``run()`` returns the final action."""

    def __init__(self, session: OutboundSession, run: IvrRun, *, services: Mapping[str, Service],
                 tts_engine: str = "flite", service_seconds: float = 5.0) -> None:
        self.session = session
        self.ivr = run
        self.services = services
        self.tts_engine = tts_engine
        self.service_seconds = service_seconds

    async def run(self) -> Action:
        """Drive the IVR to its end; a hangup anywhere ends it as ``CallerHungUp`` would."""
        return await self._drive(self.ivr.start())

    async def back_at(self, node_id: str) -> Action:
        """An agent sent the caller back into the flow at ``node_id``: drive it to its end."""
        return await self._drive(self.ivr.back_at(node_id))

    async def after_agent(self) -> Action:
        """The agent left and the caller stayed: drive the survey (or the goodbye) to its end."""
        return await self._drive(self.ivr.after_agent())

    async def _drive(self, action: Action) -> Action:
        while not self.ivr.done:
            action = self.ivr.feed(await self._answer(action))
        return action

    async def _answer(self, action: Action) -> Result:
        if self.session.hungup.is_set():
            return CallerHungUp()
        try:
            if isinstance(action, Play):
                await self.play(action.prompts)
                return Played()
            if isinstance(action, Collect):
                return await self._collect(action)
            if isinstance(action, (CallService, Verify)):
                return await self._service(action)
        except (ChannelError, ConnectionLost):
            return CallerHungUp()  # the call went while the application ran
        raise ChannelError(f"the IVR asked for {type(action).__name__}, which awaits no answer")

    async def play(self, prompts: Iterable[Audio]) -> None:
        """Play the prompts one after the other (one application, so none is cut short)."""
        playable = self.playable(prompts)
        if playable:
            await self.session.execute("playback", playable)

    def playable(self, prompts: Iterable[Audio]) -> str:
        """The prompts as one ``playback`` argument: files, or TTS for a text-only item."""
        items = [audio.file or self._tts(audio) for audio in prompts]
        items = [item for item in items if item]
        if len(items) > 1:
            return "file_string://" + "!".join(items)
        return items[0] if items else ""

    def _tts(self, audio: Audio) -> str:
        if not audio.text:
            return ""
        # '!' separates file_string items and '|' the tts:// fields; line breaks end the argument.
        text = " ".join(audio.text.replace("!", ".").replace("|", " ").replace("'", " ").split())
        return f"tts://{self.tts_engine}|{audio.voice or 'default'}|{text}"

    async def _collect(self, action: Collect) -> Result:
        # One try: the interpreter judges the answer and counts the tries itself.
        prompt = self.playable(action.prompts) or "silence_stream://250"
        # The arguments are split at spaces; FreeSWITCH keeps a single-quoted one whole.
        args = [action.min_digits, action.max_digits, 1, int(action.timeout * 1000),
                action.terminators or "none", f"'{prompt}'" if " " in prompt else prompt,
                "silence_stream://250", DIGITS_VAR, _ANY_KEY, int(action.digit_timeout * 1000)]
        done = await self.session.execute("play_and_get_digits", " ".join(str(a) for a in args))
        digits = done.get(f"variable_{DIGITS_VAR}") or ""
        if not digits and not self.session.hungup.is_set():
            digits = await self.session.getvar(DIGITS_VAR) or ""
        await self.session.execute("unset", DIGITS_VAR)
        if self.session.hungup.is_set():
            return CallerHungUp()
        return Digits(digits) if digits else NoInput()

    async def _service(self, action: CallService | Verify) -> Result:
        name = action.name if isinstance(action, CallService) else action.service
        variables = dict(action.variables)
        if isinstance(action, Verify):
            variables["password"] = action.password
        service = self.services.get(name)
        if service is None:
            log.warning("voice: the IVR asked for service %r, which no plugin offers", name)
            return ServiceResult(False)
        try:
            async with asyncio.timeout(self.service_seconds):
                values = await service(variables)
        except Exception as err:  # a back office that fails must not hold the caller
            log.warning("voice: service %r failed for call %s: %s", name, self.session.uuid, err)
            return ServiceResult(False)
        return ServiceResult(values is not None, values or {})
