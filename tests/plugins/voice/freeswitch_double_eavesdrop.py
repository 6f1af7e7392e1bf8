"""Supervisor listen / whisper / barge in the FreeSWITCH double: ``eavesdrop`` and ``three_way``.

Both run switch_ivr_eavesdrop_session on the supervisor's leg: MEDIA_BUG_START on the target
(``Media-Bug-Function: eavesdrop``, ``Media-Bug-Target: <target uuid>``), then they last until the
supervisor or the target goes, or the supervisor's leg is transferred; MEDIA_BUG_STOP follows.
While they run, the supervisor's leg shows ``eavesdrop_target`` (the target's uuid) and
``eavesdrop_mode``, and ``leg.hears`` follows the mode (freeswitch_double_media):

- ``listen``: the supervisor hears both sides, nobody hears the supervisor (DTMF 0);
- ``whisper_peer``: the target's bridged peer hears the supervisor too (DTMF 1,
  ``eavesdrop_whisper_aleg=true``);
- ``whisper_target``: the target hears the supervisor (DTMF 2, ``eavesdrop_whisper_bleg=true``);
- ``both``: barge, everyone hears everyone (DTMF 3, both variables, ``three_way`` from the start).

Eavesdrop takes DTMF from the supervisor (unless ``eavesdrop_enable_dtmf=false``): 0-3 change the
mode without any event, ``*`` stops (capture 22). three_way takes no DTMF (mod_dptools runs it
without ED_DTMF). Both obey an ``eavesdrop-command: <digits>`` header sent to the supervisor's
leg (sendevent with its Unique-ID, or sendmsg) for 0-3; other messages wait until the
application ends (not in the reference: switch_ivr_eavesdrop_session).
"""

from __future__ import annotations

import asyncio

from freeswitch_double_calls import Leg
from freeswitch_double_channel import switch_true

Message = tuple[dict[str, str], asyncio.Future[None] | None]
MODES = {"0": "listen", "1": "whisper_peer", "2": "whisper_target", "3": "both"}


def starting_mode(leg: Leg, three_way: bool) -> str:
    """The mode before any digit: from eavesdrop_whisper_aleg / _bleg on the supervisor's leg."""
    if three_way:
        return "both"
    aleg = switch_true(leg.get_var("eavesdrop_whisper_aleg"))
    bleg = switch_true(leg.get_var("eavesdrop_whisper_bleg"))
    if aleg and bleg:
        return "both"
    return "whisper_peer" if aleg else "whisper_target" if bleg else "listen"


def apply_digits(leg: Leg, digits: str, star_stops: bool) -> bool:
    """Mode changes for 0-3 (4-6 are video layouts: ignored); False when a DTMF ``*`` stops."""
    for digit in digits:
        if digit == "*" and star_stops:
            return False
        if digit in MODES:
            leg.eavesdrop_mode = MODES[digit]
    return True


async def eavesdrop(leg: Leg, arg: str, *, dtmf: bool) -> None:
    """Run switch_ivr_eavesdrop_session on ``leg`` for the target uuid in ``arg``."""
    target = leg.switch.locate(arg.strip())
    if target is None or target is leg:
        return
    use_dtmf = dtmf and leg.get_var("eavesdrop_enable_dtmf") != "false"
    bug = [("Media-Bug-Function", "eavesdrop"), ("Media-Bug-Target", target.uuid)]
    leg.eavesdrop_target, leg.eavesdrop_mode = target.uuid, starting_mode(leg, three_way=not dtmf)
    target.fire("MEDIA_BUG_START", before=bug)
    held_back: list[Message] = []

    def ended() -> bool:
        return leg.is_down or target.is_down or leg.interrupt not in (None, "break")

    try:
        going = True
        while going:
            await leg.idle_until(lambda: ended() or not leg.messages.empty()
                                 or (use_dtmf and not leg.dtmf.empty()))
            if ended():
                break
            while not leg.messages.empty():
                item = leg.messages.get_nowait()
                if "eavesdrop-command" in item[0]:
                    apply_digits(leg, item[0]["eavesdrop-command"], star_stops=False)
                else:
                    held_back.append(item)
            if use_dtmf and not leg.dtmf.empty():
                going = apply_digits(leg, leg.dtmf.get_nowait(), star_stops=True)
    finally:
        leg.eavesdrop_target = leg.eavesdrop_mode = None
        target.fire("MEDIA_BUG_STOP", before=bug)
        requeue(leg, held_back)


def requeue(leg: Leg, held_back: list[Message]) -> None:
    """Put messages the eavesdrop did not consume back in front of the leg's queue, in order."""
    if held_back:
        rest = []
        while not leg.messages.empty():
            rest.append(leg.messages.get_nowait())
        for item in [*held_back, *rest]:
            leg.messages.put_nowait(item)
        leg.poke()
