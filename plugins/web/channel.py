"""WebChatChannel: the web chat widget's channel, serving visitors over one websocket each."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from aiohttp import web

from hub.channel import Capabilities, Channel, DeliveryStatus, Health, HealthState, SendResult
from hub.messages import AttachmentRef, InboundMessage, OutboundMessage
from plugins.web import protocol
from plugins.web.client import VisitorRegistry
from plugins.web.config import WebConfig, origin_of
from plugins.web.http import Endpoints
from plugins.web.pages import STATIC, Pages
from plugins.web.socket import VisitorSocket
from plugins.web.visitors import RateLimit, Visitor

if TYPE_CHECKING:
    from hub.facade import Hub
    from hub.ingest import IngestResult


class WebChatChannel(Channel):
    """Visitors on the operator's site chat through the widget; agents answer from the inbox."""

    name = "web"
    capabilities: ClassVar[Capabilities] = Capabilities(
        realtime=True, media=("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf",
                              "text/plain"),
        can_initiate=False, max_text=2000, typing=True, read_receipts=True,
    )

    def __init__(self, hub: Hub) -> None:
        super().__init__(hub)
        # Checked while the hub is created, so a wrong setting stops start-up at once.
        self.config = WebConfig.from_settings(hub.settings)
        self.registry = VisitorRegistry()
        self.message_limit = RateLimit(self.config.messages_per_minute)
        self.session_limit = RateLimit(self.config.sessions_per_minute)

    @property
    def own_origin(self) -> str:
        """The hub's origin: the frame's, and so the only one its websocket accepts."""
        return origin_of(self.hub.public_url)

    @property
    def allowed_origins(self) -> set[str]:
        return {self.own_origin, *self.config.allowed_origins}

    async def start(self) -> None:
        self.report_health(HealthState.OK, "serving visitors", connections=0)

    async def stop(self) -> None:
        await self.registry.close_all(protocol.CLOSE_GOING_AWAY)
        self.report_health(HealthState.STOPPED)

    async def send(self, out: OutboundMessage) -> SendResult:
        """Push the stored reply to the visitor's live sockets; otherwise it waits, stored,
        and the widget fetches it by ``seq`` when it reconnects."""
        message = {
            "seq": out.seq, "author_type": out.author_type, "author_name": out.author_name,
            "text": out.text, "created_at": out.created_at, "client_id": "",
            "attachments": [{"sha256": a.sha256, "filename": a.filename,
                             "content_type": a.content_type, "size": a.size} for a in out.attachments],
        }
        took = [conn.offer(message) for conn in self.registry.of(out.thread_key)
                if conn.interaction_id == out.interaction_id]
        return SendResult(DeliveryStatus.DELIVERED if any(took) else DeliveryStatus.SENT)

    async def health(self) -> Health:
        health = self.current_health
        if health.state == HealthState.OK:
            return Health(health.state, health.detail, {"connections": len(self.registry)})
        return health

    def routes(self) -> web.Application:
        endpoints, pages, socket = Endpoints(self), Pages(self), VisitorSocket(self)
        app = web.Application(middlewares=[endpoints.middleware])
        app.router.add_get("/widget.js", pages.widget)
        app.router.add_get("/frame", pages.frame)
        app.router.add_get("/demo", pages.demo)
        app.router.add_static("/static/", STATIC)
        app.router.add_get("/config", endpoints.settings)
        app.router.add_get("/ws", socket.handle)
        app.router.add_get("/files/{sha}", endpoints.file)
        for path, handler in (("/session", endpoints.session), ("/offline", endpoints.offline),
                              ("/upload", endpoints.upload)):
            app.router.add_post(path, handler)
            app.router.add_route("OPTIONS", path, endpoints.preflight)
        app.router.add_route("OPTIONS", "/config", endpoints.preflight)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def _on_shutdown(self, _app: web.Application) -> None:
        # Open sockets would hold the server's shutdown; the widgets reconnect and resume.
        await self.registry.close_all(protocol.CLOSE_GOING_AWAY)

    async def accept(
        self, visitor: Visitor, client_msg_id: str, text: str, attachments: tuple[AttachmentRef, ...] = (),
    ) -> IngestResult:
        """Store a visitor's message once per client message id, and follow its conversation."""
        result = await self.hub.ingest(InboundMessage(
            channel=self.name, external_id=f"{visitor.id}:{client_msg_id}", sender=visitor.id,
            thread_key=visitor.id, text=text, attachments=attachments, sender_name=visitor.name,
            identities=visitor.identities,
        ))
        if result.created:
            # A first message, or one after a close, opened a conversation: every tab follows it.
            for conn in self.registry.of(visitor.id):
                if conn.interaction_id != result.interaction_id:
                    await conn.bind(result.interaction_id, 0)
        return result

    async def accept_offline(self, visitor: Visitor, client_msg_id: str, text: str) -> int:
        """Store a message left while nobody was online as its own interaction, awaiting follow-up."""
        result = await self.hub.ingest(InboundMessage(
            channel=self.name, external_id=f"offline:{client_msg_id}", sender=visitor.id,
            thread_key=f"offline:{client_msg_id}", text=text, sender_name=visitor.name,
            identities=visitor.identities, subject="Offline message",
        ))
        await self.hub.mark_followup(result.interaction_id)
        return result.interaction_id
