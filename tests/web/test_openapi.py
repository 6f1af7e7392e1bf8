"""The OpenAPI document is valid 3.1 and describes exactly the routes the app serves."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate
from web_helpers import Client, Hub

from hub.web.api import api

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture
async def document(hub: Hub, client) -> dict[str, Any]:
    anonymous: Client = await client()
    response = await anonymous.get("/api/openapi.json")
    assert response.status == 200, "the document is public"
    return await response.json()


def served_api_routes(hub: Hub) -> set[tuple[str, str]]:
    routes = set()
    for route in hub.server.app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/api/") and route.method in METHODS:
            routes.add((route.method, path))
    return routes


async def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    assert document["info"]["title"] and document["info"]["version"]
    validate(document)


async def test_it_lists_exactly_the_served_api_routes(hub: Hub, document: dict[str, Any]) -> None:
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert documented == served_api_routes(hub)
    assert ("POST", "/api/me/locale") in documented


async def test_every_operation_has_a_summary_and_non_public_ones_a_role(document: dict[str, Any]) -> None:
    public = {(r.method, r.path) for r in api.routes if r.role is None}
    assert public == {("GET", "/api/openapi.json")}
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            assert op.get("summary"), (method, path)
            if (method.upper(), path) in public:
                assert "x-required-role" not in op
            else:
                assert op["x-required-role"] in {"agent", "supervisor", "admin"}, (method, path)
                assert op["security"] == [{"session": []}]


async def test_state_changes_declare_the_csrf_header_and_their_body(document: dict[str, Any]) -> None:
    for path, ops in document["paths"].items():
        post = ops.get("post")
        if post is None:
            continue
        headers = [p["name"] for p in post.get("parameters", []) if p["in"] == "header"]
        assert headers == ["X-CSRF-Token"], path
    locale = document["paths"]["/api/me/locale"]["post"]["requestBody"]["content"]["application/json"]
    schema = document["components"]["schemas"][locale["schema"]["$ref"].rsplit("/", 1)[1]]
    assert schema["properties"]["locale"]["enum"] == ["en", "zh_CN"]
    assert document["paths"]["/api/health"]["get"]["x-required-role"] == "supervisor"
