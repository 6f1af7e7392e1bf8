"""The widget's REST endpoints: session, offline form, upload, own files; CORS for allowed sites."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web

from hub.errors import InvalidRequest
from hub.i18n import catalog_dict, negotiate
from plugins.web import protocol
from plugins.web.visitors import TokenRefused, Visitor, issue, new_visitor_id, prechat_details, verify

if TYPE_CHECKING:
    from plugins.web.channel import WebChatChannel

log = logging.getLogger("contacthub.channel.web")
LOCALE_DIR = Path(__file__).parent / "locale"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Endpoints:
    """The REST side of the widget; the frame is same-origin, other sites only if allowed."""

    def __init__(self, channel: WebChatChannel) -> None:
        self.channel = channel
        self.config = channel.config
        self.hub = channel.hub

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Errors as JSON; CORS answered for allowed origins only, by exact echo."""
        origin = request.headers.get("Origin", "").lower()
        allowed = origin in self.channel.allowed_origins
        if origin and not allowed and request.method not in ("GET", "HEAD", "OPTIONS"):
            log.info("%s %s from origin %r refused", request.method, request.path, origin[:100])
            return _error("origin_refused", "this site may not use the chat", 403)
        try:
            response = await handler(request)
        except InvalidRequest as err:
            response = _error(err.error_id, err.message, err.status)
        if not response.prepared:
            response.headers["Vary"] = "Origin"
            if allowed:
                response.headers["Access-Control-Allow-Origin"] = origin
        return response

    async def preflight(self, request: web.Request) -> web.Response:
        return web.Response(status=204, headers={
            "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type, Authorization",
            "Access-Control-Max-Age": "600",
        })

    async def settings(self, request: web.Request) -> web.Response:
        """GET /config?lang=: what the frame needs to start, in the visitor's language."""
        locale = negotiate(request.query.get("lang", "")[:100] or request.headers.get("Accept-Language", ""))
        online = self.hub.agents_online() > 0 or not self.config.offline_when_no_agent
        return web.json_response({
            "locale": locale.replace("_", "-"),
            "catalog": catalog_dict(LOCALE_DIR, "widget", locale),
            "prechat": self.config.prechat, "prechat_required": self.config.prechat_required,
            "max_text": self.config.max_text, "max_upload_bytes": self.upload_limit,
            "online": online,
        }, headers={"Cache-Control": "no-store"})

    async def session(self, request: web.Request) -> web.Response:
        """POST /session {token?, name?, phone?, email?}: a new or renewed visitor token."""
        if not self.channel.session_limit.allow(request.remote or "?"):
            raise InvalidRequest("rate_limited", "too many new sessions; wait a minute", status=429)
        data = await _json(request)
        details = prechat_details(data, self.config.prechat_required if self.config.prechat else [])
        # A token that is forged or expired gets a fresh visitor, as if none had been given.
        visitor = self._visitor_or_none(data.get("token")) or Visitor(new_visitor_id())
        visitor = Visitor(visitor.id, details["name"] or visitor.name,
                          details["phone"] or visitor.phone, details["email"] or visitor.email)
        return web.json_response({"token": issue(self.hub.signer("visitor"), visitor),
                                  "expires_in": self.config.token_max_age})

    async def offline(self, request: web.Request) -> web.Response:
        """POST /offline: a message left when nobody is online, kept as awaiting follow-up."""
        if not self.channel.session_limit.allow(request.remote or "?"):
            raise InvalidRequest("rate_limited", "too many messages; wait a minute", status=429)
        data = await _json(request)
        details = prechat_details(data, ["name"])
        if not details["email"] and not details["phone"]:
            raise InvalidRequest("missing_contact", "give an email address or a phone number")
        try:
            text = protocol.message_text(data.get("message"), self.config.max_text)
            client_msg_id = protocol.client_message_id(data.get("client_msg_id") or str(uuid.uuid4()))
        except protocol.FrameError as err:
            raise InvalidRequest(err.code, err.message) from err
        visitor = self._visitor_or_none(data.get("token")) or Visitor(new_visitor_id())
        visitor = Visitor(visitor.id, details["name"], details["phone"], details["email"])
        interaction_id = await self.channel.accept_offline(visitor, client_msg_id, text)
        return web.json_response({"ok": True, "conversation_id": interaction_id}, status=201)

    async def upload(self, request: web.Request) -> web.Response:
        """POST /upload (multipart: file, client_msg_id, text?), Bearer visitor token."""
        visitor = self._bearer(request)
        if request.content_length is not None and request.content_length > self.upload_limit + 64 * 1024:
            raise _too_large(self.upload_limit)
        if not self.channel.message_limit.allow(visitor.id):
            raise InvalidRequest("rate_limited", "you are sending too fast", status=429)
        fields = await self._multipart(request)
        if "file" not in fields:
            raise InvalidRequest("missing_file", "attach a file in the field 'file'")
        try:
            client_msg_id = protocol.client_message_id(fields.get("client_msg_id"))
        except protocol.FrameError as err:
            raise InvalidRequest(err.code, err.message) from err
        data, filename = fields["file"]
        ref = self.hub.store_file(data, filename)
        result = await self.channel.accept(visitor, client_msg_id, fields.get("text", ""), (ref,))
        return web.json_response({"client_msg_id": client_msg_id, "seq": result.seq,
                                  "conversation_id": result.interaction_id,
                                  "attachment": {"sha256": ref.sha256, "filename": ref.filename,
                                                 "content_type": ref.content_type, "size": ref.size}},
                                 status=201)

    async def file(self, request: web.Request) -> web.StreamResponse:
        """GET /files/<sha256>: a file of the visitor's own conversations, as a download."""
        visitor = self._bearer(request)
        ref = await self.hub.attachment_in_thread(visitor.id, request.match_info["sha"].lower())
        if ref is None:
            raise InvalidRequest("not_found", "file not found", status=404)
        return web.FileResponse(self.hub.file_path(ref.sha256), headers={
            "Content-Type": ref.content_type,
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(ref.filename)}",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
        })

    @property
    def upload_limit(self) -> int:
        return self.config.max_upload_bytes

    def _bearer(self, request: web.Request) -> Visitor:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            if scheme.lower() != "bearer":
                raise TokenRefused("session_invalid", "send the visitor token as a Bearer token")
            return verify(self.hub.signer("visitor"), token.strip(), self.config.token_max_age)
        except TokenRefused as err:
            raise InvalidRequest(err.code, err.message, status=401) from err

    def _visitor_or_none(self, token: Any) -> Visitor | None:
        try:
            return verify(self.hub.signer("visitor"), token, self.config.token_max_age) if token else None
        except TokenRefused:
            return None

    async def _multipart(self, request: web.Request) -> dict[str, Any]:
        if not request.content_type.startswith("multipart/"):
            raise InvalidRequest("bad_request", "send multipart/form-data")
        fields: dict[str, Any] = {}
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue
            if part.name == "file" and "file" not in fields:
                fields["file"] = (await _read_limited(part, self.upload_limit), part.filename or "file")
            elif part.name in ("client_msg_id", "text") and part.name not in fields:
                raw = await _read_limited(part, self.config.max_text * 4)
                fields[part.name] = raw.decode("utf-8", "replace")
        text = fields.get("text", "")
        if len(text) > self.config.max_text or "\x00" in text:
            raise InvalidRequest("text_too_long", f"a message has at most {self.config.max_text} characters")
        return fields


async def _read_limited(part: BodyPartReader, limit: int) -> bytes:
    """Read one part, stopping as soon as it passes ``limit``: a huge upload is never buffered."""
    chunks, size = [], 0
    while chunk := await part.read_chunk(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> InvalidRequest:
    return InvalidRequest("file_too_large", f"files are at most {limit} bytes", status=413)


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json() if request.can_read_body else {}
    except ValueError as err:
        raise InvalidRequest("bad_json", "the body is not valid JSON") from err
    if not isinstance(data, dict):
        raise InvalidRequest("bad_json", "the body must be a JSON object")
    return data


def _error(error_id: str, message: str, status: int) -> web.Response:
    return web.json_response({"error": error_id, "message": message}, status=status)
