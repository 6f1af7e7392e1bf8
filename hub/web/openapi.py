"""API routes declared once: their role, body and reply models feed both the router and
the OpenAPI document, so the document cannot drift from the routes."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from hub.errors import InvalidRequest
from hub.models import AgentRole

M = TypeVar("M", bound=BaseModel)
Handler = Callable[..., Awaitable[Any]]
MAX_JSON_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class ApiRoute:
    method: str
    path: str
    handler: Handler
    summary: str
    role: AgentRole | None
    body: type[BaseModel] | None
    reply: type[BaseModel] | None
    tag: str
    max_bytes: int = MAX_JSON_BYTES


class ApiRegistry:
    """Collects ``@api.route(...)`` declarations and installs them on an app."""

    def __init__(self, title: str, version: str) -> None:
        self.title = title
        self.version = version
        self.routes: list[ApiRoute] = []

    def route(
        self, method: str, path: str, *, summary: str, role: AgentRole | None,
        body: type[BaseModel] | None = None, reply: type[BaseModel] | None = None, tag: str = "inbox",
        max_bytes: int = MAX_JSON_BYTES,
    ) -> Callable[[Handler], Handler]:
        """Declare a route. ``role=None`` means public; otherwise the login must hold at least
        that role. The handler gets ``(request, body)`` when a body model is given; a body
        larger than ``max_bytes`` is refused (413) before it is parsed."""
        def decorate(handler: Handler) -> Handler:
            self.routes.append(ApiRoute(method, path, handler, summary, role, body, reply, tag, max_bytes))
            return handler
        return decorate

    def with_channel_admin(self, channels: Mapping[str, Any]) -> ApiRegistry:
        """This API plus every channel's ``admin_api()``, mounted under
        ``/api/admin/channels/<name>`` and open to admins only, documented like the rest."""
        combined = ApiRegistry(self.title, self.version)
        combined.routes = list(self.routes)
        for name, channel in channels.items():
            extra = channel.admin_api()
            if extra is None:
                continue
            combined.routes.extend(
                replace(r, path=f"/api/admin/channels/{name}{r.path}", role=AgentRole.ADMIN,
                        tag=f"channel {name}")
                for r in extra.routes)
        return combined

    def install(self, app: web.Application) -> None:
        for r in self.routes:
            app.router.add_route(r.method, r.path, self._wrap(r))

    def _wrap(self, r: ApiRoute) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        from hub.web.access import require

        async def handler(request: web.Request) -> web.StreamResponse:
            if r.role is not None:
                require(request, r.role)
            args: list[Any] = [request]
            if r.body is not None:
                args.append(await read_body(request, r.body, r.max_bytes))
            result = await r.handler(*args)
            if isinstance(result, web.StreamResponse):
                return result
            if isinstance(result, BaseModel):
                return web.json_response(text=result.model_dump_json())
            return web.json_response(result)
        handler.__name__ = r.handler.__name__
        return handler

    def document(self) -> dict[str, Any]:
        paths: dict[str, dict[str, Any]] = {}
        schemas: dict[str, Any] = {}
        for r in self.routes:
            op: dict[str, Any] = {
                "summary": r.summary, "operationId": r.handler.__name__, "tags": [r.tag],
                "responses": {"200": _content(r.reply, schemas) or {"description": "OK"},
                              **_ERRORS},
            }
            if r.role is not None:
                op["security"] = [{"session": []}]
                op["x-required-role"] = str(r.role)
                if r.method != "GET":
                    op["parameters"] = [{"in": "header", "name": "X-CSRF-Token", "required": True,
                                         "schema": {"type": "string"}}]
            params = [{"in": "path", "name": n, "required": True, "schema": {"type": "string"}}
                      for n in re.findall(r"{(\w+)}", r.path)]
            if params:
                op["parameters"] = [*op.get("parameters", []), *params]
            if r.body is not None:
                op["requestBody"] = {"required": True, **_content(r.body, schemas)}
            paths.setdefault(r.path, {})[r.method.lower()] = op
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version},
            "paths": paths,
            "components": {
                "schemas": {**schemas, "Error": _ERROR_SCHEMA},
                "securitySchemes": {"session": {"type": "apiKey", "in": "cookie",
                                                "name": "contacthub_session"}},
            },
        }


_ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    "required": ["error", "message"],
}
_ERRORS = {
    code: {"description": text,
           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for code, text in (("400", "invalid request"), ("401", "not logged in"),
                       ("403", "role does not allow it, or CSRF token missing"),
                       ("404", "not found"))
}


def _content(model: type[BaseModel] | None, schemas: dict[str, Any]) -> dict[str, Any]:
    if model is None:
        return {}
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        schemas[name] = sub
    schemas[model.__name__] = schema
    return {"description": model.__doc__ or model.__name__,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}


async def read_body(request: web.Request, model: type[M], max_bytes: int = MAX_JSON_BYTES) -> M:
    """Parse and validate a JSON body; every failure is a 400 that says which field."""
    too_large = InvalidRequest("body_too_large",
                               f"the request body is too large: send at most {max_bytes} bytes", status=413)
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large
    raw = await request.read()
    if len(raw) > max_bytes:
        raise too_large
    try:
        return model.model_validate(json.loads(raw or b"{}"))
    except json.JSONDecodeError as err:
        raise InvalidRequest("bad_json", f"the body is not valid JSON: {err.msg}") from err
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidRequest("invalid_field", f"{where}: {first['msg']}") from err
