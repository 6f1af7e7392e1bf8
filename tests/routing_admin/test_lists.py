"""Region prefixes, the blocklist, entry rules and strategies through the admin API."""

from __future__ import annotations

from typing import Any

import pytest

from tests.routing_admin.conftest import Admin, error_of, send

PREFIXES = "/api/admin/routing/prefixes"
BLOCKLIST = "/api/admin/routing/blocklist"
RULES = "/api/admin/routing/entry-rules"


async def get(admin: Admin, path: str) -> Any:
    response = await admin.supervisor.get(path)
    assert response.status == 200, await response.text()
    return await response.json()


# Prefixes


async def test_fifty_thousand_prefixes_in_one_request(admin: Admin) -> None:
    batch = {f"13{n:05d}": f"province_{n % 31}/city_{n % 7}" for n in range(50_000)}
    response = await send(admin.admin, "PUT", PREFIXES, {"prefixes": batch})
    assert response.status == 200, await response.text()
    assert await response.json() == {"stored": 50_000}
    again = await send(admin.admin, "PUT", PREFIXES, {"prefixes": {"1300000": "beijing"}})
    assert (await again.json()) == {"stored": 1}
    first = await get(admin, f"{PREFIXES}?limit=2")
    assert first == {"items": [{"prefix": "1300000", "region": "beijing"},
                               {"prefix": "1300001", "region": "province_1/city_1"}],
                     "next": "1300001"}
    last = await get(admin, f"{PREFIXES}?after=1349998&limit=5")
    assert last == {"items": [{"prefix": "1349999", "region": "province_27/city_5"}], "next": None}
    assert await admin.audit() == [("routing.prefixes.update", "prefixes")] * 2
    assert admin.events == [{"event": "routing-config", "what": "prefixes"}] * 2


@pytest.mark.parametrize(("prefixes", "error"), [
    ({"0755a": "guangdong/shenzhen"}, "bad_prefix"),
    ({"+86755": "guangdong/shenzhen"}, "bad_prefix"),
    ({"0086755": "guangdong/shenzhen"}, "bad_prefix"),
    ({"1" * 21: "somewhere"}, "bad_prefix"),
    ({"0755": ""}, "bad_prefix"),
    ({str(n): "x" for n in range(50_001)}, "invalid_field"),
])
async def test_bad_prefixes_are_refused(admin: Admin, prefixes: dict[str, str], error: str) -> None:
    response = await send(admin.admin, "PUT", PREFIXES, {"prefixes": prefixes})
    assert response.status == 400 and await error_of(response) == error
    assert (await get(admin, PREFIXES))["items"] == [] and admin.events == []


async def test_a_prefix_error_says_what_to_write(admin: Admin) -> None:
    response = await send(admin.admin, "PUT", PREFIXES, {"prefixes": {"0086755": "guangdong/shenzhen"}})
    assert (await response.json())["message"] == (
        "prefix '0086755': numbers are compared without 0086; write '0755'")


async def test_a_prefix_is_deleted(admin: Admin) -> None:
    both = {"0755": "guangdong/shenzhen", "020": "guangdong/guangzhou"}
    await send(admin.admin, "PUT", PREFIXES, {"prefixes": both})
    assert (await send(admin.admin, "DELETE", f"{PREFIXES}/0755")).status == 200
    assert (await get(admin, PREFIXES))["items"] == [{"prefix": "020", "region": "guangdong/guangzhou"}]
    missing = await send(admin.admin, "DELETE", f"{PREFIXES}/0755")
    assert missing.status == 404
    assert (await admin.audit())[-1] == ("routing.prefix.delete", "prefix:0755")


async def test_a_bad_page_is_refused(admin: Admin) -> None:
    for query in ("limit=0", "limit=10001", "limit=ten", "offset=-1"):
        response = await admin.supervisor.get(f"{BLOCKLIST}?{query}")
        assert response.status == 400 and await error_of(response) == "bad_page", query


# Blocklist


async def test_block_list_and_unblock_an_address(admin: Admin) -> None:
    sent = {"kind": "phone", "address": "+8613800000001", "reason": "abusive caller"}
    response = await send(admin.admin, "POST", BLOCKLIST, sent)
    assert response.status == 200, await response.text()
    stored = await response.json()
    assert {k: stored[k] for k in sent} == sent and stored["created_by"] == admin.hub.agents["8001"].id
    await send(admin.admin, "POST", BLOCKLIST, {**sent, "reason": "threats"})
    page = await get(admin, f"{BLOCKLIST}?kind=phone")
    assert [(b["address"], b["reason"]) for b in page["items"]] == [("+8613800000001", "threats")]
    assert page["next"] is None
    response = await send(admin.admin, "DELETE", f"{BLOCKLIST}/phone/%2B8613800000001")
    assert response.status == 200
    assert (await get(admin, BLOCKLIST))["items"] == []
    assert [a for a, _ in await admin.audit()] == ["routing.block.add"] * 2 + ["routing.block.remove"]
    assert (await admin.audit())[0] == ("routing.block.add", "phone:+8613800000001")
    assert admin.events == [{"event": "routing-config", "what": "blocklist"}] * 3


