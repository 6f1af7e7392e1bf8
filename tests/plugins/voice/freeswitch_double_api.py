"""API commands of the FreeSWITCH double (``api``/``bgapi``), with the output texts of 1.10.12.

Texts come from the captures (05, 06, 11, 11b, 23) and the reference; commands it does not show
keep mod_commands' own strings and are marked "not in the reference". ``conference`` is in
freeswitch_double_conference_api; uuid_hold, uuid_audio and uuid_record in freeswitch_double_media.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from freeswitch_double_apps import queue_message
from freeswitch_double_calls import Leg
from freeswitch_double_channel import HANGUP_CAUSES
from freeswitch_double_conference_api import api_conference
from freeswitch_double_dial import originate_api, transfer, uuid_bridge
from freeswitch_double_media import api_uuid_audio, api_uuid_record, hold
from freeswitch_double_wire import serialize_json, serialize_plain

if TYPE_CHECKING:
    from freeswitch_double import FreeSwitchDouble

Api = Callable[["FreeSwitchDouble", str], Awaitable[str]]
VERSION = "1.10.12-release"
# The channels table (switch_core_sqldb.c) in column order: what `show channels` prints.
CHANNEL_COLUMNS = (
    "uuid", "direction", "created", "created_epoch", "name", "state", "cid_name", "cid_num", "ip_addr",
    "dest", "application", "application_data", "dialplan", "context", "read_codec", "read_rate",
    "read_bit_rate", "write_codec", "write_rate", "write_bit_rate", "secure", "hostname", "presence_id",
    "presence_data", "accountcode", "callstate", "callee_name", "callee_num", "callee_direction",
    "call_uuid", "sent_callee_name", "sent_callee_num", "initial_cid_name", "initial_cid_num",
    "initial_ip_addr", "initial_dest", "initial_dialplan", "initial_context",
)


def _plural(value: int, word: str) -> str:
    return f"{value} {word}{'' if value == 1 else 's'}"


def uptime_text(switch: FreeSwitchDouble) -> str:
    """'0 years, 0 days, 0 hours, 1 minute, 2 seconds, 153 milliseconds, 430 microseconds'."""
    micro = int((time.monotonic() - switch.started_at) * 1_000_000)
    seconds, micro_rest = divmod(micro, 1_000_000)
    parts = [(seconds // 31_536_000, "year"), (seconds % 31_536_000 // 86400, "day"),
             (seconds % 86400 // 3600, "hour"), (seconds % 3600 // 60, "minute"), (seconds % 60, "second"),
             (micro_rest // 1000, "millisecond"), (micro_rest % 1000, "microsecond")]
    return ", ".join(_plural(value, word) for value, word in parts)


async def api_status(switch: FreeSwitchDouble, arg: str) -> str:
    """status, with the trailing spaces of lines four and five (capture 05)."""
    count = len(switch.channels)
    return (f"UP {uptime_text(switch)}\nFreeSWITCH (Version {VERSION}  64bit) is ready\n"
            f"{switch.session_counter} session(s) since startup\n"
            f"{count} session(s) - peak {switch.peak}, last 5min {switch.peak} \n"
            f"0 session(s) per Sec out of max 30, peak 0, last 5min 0 \n"
            "1000 session(s) max\nmin idle cpu 0.00/98.57\nCurrent Stack Size/Max 240K/8192K\n")


async def api_version(switch: FreeSwitchDouble, arg: str) -> str:
    """version (capture 05)."""
    return f"FreeSWITCH Version {VERSION}~64bit ( 64bit)\n"


async def api_uptime(switch: FreeSwitchDouble, arg: str) -> str:
    """uptime in seconds (capture 07 shows '81\\n')."""
    return f"{int(time.monotonic() - switch.started_at)}\n"


async def api_msleep(switch: FreeSwitchDouble, arg: str) -> str:
    """msleep <ms>: real time, so a test can make an api slow (reference 6.1 item 7)."""
    await asyncio.sleep(int(arg) / 1000 if arg.isdigit() else 0)
    return "+OK"


async def api_global_getvar(switch: FreeSwitchDouble, arg: str) -> str:
    """global_getvar <name>: an unset variable gives empty output, hence -ERR no reply (capture 05)."""
    if not arg:
        return "".join(f"{k}={v}\n" for k, v in switch.global_vars.items())
    return switch.global_vars.get(arg, "")


async def api_global_setvar(switch: FreeSwitchDouble, arg: str) -> str:
    """global_setvar name=value (no newline in the output, like mod_commands)."""
    name, _, value = arg.partition("=")
    if not name:
        return "-USAGE: <var>=<value> [=<value2>]\n"
    if value:
        switch.global_vars[name] = value
    else:
        switch.global_vars.pop(name, None)
    return "+OK"


async def api_hostname(switch: FreeSwitchDouble, arg: str) -> str:
    """hostname / switchname."""
    return switch.hostname


async def api_uuid_exists(switch: FreeSwitchDouble, arg: str) -> str:
    """'true' or 'false' with no newline (tested 05)."""
    return "true" if switch.locate(arg.strip()) else "false"


async def api_uuid_getvar(switch: FreeSwitchDouble, arg: str) -> str:
    """The bare value, no newline (tested 11); not in the reference: unset gives _undef_."""
    parts = arg.split(" ")
    if len(parts) < 2 or not parts[0]:
        return "-USAGE: <uuid> <var>\n"
    leg = switch.locate(parts[0])
    if leg is None:
        return "-ERR No such channel!\n"
    value = leg.get_var(parts[1])
    return "_undef_" if value is None else value


async def api_uuid_setvar(switch: FreeSwitchDouble, arg: str) -> str:
    """uuid_setvar <uuid> <var> [value] (the value may contain spaces)."""
    parts = arg.split(" ", 2)
    if len(parts) < 2 or not parts[0]:
        return "-USAGE: <uuid> <var> [value]\n"
    leg = switch.locate(parts[0])
    if leg is None:
        return "-ERR No such channel!\n"
    leg.set_var(parts[1], parts[2] if len(parts) > 2 else None)
    return "+OK\n"


async def api_uuid_setvar_multi(switch: FreeSwitchDouble, arg: str) -> str:
    """uuid_setvar_multi <uuid> a=1;b=2."""
    uuid, _, pairs = arg.partition(" ")
    leg = switch.locate(uuid)
    if leg is None:
        return "-ERR No such channel!\n"
    for pair in filter(None, pairs.split(";")):
        name, _, value = pair.partition("=")
        leg.set_var(name, value)
    return "+OK\n"


async def api_uuid_kill(switch: FreeSwitchDouble, arg: str) -> str:
    """uuid_kill <uuid> [cause]: the cause is used as given (tested 11)."""
    uuid, _, cause = arg.partition(" ")
    leg = switch.locate(uuid)
    if not uuid or leg is None:
        return "-ERR No such channel!\n" if uuid else "-USAGE: <uuid> [cause]\n"
    leg.hangup(cause.upper() if cause.upper() in HANGUP_CAUSES else "NORMAL_CLEARING")
    return "+OK\n"


async def api_uuid_answer(switch: FreeSwitchDouble, arg: str) -> str:
    """uuid_answer: '+OK\\n' / '-ERROR\\n' (not in the reference: texts of mod_commands)."""
    leg = switch.locate(arg.strip())
    if leg is None:
        return "-ERROR\n"
    peer = leg.loopback_peer
    if isinstance(peer, Leg) and leg.variables.get("loopback_leg") == "B":
        peer.answer()
    leg.answer()
    return "+OK\n"


async def api_uuid_park(switch: FreeSwitchDouble, arg: str) -> str:
    """uuid_park: leave the current application and park (CHANNEL_PARK without an EXECUTE)."""
    leg = switch.locate(arg.strip())
    if leg is None:
        return "-ERR No such channel!\n"
    leg.plan.clear()
    leg.plan.append(("__park__", ""))
    leg.poke("transfer")
    return "+OK\n"


async def api_uuid_hold(switch: FreeSwitchDouble, arg: str) -> str:
    """uuid_hold [off|toggle] <uuid> (tested 11, 11b)."""
    parts = arg.split()
    if not parts:
        return "-USAGE: [off|toggle] <uuid> [<display>]\n"
    mode = parts[0].lower() if parts[0].lower() in ("off", "toggle") else ""
    uuid = parts[1] if mode and len(parts) > 1 else parts[0]
    return "+OK Success\n" if await hold(switch.locate(uuid), mode) else "-ERR Operation failed\n"


async def api_uuid_transfer(switch: FreeSwitchDouble, arg: str) -> str:
    """uuid_transfer (tested 11)."""
    return transfer(switch, arg)


async def api_uuid_bridge(switch: FreeSwitchDouble, arg: str) -> str:
    """uuid_bridge <a> <b> -> '+OK <b>\\n' / '-ERR Invalid uuid\\n'."""
    return uuid_bridge(switch, arg)


async def api_uuid_broadcast(switch: FreeSwitchDouble, arg: str) -> str:
    """uuid_broadcast <uuid> <path|app::args> [aleg|bleg|holdb|both] (tested 23)."""
    parts = arg.split(" ")
    if len(parts) < 2:
        return "-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n"
    leg = switch.locate(parts[0])
    if leg is None:
        return "-ERR invalid uuid\n"
    app, _, app_arg = parts[1].partition("::")
    if not _:
        app, app_arg = "playback", parts[1]
    which = parts[2].lower() if len(parts) > 2 else "aleg"
    targets = []
    if "both" in which or "aleg" in which or "holdb" in which:
        targets.append(leg)
    if ("both" in which or "bleg" in which) and isinstance(leg.bridged_with, Leg):
        targets.append(leg.bridged_with)
    for target in targets:
        queue_message(target, {"call-command": "execute", "execute-app-name": app,
                               "execute-app-arg": app_arg})
    return "+OK Message sent\n"


async def api_uuid_break(switch: FreeSwitchDouble, arg: str) -> str:
    """uuid_break <uuid> [all]: stops the current playback."""
    uuid, _, flag = arg.partition(" ")
    leg = switch.locate(uuid)
    if leg is None:
        return "-ERR No such channel!\n"
    if "all" in flag:
        while not leg.messages.empty():
            leg.messages.get_nowait()
    if leg.broadcasting:
        leg.stop_broadcast = True  # CF_BROADCAST: the whole broadcast stops, hold music included
    leg.poke("break")
    return "+OK\n"


async def api_uuid_send_dtmf(switch: FreeSwitchDouble, arg: str) -> str:
    """uuid_send_dtmf: digits go to the far end, no event (not in the reference: mod_commands text)."""
    parts = arg.split(" ")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        return "-USAGE: <uuid> <dtmf_data>\n"
    leg = switch.locate(parts[0])
    if leg is None:
        return "-ERR Cannot locate session!\n"
    leg.sent_dtmf.append(parts[1])
    return f"+OK {parts[0]} sent DTMF {parts[1]}.\n"


async def api_uuid_recv_dtmf(switch: FreeSwitchDouble, arg: str) -> str:
    """uuid_recv_dtmf: as if the caller pressed the digits (DTMF events, the apps see them)."""
    parts = arg.split(" ")
    if len(parts) < 2:
        return "-USAGE: <uuid> <dtmf_data>\n"
    leg = switch.locate(parts[0])
    if leg is None:
        return "-ERR Cannot locate session!\n"
    switch.press(leg, parts[1])
    return f"+OK {parts[0]} received DTMF {parts[1]}.\n"


async def api_uuid_phone_event(switch: FreeSwitchDouble, arg: str) -> str:
    """uuid_phone_event <uuid> talk|hold: a SIP NOTIFY telling the phone to go off-hook or hold;
    the double's phones obey talk while ringing (not in the reference: mod_commands text)."""
    parts = arg.split()
    if len(parts) < 2 or parts[1] not in ("talk", "hold"):
        return "-USAGE: <uuid> talk|hold\n"
    leg = switch.locate(parts[0])
    if leg is None:
        return "-ERR No such channel!\n"
    if parts[1] == "talk":
        leg.talk_requested = True
        leg.poke()
    return "+OK\n"


