"""Queues' routing rules through the admin API: stored as sent, refused with a reason."""

from __future__ import annotations

from typing import Any

import pytest

from tests.routing_admin.conftest import Admin, error_of, send

BILLING: dict[str, Any] = {
    "title": "Billing",
    "strategy": "least_talk_time",
    "min_proficiency": 3,
    "steps": [{"after": 60, "min_proficiency": 1}, {"after": 30, "min_proficiency": 2}],
    "overflow": [{"after": 120, "queue": "default"}],
    "targets": {"gold": {"fraction": 0.9, "seconds": 15}},
    "target_fraction": 0.8,
    "target_seconds": 20,
    "max_waiting": 50,
    "daily_limit": 2000,
    "offer_timeout_seconds": 25,
    "schedule": {"timezone": "Asia/Shanghai", "hours": {"mon": [["08:00", "20:00"]]},
                 "holidays": ["2026-10-01"]},
    "closed_message": "We are closed; we open at 8:00.",
    "region": "guangdong/shenzhen",
}


async def put_queue(admin: Admin, name: str, body: dict[str, Any]) -> Any:
    return await send(admin.admin, "PUT", f"/api/admin/routing/queues/{name}", body)


async def test_put_creates_the_queue_with_its_rules(admin: Admin) -> None:
    response = await put_queue(admin, "billing", BILLING)
    assert response.status == 200, await response.text()
    stored = await (await admin.supervisor.get("/api/admin/routing/queues/billing")).json()
    assert stored["name"] == "billing" and stored["title"] == "Billing" and stored["has_rules"]
    assert stored["steps"] == [{"after": 30, "min_proficiency": 2}, {"after": 60, "min_proficiency": 1}]
    sent = {k: v for k, v in BILLING.items() if k not in ("title", "steps")}
    assert {k: stored[k] for k in sent} == sent
    assert "billing" in admin.hub.core.queue_names
    assert await admin.audit() == [("routing.queue.create", "queue:billing")]
    assert admin.events == [{"event": "routing-config", "what": "queues"}]


async def test_put_again_replaces_the_rules_and_keeps_the_title(admin: Admin) -> None:
    await put_queue(admin, "billing", BILLING)
    response = await put_queue(admin, "billing", {"strategy": "fewest_missed"})
    assert response.status == 200
    stored = await response.json()
    assert stored["title"] == "Billing" and stored["strategy"] == "fewest_missed"
    assert stored["overflow"] == [] and stored["schedule"] == {} and stored["region"] == ""
    assert [a for a, _ in await admin.audit()] == ["routing.queue.create", "routing.queue.update"]


async def test_the_list_shows_every_queue_with_defaults_where_no_rules_are_stored(admin: Admin) -> None:
    await put_queue(admin, "billing", BILLING)
    items = (await (await admin.supervisor.get("/api/admin/routing/queues")).json())["items"]
    assert [(q["name"], q["has_rules"]) for q in items] == [("billing", True), ("default", False)]
    assert items[1]["strategy"] == "longest_idle" and items[1]["offer_timeout_seconds"] == 20


async def test_an_unknown_queue_is_not_found(admin: Admin) -> None:
    response = await admin.supervisor.get("/api/admin/routing/queues/nope")
    assert response.status == 404 and await error_of(response) == "not_found"


