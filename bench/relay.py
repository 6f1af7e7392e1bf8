"""The baseline for bench/chat.py: a bare aiohttp websocket relay, customer -> agent.

No storage, no auth, no routing: the floor that the hub's figures are compared with.
Run: python bench/relay.py PORT
"""

from __future__ import annotations

import sys
from collections import defaultdict

from aiohttp import WSMsgType, web

AGENTS: web.AppKey[dict[str, web.WebSocketResponse]] = web.AppKey("agents")
ROUTES: web.AppKey[dict[str, str]] = web.AppKey("routes")


async def agent(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=64 * 1024)
    await ws.prepare(request)
    request.app[AGENTS][request.match_info["agent"]] = ws
    async for msg in ws:
        if msg.type == WSMsgType.TEXT and msg.data.startswith("watch:"):
            request.app[ROUTES][msg.data[6:]] = request.match_info["agent"]
    return ws


async def customer(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=64 * 1024)
    await ws.prepare(request)
    chat = request.match_info["chat"]
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            continue
        target = request.app[AGENTS].get(request.app[ROUTES].get(chat, ""))
        if target is not None:
            await target.send_str(msg.data)
        await ws.send_str('{"type":"ack"}')
    return ws


def make_app() -> web.Application:
    app = web.Application()
    app[AGENTS] = {}
    app[ROUTES] = defaultdict(str)
    app.router.add_get("/agent/{agent}", agent)
    app.router.add_get("/chat/{chat}", customer)
    return app


if __name__ == "__main__":
    web.run_app(make_app(), host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