async def api_uuid_dump(switch: FreeSwitchDouble, arg: str) -> str:
    """uuid_dump <uuid> [json]: the channel data as an event."""
    uuid, _, fmt = arg.partition(" ")
    leg = switch.locate(uuid)
    if leg is None:
        return "-ERR No such channel!\n"
    event = leg.build("CHANNEL_DATA")
    return (serialize_json(event) if fmt == "json" else serialize_plain(event)).decode("utf-8")


def channel_row(switch: FreeSwitchDouble, leg: Leg) -> dict[str, str]:
    """One row of the channels table; NULL columns print as empty strings."""
    p, codec = leg.profile, leg.codec or ("", "", "")
    created = p.times["created"]
    values = [
        leg.uuid, leg.direction, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created / 1e6)),
        str(created // 1_000_000), leg.name, leg.running_state, p.caller_id_name, p.caller_id_number,
        p.network_addr, p.destination_number, leg.variables.get("current_application", ""),
        leg.variables.get("current_application_data", ""), p.dialplan, p.context, codec[0], str(codec[1]),
        str(codec[2]), codec[0], str(codec[1]), str(codec[2]), "", switch.hostname, "", "", "",
        leg.callstate, p.callee_id_name, p.callee_id_number, "", leg.call_uuid, "", "",
        p.orig_caller_id_name, p.orig_caller_id_number, p.network_addr, p.destination_number, p.dialplan,
        p.context,
    ]
    return dict(zip(CHANNEL_COLUMNS, values, strict=True))