@pytest.mark.parametrize(("change", "error"), [
    ({"strategy": "fastest_first"}, "unknown_strategy"),
    ({"overflow": [{"after": 60, "queue": "billing"}]}, "overflow_to_itself"),
    ({"overflow": [{"after": 60, "queue": "nowhere"}]}, "unknown_queue"),
    ({"overflow": [{"after": 60, "queue": "default"}, {"after": 90, "queue": "default"}]},
     "duplicate_overflow"),
    ({"overflow": [{"after": -1, "queue": "default"}]}, "invalid_field"),
    ({"steps": [{"after": 10, "min_proficiency": 6}]}, "invalid_field"),
    ({"steps": [{"after": 10}]}, "invalid_field"),
    ({"targets": {"gold": {"fraction": 0, "seconds": 20}}}, "invalid_field"),
    ({"targets": {"gold": {"fraction": 1.1, "seconds": 20}}}, "invalid_field"),
    ({"targets": {"gold": {"fraction": 0.9, "seconds": 0}}}, "invalid_field"),
    ({"targets": {"bronze": {"fraction": 0.9, "seconds": 20}}}, "unknown_tier"),
    ({"target_fraction": 0}, "invalid_field"),
    ({"target_seconds": 0}, "invalid_field"),
    ({"offer_timeout_seconds": 4}, "invalid_field"),
    ({"offer_timeout_seconds": 601}, "invalid_field"),
    ({"schedule": {"hours": {"mon": [["08:00", "20:00"]]}}}, "bad_schedule"),
    ({"schedule": {"timezone": "Asia/Shanghai", "hours": {"mon": [["8am", "20:00"]]}}}, "bad_schedule"),
    ({"schedule": {"timezone": "Mars/Olympus"}}, "bad_schedule"),
    ({"region": "guangdong//shenzhen"}, "bad_region"),
])
async def test_bad_rules_are_refused_and_nothing_changes(
        admin: Admin, change: dict[str, Any], error: str) -> None:
    response = await put_queue(admin, "billing", {**BILLING, **change})
    assert response.status == 400, await response.text()
    body = await response.json()
    assert body["error"] == error and body["message"]
    assert (await admin.supervisor.get("/api/admin/routing/queues/billing")).status == 404
    assert admin.events == [] and await admin.audit() == []


async def test_a_schedule_error_says_what_to_fix(admin: Admin) -> None:
    response = await put_queue(admin, "billing", {"schedule": {"timezone": "Asia/Shanghai",
                                                               "hours": {"monday": []}}})
    assert (await response.json())["message"] == (
        "schedule: hours: unknown day 'monday' (use mon, tue, wed, thu, fri, sat, sun)")


async def test_a_new_queue_needs_a_plain_name(admin: Admin) -> None:
    response = await put_queue(admin, "bil ling", {})
    assert response.status == 400 and await error_of(response) == "bad_queue_name"


async def test_the_default_queue_cannot_be_deleted(admin: Admin) -> None:
    response = await send(admin.admin, "DELETE", "/api/admin/routing/queues/default")
    assert response.status == 409
    assert (await response.json())["error"] == "queue_protected"


async def test_a_queue_with_open_interactions_cannot_be_deleted(admin: Admin) -> None:
    await put_queue(admin, "web", {})
    await admin.hub.ingest("hello")
    response = await send(admin.admin, "DELETE", "/api/admin/routing/queues/web")
    assert response.status == 409
    body = await response.json()
    assert body["error"] == "queue_in_use"
    assert body["message"].startswith("1 interactions are still open in queue 'web'; close them")


async def test_a_queue_another_overflows_to_cannot_be_deleted(admin: Admin) -> None:
    await put_queue(admin, "billing", {})
    await put_queue(admin, "vip", {"overflow": [{"after": 30, "queue": "billing"}]})
    response = await send(admin.admin, "DELETE", "/api/admin/routing/queues/billing")
    assert response.status == 409
    assert await response.json() == {
        "error": "queue_referenced",
        "message": "queue 'billing' is still named by vip; remove it from their overflow or "
                   "destinations first"}


async def test_deleting_a_queue_removes_its_rules_and_skills(admin: Admin) -> None:
    await put_queue(admin, "billing", BILLING)
    alice = admin.hub.agents["1001"].id
    await send(admin.admin, "PUT", f"/api/admin/routing/agents/{alice}",
               {"skills": [{"queue": "billing"}, {"queue": "default"}]})
    response = await send(admin.admin, "DELETE", "/api/admin/routing/queues/billing")
    assert response.status == 200 and await response.json() == {"ok": True}
    assert (await admin.supervisor.get("/api/admin/routing/queues/billing")).status == 404
    skills = (await (await admin.supervisor.get(f"/api/admin/routing/agents/{alice}")).json())["skills"]
    assert [s["queue"] for s in skills] == ["default"]
    assert "billing" not in admin.hub.core.queue_names
    assert (await admin.audit())[-1] == ("routing.queue.delete", "queue:billing")
    assert admin.events[-1] == {"event": "routing-config", "what": "queues"}
