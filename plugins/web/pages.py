"""The widget's pages: the loader script, the chat frame (framed only by allowed sites), a demo."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from plugins.web.channel import WebChatChannel

STATIC = Path(__file__).parent / "static"


class Pages:
    """Serves what browsers load; no inline script anywhere, so CSP can forbid it."""

    def __init__(self, channel: WebChatChannel) -> None:
        self.channel = channel
        self._frame = (STATIC / "frame.html").read_text(encoding="utf-8")
        self._demo = (STATIC / "demo.html").read_text(encoding="utf-8")

    async def widget(self, request: web.Request) -> web.FileResponse:
        """GET /widget.js: the one script a site includes; it adds a launcher and the frame."""
        return web.FileResponse(STATIC / "widget.js", headers={
            "Content-Type": "text/javascript; charset=utf-8",
            "Cache-Control": "public, max-age=300",
            # Loaded cross-site by design, and harmless: it only builds an iframe.
            "Cross-Origin-Resource-Policy": "cross-origin",
        })

    async def frame(self, request: web.Request) -> web.Response:
        """GET /frame: the chat UI; frame-ancestors is what keeps it off unlisted sites."""
        ancestors = " ".join(["'self'", *self.channel.config.allowed_origins])
        socket_origin = self.channel.own_origin.replace("http", "ws", 1)
        csp = (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
            f"connect-src 'self' {socket_origin}; form-action 'none'; base-uri 'none'; "
            f"frame-ancestors {ancestors}"
        )
        return web.Response(text=self._frame, content_type="text/html", headers={
            "Content-Security-Policy": csp, "Cache-Control": "no-cache",
            "Referrer-Policy": "no-referrer",
        })

    async def demo(self, request: web.Request) -> web.Response:
        """GET /demo: an imaginary operator's page with the widget's one script tag."""
        page = self._demo.replace("{hub}", html.escape(self.channel.hub.public_url, quote=True))
        return web.Response(text=page, content_type="text/html", headers={
            "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                                       f"script-src {self.channel.own_origin}; "
                                       f"frame-src {self.channel.own_origin}; base-uri 'none'",
        })
