"""Media state of the FreeSWITCH double: hold music, uuid_audio, recording masks, and what a leg hears.

``leg.hears`` (``Call.hears``) is the set of sources that reach a leg's far end right now: the
uuid of every leg whose voice it hears and the path of any media played to it. The double moves
no audio; the set follows FreeSWITCH's media paths instead:

- bridged legs hear each other; a leg on hold (CF_SUSPEND) hears nothing and is not heard, and
  its partner hears the held leg's ``hold_music`` (switch_ivr_hold broadcasts it, looping);
- while a playback runs on a leg, the leg hears the file and its own voice is not bridged;
- a conference member hears the members that may speak, unless it is deaf; alone in the room it
  hears the profile's music on hold;
- an eavesdropper hears its target and what the target hears; in ``whisper_target`` mode the
  target hears it, in ``whisper_peer`` mode whoever hears the target does, ``both`` is both;
- ``uuid_audio <uuid> start read mute 1`` silences what the leg says, ``write`` what it hears.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from freeswitch_double_apps import queue_message
from freeswitch_double_calls import Leg
from freeswitch_double_channel import now_us

if TYPE_CHECKING:
    from freeswitch_double import FreeSwitchDouble

AUDIO_USAGE = "-USAGE: <uuid> [start [read|write] [mute|level <level>]|stop]\n"
RECORD_USAGE = "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n"


@dataclass
class SessionAudio:
    """The ``audio`` media bug of uuid_audio (switch_ivr_session_audio): mute is on when non-zero."""

    target: str  # Media-Bug-Target: the command the bug was added with (mute or level)
    read_mute: int = 0
    write_mute: int = 0
    read_level: int = 0
    write_level: int = 0


def hold_music(leg: Leg) -> str | None:
    """switch_channel_get_hold_music: temp_hold_music, else hold_music, else the global (vars.xml)."""
    return (leg.get_var("temp_hold_music") or leg.get_var("hold_music")
            or leg.switch.global_vars.get("hold_music"))


async def hold(leg: Leg | None, mode: str) -> bool:
    """``uuid_hold [off|toggle]``: decided by Channel-Call-State, which only SIP legs change (11, 11b).

    Holding sets CF_HOLD and broadcasts the held leg's hold music, looping, to its bridged partner
    (CHANNEL_EXECUTE playback there) before CHANNEL_HOLD; unholding stops that broadcast and waits
    for it to end (at most 5 s) before CHANNEL_UNHOLD, as switch_ivr_hold / switch_ivr_unhold do.
    """
    if leg is None:
        return True  # tested 11: uuid_hold of an unknown uuid answers +OK Success
    held = leg.callstate == "HELD"
    if mode == "off" or (mode == "toggle" and held):
        if not held:
            return False
        leg.set_callstate("UNHELD")
        leg.on_hold = False
        partner, leg.music_to = leg.music_to, None
        if partner is not None and partner.broadcasting:
            partner.stop_broadcast = True
            partner.poke("break")
            await wait_for_broadcast_end(partner, 5.0)
        elif partner is not None:
            drop_looping_broadcasts(partner)  # queued but not started: it never will
        leg.profile.times["hold_accum"] += now_us() - leg.profile.times["last_hold"]
        leg.fire("CHANNEL_UNHOLD")
        leg.set_callstate("ACTIVE")
        return True
    if held:
        return False
    if leg.hold_capable:
        leg.set_callstate("HELD")
    leg.on_hold = True
    leg.profile.times["last_hold"] = now_us()
    music, partner = hold_music(leg), leg.bridged_with
    if music and isinstance(partner, Leg) and not partner.is_down:
        leg.music_to = partner
        queue_message(partner, {"call-command": "execute", "execute-app-name": "playback",
                                "execute-app-arg": music, "loops": "-1"})
    leg.fire("CHANNEL_HOLD")
    return True


async def wait_for_broadcast_end(leg: Leg, within: float) -> None:
    """switch_channel_wait_for_flag(CF_BROADCAST, false), which polls the flag too: the leg's
    wake-up event belongs to its session task, so another task must not wait on it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while leg.broadcasting and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.001)


def drop_looping_broadcasts(leg: Leg) -> None:
    """Take the not yet started looping broadcasts (hold music) out of the leg's message queue."""
    kept = []
    while not leg.messages.empty():
        item = leg.messages.get_nowait()
        if not item[0].get("loops", "").startswith("-"):
            kept.append(item)
    for item in kept:
        leg.messages.put_nowait(item)