@pytest.mark.parametrize("body", [
    {"kind": "Phone", "address": "1"}, {"kind": "phone", "address": ""},
    {"kind": "phone", "address": "1", "reason": "x" * 201},
])
async def test_a_bad_blocking_is_refused(admin: Admin, body: dict[str, str]) -> None:
    response = await send(admin.admin, "POST", BLOCKLIST, body)
    assert response.status == 400 and await error_of(response) == "invalid_field"


async def test_unblocking_an_address_not_blocked_is_not_found(admin: Admin) -> None:
    response = await send(admin.admin, "DELETE", f"{BLOCKLIST}/phone/123")
    assert response.status == 404 and await error_of(response) == "not_found"


# Entry rules

SPLIT = {"entry": "95555", "position": 10, "areas": ["guangdong", "0755"],
         "window": {"days": ["mon", "tue"], "from": "08:00", "to": "20:00", "timezone": "Asia/Shanghai"},
         "action": "route",
         "destinations": [{"queue": "default", "weight": 3}, {"queue": "billing", "weight": 1}],
         "message": "", "active": True}


async def test_entry_rules_are_added_replaced_and_removed(admin: Admin) -> None:
    await send(admin.admin, "PUT", "/api/admin/routing/queues/billing", {})
    response = await send(admin.admin, "POST", RULES, SPLIT)
    assert response.status == 200, await response.text()
    rule = await response.json()
    assert rule == {**SPLIT, "id": rule["id"]}
    block = {"entry": "*", "areas": ["xinjiang"], "action": "block", "message": "Not served here."}
    added = await (await send(admin.admin, "POST", RULES, block)).json()
    changed = {**SPLIT, "active": False, "destinations": [{"queue": "billing", "weight": 1}]}
    response = await send(admin.admin, "PUT", f"{RULES}/{rule['id']}", changed)
    assert response.status == 200 and await response.json() == {**changed, "id": rule["id"]}
    listed = (await get(admin, RULES))["items"]
    assert [r["id"] for r in listed] == [added["id"], rule["id"]], "by entry, then position"
    assert (await send(admin.admin, "DELETE", f"{RULES}/{added['id']}")).status == 200
    assert [r["id"] for r in (await get(admin, RULES))["items"]] == [rule["id"]]
    assert [a for a, _ in await admin.audit()][1:] == [
        "routing.entry_rule.create", "routing.entry_rule.create", "routing.entry_rule.update",
        "routing.entry_rule.delete"]
    assert admin.events[1:] == [{"event": "routing-config", "what": "entry-rules"}] * 4


@pytest.mark.parametrize(("change", "error"), [
    ({"destinations": []}, "bad_entry_rule"),
    ({"destinations": [{"queue": "nowhere", "weight": 1}]}, "unknown_queue"),
    ({"destinations": [{"queue": "default", "weight": 0}]}, "invalid_field"),
    ({"window": {"from": "08:00"}}, "bad_entry_rule"),
    ({"window": {"days": ["someday"], "timezone": "Asia/Shanghai"}}, "bad_entry_rule"),
    ({"areas": ["guangdong//"]}, "bad_entry_rule"),
    ({"action": "drop"}, "invalid_field"),
])
async def test_bad_entry_rules_are_refused(admin: Admin, change: dict[str, Any], error: str) -> None:
    body = {**SPLIT, "destinations": [{"queue": "default", "weight": 1}], **change}
    response = await send(admin.admin, "POST", RULES, body)
    assert response.status == 400, await response.text()
    assert await error_of(response) == error
    assert (await get(admin, RULES))["items"] == []


async def test_an_entry_rule_error_says_what_to_fix(admin: Admin) -> None:
    response = await send(admin.admin, "POST", RULES, {**SPLIT, "destinations": []})
    assert (await response.json())["message"] == (
        "entry rule 0: a route rule needs at least one destination queue")


async def test_a_missing_entry_rule_is_not_found(admin: Admin) -> None:
    for method in ("PUT", "DELETE"):
        response = await send(admin.admin, method, f"{RULES}/999", SPLIT)
        assert response.status == 404 and await error_of(response) == "not_found"


# Strategies


async def test_strategies_list_the_built_in_ones_and_the_plugins(admin: Admin) -> None:
    items = (await get(admin, "/api/admin/routing/strategies"))["items"]
    assert {s["name"]: s["source"] for s in items} == {
        "fewest_contacts": "built-in", "fewest_missed": "FewestMissed", "least_talk_time": "built-in",
        "longest_idle": "built-in", "random": "built-in", "round_robin": "built-in",
        "top_down": "built-in"}
