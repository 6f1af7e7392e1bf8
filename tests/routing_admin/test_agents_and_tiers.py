"""Agents' skills and capacity, and customer tiers, through the admin API."""

from __future__ import annotations

from typing import Any

import pytest

from hub.db import transaction
from hub.models import Customer
from tests.routing_admin.conftest import Admin, error_of, send

CAPACITY = {"limits": {"voice": 1, "chat": 4}, "exclusive": ["voice"], "interruptible": ["chat"],
            "position": 7}


def agent_path(admin: Admin, number: str = "1001") -> str:
    return f"/api/admin/routing/agents/{admin.hub.agents[number].id}"


async def test_put_replaces_the_whole_skill_list_and_sets_capacity(admin: Admin) -> None:
    await send(admin.admin, "PUT", "/api/admin/routing/queues/billing", {})
    first = {"skills": [{"queue": "billing", "level": 2, "proficiency": 5}, {"queue": "default"}],
             "capacity": CAPACITY}
    assert (await send(admin.admin, "PUT", agent_path(admin), first)).status == 200
    response = await send(admin.admin, "PUT", agent_path(admin),
                          {"skills": [{"queue": "billing", "level": 1, "proficiency": 4}],
                           "capacity": CAPACITY})
    stored = await (await admin.supervisor.get(agent_path(admin))).json()
    assert stored == await response.json()
    assert stored["number"] == "1001" and stored["name"] == "Alice"
    assert stored["skills"] == [{"queue": "billing", "level": 1, "proficiency": 4}]
    assert stored["capacity"] == CAPACITY
    assert [a for a in await admin.audit() if a[0].startswith("routing.agent")] == [
        ("routing.agent.update", "agent:1001")] * 2
    assert admin.events[-1] == {"event": "routing-config", "what": "skills"}


async def test_null_capacity_means_the_hub_default(admin: Admin) -> None:
    await send(admin.admin, "PUT", agent_path(admin), {"skills": [], "capacity": CAPACITY})
    await send(admin.admin, "PUT", agent_path(admin), {"skills": [], "capacity": None})
    stored = await (await admin.supervisor.get(agent_path(admin))).json()
    assert stored["capacity"] is None and stored["skills"] == []


@pytest.mark.parametrize(("body", "error"), [
    ({"skills": [{"queue": "default", "proficiency": 6}]}, "invalid_field"),
    ({"skills": [{"queue": "default", "proficiency": 0}]}, "invalid_field"),
    ({"skills": [{"queue": "default", "level": 0}]}, "invalid_field"),
    ({"skills": [{"queue": "nowhere"}]}, "unknown_queue"),
    ({"skills": [{"queue": "default"}, {"queue": "default", "level": 2}]}, "duplicate_skill"),
    ({"skills": [], "capacity": {"limits": {"chat": -1}}}, "invalid_field"),
    ({"skills": [], "capacity": {"limits": {"Chat Room": 1}}}, "bad_channel"),
])
async def test_bad_skills_are_refused(admin: Admin, body: dict[str, Any], error: str) -> None:
    response = await send(admin.admin, "PUT", agent_path(admin), body)
    assert response.status == 400 and await error_of(response) == error
    assert (await (await admin.supervisor.get(agent_path(admin))).json())["skills"] == []
    assert admin.events == []


async def test_an_unknown_agent_is_not_found(admin: Admin) -> None:
    for method in ("GET", "PUT"):
        response = await send(admin.admin, method, "/api/admin/routing/agents/999", {"skills": []})
        assert response.status == 404 and await error_of(response) == "not_found"


# Tiers


async def tiers(admin: Admin) -> list[dict[str, Any]]:
    return (await (await admin.supervisor.get("/api/admin/routing/tiers")).json())["items"]


async def test_the_default_tiers_come_by_rank(admin: Admin) -> None:
    assert [(t["name"], t["vip"], t["label_zh_cn"]) for t in await tiers(admin)] == [
        ("ordinary", False, "普通"), ("silver", False, "银卡"), ("gold", False, "金卡"),
        ("diamond", True, "钻石"), ("platinum", True, "白金")]


async def test_put_replaces_the_ordered_list(admin: Admin) -> None:
    items = [{"name": "ordinary", "label_en": "Ordinary"}, {"name": "gold", "label_en": "Gold"},
             {"name": "black_card", "vip": True, "label_en": "Black card", "label_zh_cn": "黑卡"}]
    response = await send(admin.admin, "PUT", "/api/admin/routing/tiers", {"items": items})
    assert response.status == 200, await response.text()
    assert [(t["name"], t["vip"]) for t in await tiers(admin)] == [
        ("ordinary", False), ("gold", False), ("black_card", True)]
    assert await admin.audit() == [("routing.tiers.update", "tiers")]
    assert admin.events == [{"event": "routing-config", "what": "tiers"}]


@pytest.mark.parametrize(("items", "error"), [
    ([], "invalid_field"),
    ([{"name": "Gold", "label_en": "Gold"}], "invalid_field"),
    ([{"name": "9lives", "label_en": "Nine"}], "invalid_field"),
    ([{"name": "x" * 41, "label_en": "Long"}], "invalid_field"),
    ([{"name": "gold", "label_en": "Gold"}, {"name": "gold", "label_en": "Gold again"}], "duplicate_tier"),
])
async def test_bad_tier_lists_are_refused(admin: Admin, items: list[Any], error: str) -> None:
    response = await send(admin.admin, "PUT", "/api/admin/routing/tiers", {"items": items})
    assert response.status == 400 and await error_of(response) == error
    assert len(await tiers(admin)) == 5


async def test_a_tier_customers_still_have_cannot_be_removed(admin: Admin) -> None:
    async with transaction(admin.hub.core.sessions) as s:
        s.add_all([Customer(name="A", tier="platinum"), Customer(name="B", tier="platinum")])
    keep = [t for t in await tiers(admin) if t["name"] != "platinum"]
    response = await send(admin.admin, "PUT", "/api/admin/routing/tiers", {"items": keep})
    assert response.status == 409
    assert await response.json() == {
        "error": "tier_in_use",
        "message": "2 customers still have tier platinum; move them to another tier before removing it"}
    assert len(await tiers(admin)) == 5
