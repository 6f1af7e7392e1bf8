"""Dialplan applications of the FreeSWITCH double and sendmsg handling (reference 1.8, section 3).

Every application is wrapped in CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE with Application,
Application-Data, Application-Response and Application-UUID (captures 12, 20, 22, 23). Media time
is multiplied by the double's ``time_scale`` so tests stay fast. ``eavesdrop``, ``three_way`` and
``conference`` live in their own modules (freeswitch_double_eavesdrop, _conference); a bridge that
loses a side follows switch_ivr_multi_threaded_bridge (``bridged``: park_after_bridge,
hangup_after_bridge).
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable

from freeswitch_double_calls import Leg, start_inbound
from freeswitch_double_channel import new_uuid, now_us, switch_true
from freeswitch_double_dial import after_peer_left, bridge_vars, dial, fire_bridge

App = Callable[[Leg, str], Awaitable[str | None]]
# Applications FreeSWITCH knows but the double only acknowledges (they have no visible effect here).
NO_OP_APPS = frozenset({"log", "info", "ring_ready", "sched_hangup", "sleep_no_media", "record_session",
                        "stop_record_session", "limit", "hash", "db", "event", "send_display"})


def message_headers(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """A sendmsg header list as a case-insensitive (lowercased) dict, first value wins."""
    out: dict[str, str] = {}
    for name, value in pairs:
        out.setdefault(name.lower(), value)
    return out


async def execute(leg: Leg, app: str, arg: str, app_uuid: str | None = None,
                  loop: tuple[int, int] | None = None) -> None:
    """Run one application with its EXECUTE / EXECUTE_COMPLETE pair."""
    if app.startswith("__"):
        from freeswitch_double_steps import PSEUDO  # the steps build on this module

        await PSEUDO[app](leg, arg)
        return
    handler = APPS.get(app)
    if handler is None and app not in NO_OP_APPS:
        # not in the reference: an unknown application hangs the channel up, as
        # switch_core_session_execute_application does.
        leg.hangup("DESTINATION_OUT_OF_ORDER")
        return
    app_uuid = app_uuid or new_uuid()
    arg = expand(leg, arg)
    if loop:
        leg.set_var("current_loop", str(loop[0]))
        leg.set_var("total_loops", str(loop[1]))
    leg.set_var("current_application", app)
    leg.set_var("current_application_data", arg)
    head = [("Application", app), ("Application-Data", arg)]
    leg.fire("CHANNEL_EXECUTE", after=[*head, ("Application-UUID", app_uuid)])
    response = await handler(leg, arg) if handler else None
    if response:
        leg.set_var("current_application_response", response)
    leg.fire("CHANNEL_EXECUTE_COMPLETE",
             after=[*head, ("Application-Response", response or "_none_"), ("Application-UUID", app_uuid)])


def expand(leg: Leg, arg: str) -> str:
    """Dialplan variable expansion: ${strftime(...)} runs an API (its API event shows, capture 07)."""
    def strftime(match: re.Match[str]) -> str:
        event = leg.switch.new_event("API", ("switch_loadable_module.c", "switch_api_execute", 2954))
        event.add("API-Command", "strftime")
        event.add("API-Command-Argument", match.group(1))
        leg.switch.fire(event)
        return time.strftime(match.group(1).replace("%T", "%H:%M:%S"), time.gmtime())
    arg = re.sub(r"\$\{strftime\(([^)]*)\)\}", strftime, arg)
    def variable(match: re.Match[str]) -> str:
        return leg.get_var(match.group(1)) or leg.switch.global_vars.get(match.group(1), "")
    return re.sub(r"\$\{([\w-]+)\}", variable, arg)


async def run_messages(leg: Leg) -> None:
    """Execute queued sendmsg/broadcast messages, as park, socket and bridge do (reference 1.8)."""
    while not leg.messages.empty() and not leg.is_down:
        headers, done = leg.messages.get_nowait()
        await handle_message(leg, headers)
        if done is not None and not done.done():
            done.set_result(None)


async def handle_message(leg: Leg, headers: dict[str, str]) -> None:
    """switch_ivr_parse_event: execute (loops, Event-UUID -> Application-UUID) or hangup.

    CF_BROADCAST is up while the application runs; ``loops: -1`` (what switch_ivr_broadcast sends
    for hold music) repeats it until CF_STOP_BROADCAST (``leg.stop_broadcast``) ends it."""
    command = headers.get("call-command", "").lower()
    if command == "execute":
        app = headers.get("execute-app-name", "")
        arg = headers.get("execute-app-arg") or headers.get("_body", "")
        loops_text = headers.get("loops", "1")
        forever = loops_text.startswith("-")
        loops = max(int(loops_text) if loops_text.isdigit() else 1, 1)
        index = 0
        leg.broadcasting = True
        try:
            while not leg.is_down and (broadcast_goes_on(leg) if forever else index < loops):
                index += 1
                await execute(leg, app, arg, headers.get("event-uuid"), None if forever else (index, loops))
        finally:
            leg.broadcasting = leg.stop_broadcast = False
    elif command == "hangup":
        leg.hangup(headers.get("hangup-cause", "NORMAL_CLEARING").upper())
    # not in the reference: unicast, nomedia and xferext are accepted but have no effect in the double.


def broadcast_goes_on(leg: Leg) -> bool:
    """A looping broadcast ends on CF_STOP_BROADCAST, and when the leg leaves (transfer, hangup)."""
    return not leg.stop_broadcast and leg.interrupt in (None, "break")


def queue_message(leg: Leg, headers: dict[str, str]) -> None:
    """Queue a message for the channel and wake it."""
    leg.messages.put_nowait((headers, None))
    leg.poke()


# --- applications ---------------------------------------------------------------------------------
async def app_answer(leg: Leg, arg: str) -> str | None:
    """answer: SIP inbound legs pass through early media first (capture 20)."""
    if leg.source == "mod_sofia" and leg.direction == "inbound":
        leg.pre_answer()
    peer = leg.loopback_peer
    if isinstance(peer, Leg) and leg.variables.get("loopback_leg") == "B":
        peer.answer()  # the loopback A leg is answered first (07)
    leg.answer()
    return None


async def app_pre_answer(leg: Leg, arg: str) -> str | None:
    """pre_answer: early media only."""
    leg.pre_answer()
    return None


async def park_loop(leg: Leg) -> None:
    """switch_ivr_park: CHANNEL_PARK, run queued messages until interrupted, CHANNEL_UNPARK."""
    leg.parked = True
    leg.fire("CHANNEL_PARK")
    while True:
        await leg.idle_until(lambda: leg.interrupt is not None or not leg.messages.empty())
        if leg.interrupt == "break":
            leg.interrupt = None
            continue
        if leg.interrupt is not None:
            break
        await run_messages(leg)
    leg.parked = False
    leg.fire("CHANNEL_UNPARK")


async def app_park(leg: Leg, arg: str) -> str | None:
    """park: its EXECUTE_COMPLETE comes only when the call leaves park (tested 12)."""
    await park_loop(leg)
    return None


def media_seconds(leg: Leg, path: str) -> float:
    """How long a file plays, from the tone/silence spec or the double's table (then scaled)."""
    if path.startswith("local_stream://") or "loops=-1" in path:
        return float("inf")
    tone = re.match(r"tone_stream://%\((\d+),(\d+)", path)
    if tone:
        loops = re.search(r"loops=(\d+)", path)
        return (int(tone.group(1)) + int(tone.group(2))) / 1000 * (int(loops.group(1)) if loops else 1)
    silence = re.match(r"silence_stream://(-?\d+)", path)
    if silence:
        return float("inf") if int(silence.group(1)) < 0 else int(silence.group(1)) / 1000
    return leg.switch.media.get(path, leg.switch.default_media_seconds)


