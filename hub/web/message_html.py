"""A message's HTML body, sanitised and served as a tiny document for the inbox's sandboxed frame."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web
from sqlalchemy import select

from hub import inbox
from hub.errors import NotFound
from hub.files import FileStore
from hub.models import AgentRole, Attachment, Message
from hub.rich_text import SafeHtml, sanitize_html
from hub.web.access import require
from hub.web.api import api
from hub.web.keys import CORE

# Inline styles only; images from data: URLs (its own parts), nothing else unless asked.
# `sandbox` gives it an opaque origin with no scripts or forms; popups stay allowed so links
# open in a new tab, outside the sandbox.
_POLICY = ("sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
           "img-src {images}; style-src 'unsafe-inline'; frame-ancestors 'self'; "
           "base-uri 'none'; form-action 'none'")
# Inline parts shown in the page, in bytes before base64; mail signatures and screenshots fit.
INLINE_BUDGET = 8 * 1024 * 1024
_RASTER = frozenset(("image/png", "image/gif", "image/jpeg", "image/webp", "image/bmp"))
_HEAD = ("<!doctype html><meta charset=utf-8><meta name=referrer content=no-referrer>"
         "<base target=_blank><style>body{margin:0;padding:8px 10px;font:14px/1.45 system-ui,"
         "sans-serif;color:#1d2330;overflow-wrap:anywhere}img{max-width:100%;height:auto}"
         "table{max-width:100%}</style>")


@api.route("GET", "/api/messages/{id}/html",
           summary="A message's HTML body, sanitised, as a sandboxed page (?images=1 loads remote images)",
           role=AgentRole.AGENT)
async def get_message_html(request: web.Request) -> web.Response:
    agent = require(request)
    core = request.app[CORE]
    message, files = await _message_with_files(request)
    await inbox.get_interaction(core, agent, message.interaction_id)
    html = (message.meta or {}).get("html")
    if not isinstance(html, str) or not html:
        raise NotFound("HTML body")
    remote = request.query.get("images") == "1"
    parts = await part_sources(core.files, message.meta.get("inline"), files)
    safe = sanitize_html(html, cid_urls=parts, remote_images=remote)
    return _page(safe, remote)


async def _message_with_files(request: web.Request) -> tuple[Message, list[Attachment]]:
    try:
        message_id = int(request.match_info["id"])
    except ValueError as err:
        raise NotFound("message") from err
    async with request.app[CORE].sessions() as s:
        message = await s.get(Message, message_id)
        if message is None:
            raise NotFound("message")
        files = (await s.execute(
            select(Attachment).where(Attachment.message_id == message_id)
        )).scalars().all()
    return message, list(files)


async def part_sources(files: FileStore, inline: Any, stored: Sequence[Attachment]) -> dict[str, str]:
    """Content-ID -> the message's own stored image part, as a data: URL.

    The frame's sandbox gives it an opaque origin, so the browser sends no session cookie with
    its requests and a download URL would only answer 401; the parts travel inside the page,
    to someone who already passed the access check. Parts past the budget are left out (the
    agent still has them in the message's file list)."""
    if not isinstance(inline, Mapping):
        return {}
    by_sha = {a.sha256: a for a in stored if a.content_type in _RASTER}
    sources: dict[str, str] = {}
    budget = INLINE_BUDGET
    for cid, sha in inline.items():
        part = by_sha.get(sha)
        if part is None or part.size > budget:
            continue
        try:
            data = await asyncio.to_thread(files.path(part.sha256).read_bytes)
        except OSError:
            continue  # a file lost from the store: the page shows without it
        budget -= len(data)
        sources[str(cid)] = f"data:{part.content_type};base64,{base64.b64encode(data).decode()}"
    return sources


def _page(safe: SafeHtml, remote: bool) -> web.Response:
    images = "'self' data: https:" if remote else "'self' data:"
    return web.Response(
        text=_HEAD + safe.html, content_type="text/html", charset="utf-8",
        headers={
            "Content-Security-Policy": _POLICY.format(images=images),
            "X-Frame-Options": "SAMEORIGIN",
            "X-Blocked-Images": str(safe.blocked_images),
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "private, no-cache",
        },
    )
