"""Outbound mode of the FreeSWITCH double: the ``socket`` application dialling our server (reference 1.9).

``socket host[:port][/path][|host2...] [async] [full]``: the double connects, sends nothing and waits
for ``connect``. In async mode the call parks while the socket controls it; in static mode the
application lasts as long as the listener, which runs sendmsg applications itself.
"""

from __future__ import annotations

import asyncio
import socket

from freeswitch_double_apps import park_loop
from freeswitch_double_calls import Leg
from freeswitch_double_conn import Connection


async def socket_application(leg: Leg, arg: str) -> None:
    """Connect, then park (async) or serve inline (static); a refused connect just returns."""
    words = arg.split()
    flags = {word.lower() for word in words[1:]}
    future = leg.socket_result
    connection = await _dial(leg, words[0] if words else "", "full" in flags, "async" in flags)
    if connection is None:
        if future is not None and not future.done():
            future.set_exception(ConnectionRefusedError(arg))
        return  # the socket app fails and the dialplan goes on (reference 1.11)
    leg.switch.connections.add(connection)
    if future is not None and not future.done():
        future.set_result(connection)
    connection.start()
    if not connection.async_mode:
        await connection.closed.wait()  # static: the socket app lasts as long as the listener
        return
    # socket_function waits for `connect` as long as the channel is up, then parks (capture 20).
    await leg.idle_until(lambda: connection.connected.is_set() or leg.is_down)
    if not leg.is_down:
        leg.in_socket_app = True
        try:
            await park_loop(leg)
        finally:
            leg.in_socket_app = False


async def _dial(leg: Leg, hosts: str, full: bool, async_mode: bool) -> Connection | None:
    """host[:port][/path], several separated by '|' and tried in order; sets socket_host/socket_path."""
    for target in hosts.split("|"):
        host, _, port = target.partition(":")
        port, _, path = port.partition("/")
        if path:
            leg.set_var("socket_path", path)
        leg.set_var("socket_host", host)
        try:
            reader, writer = await asyncio.open_connection(host, int(port or 8084))
        except (OSError, ValueError):
            continue
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return Connection(leg.switch, reader, writer, session=leg, full=full, async_mode=async_mode)
    return None