async def play(leg: Leg, path: str, stop_on_digit: bool = False) -> str:
    """One file: PLAYBACK_START, media time, PLAYBACK_STOP with Playback-Status done or break."""
    kind = path.split("://", 1)[0] if path.split("://", 1)[0] in ("tone_stream", "local_stream") else ""
    head = [("Playback-File-Type", kind), ("Playback-File-Path", path)]
    leg.playing = path
    leg.fire("PLAYBACK_START", after=head)
    started = now_us()
    seconds = media_seconds(leg, path) * leg.switch.time_scale
    done = not await leg.idle_until(
        lambda: leg.interrupt is not None or (stop_on_digit and not leg.dtmf.empty()),
        None if seconds == float("inf") else seconds)
    if leg.interrupt == "break":
        leg.interrupt = None
    played = (now_us() - started) / leg.switch.time_scale / 1_000_000
    leg.set_var("playback_last_offset_pos", str(int(played * 8000)))
    leg.set_var("playback_seconds", str(int(played)))
    leg.set_var("playback_ms", str(int(played * 1000)))
    leg.set_var("playback_samples", str(int(played * 8000)))
    leg.playing = None
    leg.fire("PLAYBACK_STOP", after=[*head, ("Playback-Status", "done" if done else "break")])
    return "FILE PLAYED"