async def api_show(switch: FreeSwitchDouble, arg: str) -> str:
    """show channels [count] [as json|csv|delim <d>] (not in the reference: mod_commands formats)."""
    words = arg.split()
    if not words or words[0].lower() != "channels":
        return "-USAGE: codec|endpoint|application|api|dialplan|file|timer|calls [count]|channels [count]\n"
    count_only = len(words) > 1 and words[1].lower() == "count"
    rest = words[2:] if count_only else words[1:]
    fmt = rest[1].lower() if len(rest) > 1 and rest[0].lower() == "as" else "delim"
    rows = [channel_row(switch, leg) for leg in sorted(switch.channels.values(),
                                                        key=lambda leg: leg.profile.times["created"])]
    if fmt == "json":
        if count_only:  # count(*) always yields one row, so the callback has created an empty array
            return json.dumps({"row_count": len(rows), "rows": []}, separators=(",", ":"))
        if not rows:
            return '{"row_count": 0}\n'  # mod_commands' literal, with a space and a newline
        return json.dumps({"row_count": len(rows), "rows": rows}, separators=(",", ":"), ensure_ascii=False)
    if fmt not in ("delim", "csv"):
        return f"-ERR Cannot find format {fmt}\n"
    if count_only:
        return f"\n{len(rows)} total.\n"  # tested 05
    text = ",".join(CHANNEL_COLUMNS) + "\n" if rows else ""
    text += "".join(",".join(row.values()) + "\n" for row in rows)
    return f"{text}\n{len(rows)} total.\n"


