"""Who may use the work-order admin API: admins write, supervisors only read, agents nothing."""

from __future__ import annotations

import re

from hub.web.api import api
from tests.tickets_admin.conftest import Admin, error_of, send

PREFIXES = ("/api/admin/units", "/api/admin/agents/", "/api/admin/workflows", "/api/admin/ticket-",
            "/api/admin/business-calendar")
ROUTES = [r for r in api.routes if r.path.startswith(PREFIXES)]
CONCRETE = {"id": "1", "code": "default"}


def concrete(path: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: CONCRETE[m.group(1)], path)


def test_every_documented_route_is_there() -> None:
    assert {(r.method, r.path) for r in ROUTES} == {
        ("GET", "/api/admin/units"), ("POST", "/api/admin/units"), ("PUT", "/api/admin/units/{id}"),
        ("PUT", "/api/admin/agents/{id}/unit"),
        ("GET", "/api/admin/workflows"), ("GET", "/api/admin/workflows/{code}"),
        ("PUT", "/api/admin/workflows/{code}"),
        ("GET", "/api/admin/ticket-types"), ("PUT", "/api/admin/ticket-types/{code}"),
        ("GET", "/api/admin/ticket-categories"), ("POST", "/api/admin/ticket-categories"),
        ("PUT", "/api/admin/ticket-categories/{id}"),
        ("GET", "/api/admin/business-calendar"), ("GET", "/api/admin/business-calendar/{code}"),
        ("PUT", "/api/admin/business-calendar/{code}"),
    }
    for route in ROUTES:
        assert route.tag == "tickets-admin", route.path
        assert route.role == ("supervisor" if route.method == "GET" else "admin"), route.path
        assert route.reply is not None, route.path


async def test_an_agent_may_use_none_of_it(admin: Admin) -> None:
    for route in ROUTES:
        response = await send(admin.agent, route.method, concrete(route.path), {})
        assert response.status == 403, (route.method, route.path, response.status)
        assert await error_of(response) == "forbidden"
    assert await admin.audit() == []


async def test_a_supervisor_reads_but_changes_nothing(admin: Admin) -> None:
    for route in ROUTES:
        path = concrete(route.path).replace("/workflows/default", "/workflows/standard")
        response = await send(admin.supervisor, route.method, path, {})
        if route.method == "GET":
            assert response.status == 200, (path, await response.text())
        else:
            assert response.status == 403, (route.method, path, response.status)
            assert await error_of(response) == "forbidden"
    assert await admin.audit() == []


async def test_a_change_needs_the_csrf_token(admin: Admin) -> None:
    response = await admin.admin.http.put(admin.hub.url("/api/admin/business-calendar/default"),
                                          json={"schedule": {}})
    assert response.status == 403 and await error_of(response) == "csrf_failed"
    assert await admin.audit() == []