async def api_uuid_audio(switch: FreeSwitchDouble, arg: str) -> str:
    """uuid_audio <uuid> start <read|write> <mute|level> <value> | stop (mod_commands
    session_audio_function; not in the reference). Its quirk is kept: an unknown uuid prints
    ``-ERR No Such Channel!`` and then ``+OK`` as well."""
    words = arg.split(" ")[:5]
    if len(words) < 2:
        return AUDIO_USAGE
    leg = switch.locate(words[0])
    if leg is None:
        return "-ERR No Such Channel!\n+OK\n"
    if words[1].lower() == "stop":
        audio, leg.session_audio = leg.session_audio, None
        if audio is not None:
            leg.fire("MEDIA_BUG_STOP", before=[("Media-Bug-Function", "audio"),
                                               ("Media-Bug-Target", audio.target)])
        return "+OK\n"
    if words[1].lower() != "start" or len(words) < 5 or words[2].lower() not in ("read", "write"):
        return AUDIO_USAGE
    command, direction = words[3].lower(), words[2].lower()
    if command not in ("mute", "level"):
        return AUDIO_USAGE
    level = c_int(words[4])
    audio = leg.session_audio or SessionAudio(command)
    if command == "mute":
        setattr(audio, f"{direction}_mute", level)
    elif -5 < level < 5:
        setattr(audio, f"{direction}_level", level)
    if leg.session_audio is None:
        leg.session_audio = audio
        # The bug is added once, named after the first command; later ones only change flags.
        leg.fire("MEDIA_BUG_START", before=[("Media-Bug-Function", "audio"), ("Media-Bug-Target", command)])
    return "+OK\n"


def c_int(text: str) -> int:
    """atoi(): leading digits with an optional sign, else 0."""
    sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text.lstrip("+"))
    number = ""
    for char in digits:
        if not char.isdigit():
            break
        number += char
    return sign * int(number) if number else 0


async def api_uuid_record(switch: FreeSwitchDouble, arg: str) -> str:
    """uuid_record <uuid> start|stop|mask|unmask <path> [limit]: RECORD_START / RECORD_STOP events;
    mask and unmask fire nothing and show in ``leg.masked_recordings`` (the recording is silence)."""
    parts = arg.split(" ")
    if len(parts) < 3 or not all(parts[:3]):
        return RECORD_USAGE
    leg = switch.locate(parts[0])
    if leg is None:
        return "-ERR Cannot locate session!\n"
    action, path = parts[1].lower(), parts[2]
    if action == "start":
        leg.recordings.append(path)
        leg.fire("RECORD_START", after=[("Record-File-Path", path)])
        return "+OK Success\n"
    if action == "stop":
        stopping = list(leg.recordings) if path == "all" else [p for p in leg.recordings if p == path]
        if not stopping:
            return "-ERR Cannot stop record session!\n"
        for item in stopping:
            leg.recordings.remove(item)
            leg.masked_recordings.discard(item)
            leg.fire("RECORD_STOP", after=[("Record-File-Path", item)])
        return "+OK Success\n"
    if action in ("mask", "unmask"):
        if path not in leg.recordings:
            return f"-ERR Cannot {action} recording session!\n"
        if action == "mask":
            leg.masked_recordings.add(path)
        else:
            leg.masked_recordings.discard(path)
        return "+OK Success\n"
    return RECORD_USAGE


# --- what a leg hears ---------------------------------------------------------------------------
def speaks(leg: Leg) -> bool:
    """Whether what the leg's far end says gets into the switch's media paths at all."""
    audio, member = leg.session_audio, leg.member
    return (not leg.is_down and not leg.on_hold and leg.playing is None
            and not (audio is not None and audio.read_mute)
            and not (member is not None and not member.can_speak))  # conference mute is a hard mute


def _heard_without_whispers(leg: Leg) -> set[str]:
    if leg.playing is not None:
        return {leg.playing}
    if leg.on_hold:
        return set()
    member = leg.member
    if member is not None:
        if not member.can_hear:
            return set()
        others = [m for m in member.room.members if m is not member]
        if not others:
            return {member.room.moh} if member.room.moh else set()
        return {m.leg.uuid for m in others if m.can_speak and speaks(m.leg)}
    peer = leg.bridged_with
    if isinstance(peer, Leg):
        return {peer.uuid} if speaks(peer) else set()
    target = leg.switch.channels.get(leg.eavesdrop_target or "")
    if target is not None:
        # The eavesdrop bug copies both directions of the target: its voice and what it hears.
        voice = {target.uuid} if speaks(target) else set()
        return voice | (_heard_without_whispers(target) - {leg.uuid})
    return set()


def hearing(leg: Leg) -> frozenset[str]:
    """What reaches the far end of ``leg`` now (the model is in the module docstring)."""
    audio = leg.session_audio
    if leg.is_down or (audio is not None and audio.write_mute):
        return frozenset()
    sources = _heard_without_whispers(leg)
    for spy in list(leg.switch.channels.values()):
        target = leg.switch.channels.get(spy.eavesdrop_target or "")
        if spy is leg or target is None or not speaks(spy):
            continue
        # whisper_target mixes the spy into what is written to the target; whisper_peer into what
        # is read from it, so whoever hears the target hears the spy too.
        to_target = leg is target and spy.eavesdrop_mode in ("whisper_target", "both")
        to_peer = (leg is not target and spy.eavesdrop_mode in ("whisper_peer", "both")
                   and target.uuid in sources)
        if to_target or to_peer:
            sources.add(spy.uuid)
    return frozenset(sources)