async def api_hupall(switch: FreeSwitchDouble, arg: str) -> str:
    """hupall [cause] [var value]: not in the reference, mod_commands' reply text."""
    parts = arg.split()
    cause = parts[0].upper() if parts and parts[0].upper() in HANGUP_CAUSES else "MANAGER_REQUEST"
    match = parts[1:3] if len(parts) >= 3 else None
    for leg in list(switch.channels.values()):
        if not leg.is_down and (match is None or leg.get_var(match[0]) == match[1]):
            leg.hangup(cause)
    if match:
        return f"+OK hangup all channels matching [{match[0]}]=[{match[1]}] with cause: {cause}\n"
    return f"+OK hangup all channels with cause {cause}\n"


async def api_originate(switch: FreeSwitchDouble, arg: str) -> str:
    """originate (reference 3; tested 06, 11, 15)."""
    return await originate_api(switch, arg)


async def api_echo(switch: FreeSwitchDouble, arg: str) -> str:
    """echo <data>."""
    return arg


async def api_create_uuid(switch: FreeSwitchDouble, arg: str) -> str:
    """create_uuid."""
    from freeswitch_double_channel import new_uuid

    return new_uuid()


API: dict[str, Api] = {
    "status": api_status, "version": api_version, "uptime": api_uptime, "msleep": api_msleep,
    "global_getvar": api_global_getvar, "global_setvar": api_global_setvar, "hostname": api_hostname,
    "switchname": api_hostname, "uuid_exists": api_uuid_exists, "uuid_getvar": api_uuid_getvar,
    "uuid_setvar": api_uuid_setvar, "uuid_setvar_multi": api_uuid_setvar_multi, "uuid_kill": api_uuid_kill,
    "uuid_answer": api_uuid_answer, "uuid_park": api_uuid_park, "uuid_hold": api_uuid_hold,
    "uuid_transfer": api_uuid_transfer, "uuid_bridge": api_uuid_bridge, "uuid_broadcast": api_uuid_broadcast,
    "uuid_break": api_uuid_break, "uuid_record": api_uuid_record, "uuid_send_dtmf": api_uuid_send_dtmf,
    "uuid_recv_dtmf": api_uuid_recv_dtmf, "uuid_dump": api_uuid_dump, "show": api_show,
    "hupall": api_hupall, "originate": api_originate, "echo": api_echo, "create_uuid": api_create_uuid,
    "conference": api_conference, "uuid_audio": api_uuid_audio, "uuid_phone_event": api_uuid_phone_event,
}


async def run_api(switch: FreeSwitchDouble, command: str, arg: str | None) -> str:
    """switch_api_execute + api_exec: maps unknown commands; the API event is created first (so its
    Event-Sequence is lower) but fired when the command returns (capture 07)."""
    event = switch.new_event("API", ("switch_loadable_module.c", "switch_api_execute", 2954))
    event.add("API-Command", command)
    event.add("API-Command-Argument", arg)
    handler = API.get(command)
    if handler is None:
        return f"-ERR {command} Command not found!\n"
    try:
        return await handler(switch, arg or "")
    finally:
        switch.fire(event)
