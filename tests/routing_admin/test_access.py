"""Who may use the routing admin API: admins write, supervisors only read, agents nothing."""

from __future__ import annotations

import re

from hub.web.api import api
from tests.routing_admin.conftest import Admin, error_of, send

ROUTES = [r for r in api.routes if r.path.startswith("/api/admin/routing/")]
CONCRETE = {"name": "default", "id": "1", "prefix": "0755", "kind": "phone", "address": "+8613800000001"}


def concrete(path: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: CONCRETE[m.group(1)], path)


def test_every_documented_route_is_there() -> None:
    served = {(r.method, r.path) for r in ROUTES}
    assert served == {
        ("GET", "/api/admin/routing/queues"), ("GET", "/api/admin/routing/queues/{name}"),
        ("PUT", "/api/admin/routing/queues/{name}"), ("DELETE", "/api/admin/routing/queues/{name}"),
        ("GET", "/api/admin/routing/agents/{id}"), ("PUT", "/api/admin/routing/agents/{id}"),
        ("GET", "/api/admin/routing/tiers"), ("PUT", "/api/admin/routing/tiers"),
        ("GET", "/api/admin/routing/prefixes"), ("PUT", "/api/admin/routing/prefixes"),
        ("DELETE", "/api/admin/routing/prefixes/{prefix}"),
        ("GET", "/api/admin/routing/blocklist"), ("POST", "/api/admin/routing/blocklist"),
        ("DELETE", "/api/admin/routing/blocklist/{kind}/{address}"),
        ("GET", "/api/admin/routing/entry-rules"), ("POST", "/api/admin/routing/entry-rules"),
        ("PUT", "/api/admin/routing/entry-rules/{id}"), ("DELETE", "/api/admin/routing/entry-rules/{id}"),
        ("GET", "/api/admin/routing/strategies"),
    }
    for route in ROUTES:
        assert route.role == ("supervisor" if route.method == "GET" else "admin"), route.path


async def test_an_agent_may_use_none_of_it(admin: Admin) -> None:
    for route in ROUTES:
        response = await send(admin.agent, route.method, concrete(route.path), {})
        assert response.status == 403, (route.method, route.path, response.status)
        assert await error_of(response) == "forbidden"
    assert admin.events == [] and await admin.audit() == []


async def test_a_supervisor_reads_but_changes_nothing(admin: Admin) -> None:
    await send(admin.admin, "PUT", "/api/admin/routing/agents/1", {"skills": [{"queue": "default"}]})
    admin.events.clear()
    before = await admin.audit()
    for route in ROUTES:
        response = await send(admin.supervisor, route.method, concrete(route.path), {})
        if route.method == "GET":
            assert response.status == 200, (route.path, await response.text())
        else:
            assert response.status == 403, (route.method, route.path, response.status)
            assert await error_of(response) == "forbidden"
    assert admin.events == [] and await admin.audit() == before


async def test_a_change_needs_the_csrf_token(admin: Admin) -> None:
    response = await admin.admin.http.put(admin.hub.url("/api/admin/routing/tiers"),
                                          json={"items": [{"name": "x", "label_en": "X"}]})
    assert response.status == 403 and await error_of(response) == "csrf_failed"