async def app_playback(leg: Leg, arg: str) -> str | None:
    """playback <file>: Application-Response FILE PLAYED (tested 12)."""
    return await play(leg, arg)


async def app_play_and_get_digits(leg: Leg, arg: str) -> str | None:
    """play_and_get_digits min max tries timeout terminators file invalid var regexp [digit_timeout]."""
    parts = arg.split(" ")
    if len(parts) < 9:
        return None
    min_d, max_d, tries, timeout = (int(p) if p.isdigit() else 1 for p in parts[:4])
    terminators, path, var, pattern = parts[4], parts[5], parts[7], parts[8]
    for _ in range(max(tries, 1)):
        await play(leg, path, stop_on_digit=True)
        digits = await collect_digits(leg, max_d, terminators, timeout / 1000 * leg.switch.time_scale)
        if leg.is_down:
            return None
        if len(digits) >= min_d and re.fullmatch(pattern, digits):
            leg.set_var("read_result", "success")
            leg.set_var(var, digits)
            return None
        if digits:
            leg.set_var(f"{var}_invalid", digits)
    leg.set_var("read_result", "failure")
    return None


async def collect_digits(leg: Leg, max_digits: int, terminators: str, gap: float) -> str:
    """Digits from the channel's DTMF buffer until max, a terminator, or ``gap`` seconds of silence."""
    digits = ""
    while len(digits) < max_digits:
        if not await leg.idle_until(lambda: not leg.dtmf.empty() or leg.interrupt is not None, gap):
            break
        if leg.dtmf.empty():
            break
        digit = leg.dtmf.get_nowait()
        if digit in terminators:
            break
        digits += digit
    return digits


async def app_set(leg: Leg, arg: str) -> str | None:
    """set name=value (the value may contain newlines when sent as a body, tested 12)."""
    name, _, value = arg.partition("=")
    leg.set_var(name, value)
    return None


async def app_export(leg: Leg, arg: str) -> str | None:
    """export name=value: also listed in export_vars (captures 08, 20)."""
    name, _, value = arg.partition("=")
    leg.set_var(name, value)
    exported = leg.variables.get("export_vars")
    leg.set_var("export_vars", f"{exported},{name}" if exported else name)
    return None


async def app_unset(leg: Leg, arg: str) -> str | None:
    """unset name."""
    leg.set_var(arg, None)
    return None


async def app_hangup(leg: Leg, arg: str) -> str | None:
    """hangup [cause]."""
    leg.hangup(arg.upper() or "NORMAL_CLEARING")
    return None


async def app_echo(leg: Leg, arg: str) -> str | None:
    """echo: runs until the call ends or is transferred."""
    await leg.idle_until(lambda: leg.interrupt is not None)
    return None


async def app_sleep(leg: Leg, arg: str) -> str | None:
    """sleep <ms>."""
    await leg.pause(int(arg) / 1000 * leg.switch.time_scale if arg.isdigit() else 0)
    return None


async def app_bridge(leg: Leg, arg: str) -> str | None:
    """bridge <dialstring>: ring, answer the caller, CHANNEL_BRIDGE, wait, CHANNEL_UNBRIDGE (08, 23)."""
    if leg.answer_state == "ringing" and arg.startswith("loopback/"):
        leg.pre_answer()  # loopback gives early media, so the caller is EARLY when answered (08)
    limit = 60 * leg.switch.time_scale
    other, cause = await dial(leg.switch, arg, (leg.profile.caller_id_name, leg.profile.caller_id_number),
                              limit, a_leg=leg)
    if other is None:
        leg.set_var("originate_disposition", cause)
        leg.set_var("DIALSTATUS", cause)
        if leg.variables.get("continue_on_fail") != "true" and not leg.is_down:
            leg.hangup(cause)  # a failed bridge hangs the caller up unless continue_on_fail (reference 3)
        return None
    leg.set_var("originate_disposition", "SUCCESS")
    leg.set_var("DIALSTATUS", "SUCCESS")
    other.enter("CS_EXCHANGE_MEDIA")
    other.go.set()
    leg.profile.callee_id_name = other.profile.callee_id_name
    leg.profile.callee_id_number = other.profile.callee_id_number
    leg.answer()
    bridge_vars(leg, other)
    fire_bridge(leg, other, "CHANNEL_BRIDGE")
    await bridged(leg, other)
    return None


async def bridged(leg: Leg, other: Leg) -> None:
    """The bridge app's side of an established bridge, until a side hangs up or leaves.

    A side taken away (uuid_transfer, uuid_bridge) leaves the other one alone: the callee parks
    with park_after_bridge=true and hangs up otherwise; the caller parks with park_after_bridge,
    hangs up with hangup_after_bridge=true, or else goes on with its dialplan
    (switch_ivr_multi_threaded_bridge; not in the reference)."""
    def taken() -> bool:
        return other.leaving_bridge or other.bridged_with is not leg

    def over() -> bool:
        return leg.is_down or other.is_down or leg.interrupt not in (None, "break") or taken()

    while not over():
        await leg.idle_until(lambda: over() or not leg.messages.empty())
        if leg.interrupt == "break":
            leg.interrupt = None  # uuid_break stops a playback, not the bridge
        await run_messages(leg)  # sendmsg to a bridged leg runs inside the bridge (tested 23)
    if not other.is_down and not taken():
        after_peer_left(other)
    if other.is_down:
        await other.finished.wait()
    leg.set_var("bridge_hangup_cause", other.hangup_cause)
    fire_bridge(leg, other, "CHANNEL_UNBRIDGE")
    if leg.is_down or leg.interrupt not in (None, "break"):
        return
    if switch_true(leg.variables.get("park_after_bridge")):
        leg.plan.appendleft(("__park__", ""))
    elif switch_true(leg.variables.get("hangup_after_bridge")):
        leg.hangup(other.hangup_cause or "NORMAL_CLEARING")


async def app_eavesdrop(leg: Leg, arg: str) -> str | None:
    """eavesdrop <uuid>: listen in; DTMF 0-3 change the mode silently, * stops (22)."""
    from freeswitch_double_eavesdrop import eavesdrop  # it builds on this module

    await eavesdrop(leg, arg, dtmf=True)
    return None


async def app_three_way(leg: Leg, arg: str) -> str | None:
    """three_way <uuid>: eavesdrop talking to both sides from the start, no DTMF control."""
    from freeswitch_double_eavesdrop import eavesdrop  # it builds on this module

    await eavesdrop(leg, arg, dtmf=False)
    return None


async def app_conference(leg: Leg, arg: str) -> str | None:
    """conference <room>[@<profile>][+<pin>][+flags{mute|deaf|moderator|endconf|ghost}]."""
    from freeswitch_double_conference import join  # it builds on this module

    await join(leg, arg)
    return None


async def app_socket(leg: Leg, arg: str) -> str | None:
    """socket host:port [async] [full]: connect out; async parks while the socket controls the call."""
    from freeswitch_double_outbound import socket_application  # it builds on this module

    await socket_application(leg, arg)
    return None


async def app_transfer(leg: Leg, arg: str) -> str | None:
    """transfer <dest> [dialplan] [context]."""
    parts = arg.split()
    if parts:
        steps = leg.switch.route(parts[0], parts[2] if len(parts) > 2 else leg.profile.context)
        leg.plan.extendleft(reversed([("__transfer__", f"{parts[0]} {leg.profile.context}"), *steps]))
    return None


APPS: dict[str, App] = {
    "answer": app_answer, "pre_answer": app_pre_answer, "park": app_park, "playback": app_playback,
    "play_and_get_digits": app_play_and_get_digits, "set": app_set, "export": app_export,
    "unset": app_unset, "hangup": app_hangup, "echo": app_echo, "sleep": app_sleep,
    "bridge": app_bridge, "eavesdrop": app_eavesdrop, "socket": app_socket, "transfer": app_transfer,
    "three_way": app_three_way, "conference": app_conference,
}


def route_loopback_b(b: Leg) -> None:
    """The loopback B leg enters the dialplan with its extension (unknown: only the prelude runs)."""
    b.switch.register(b)
    steps = b.switch.route(b.profile.destination_number, b.profile.context)
    start_inbound(b, steps)
