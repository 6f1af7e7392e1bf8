"""The category tree through the admin API: add, rename, move (never under itself), disable."""

from __future__ import annotations

from typing import Any

from hub.tickets.defaults import DEFAULT_CATEGORIES
from tests.tickets_admin.conftest import Admin

CATEGORIES = "/api/admin/ticket-categories"


async def tree(admin: Admin) -> list[dict[str, Any]]:
    return list((await admin.get(CATEGORIES))["items"])


async def ids(admin: Admin) -> dict[str, int]:
    return {c["code"]: c["id"] for c in await tree(admin)}


async def test_the_seeded_tree_lists_parents_before_children(admin: Admin) -> None:
    listed = await tree(admin)
    assert [c["code"] for c in listed] == [code for top, _en, _zh, children in DEFAULT_CATEGORIES
                                           for code in [top, *(child for child, _e, _z in children)]]
    by_id = {c["id"]: c for c in listed}
    assert by_id[next(c["parent_id"] for c in listed if c["code"] == "signal")]["code"] == "network"


async def test_a_category_is_added_under_a_parent_and_at_the_root(admin: Admin) -> None:
    network = (await ids(admin))["network"]
    indoor = await admin.write("POST", CATEGORIES, {"parent_id": network, "code": "indoor",
                                                    "name_en": "Indoor", "name_zh_cn": "室内"})
    assert indoor["parent_id"] == network and indoor["active"] is True
    root = await admin.write("POST", CATEGORIES, {"code": "fraud", "name_en": "Fraud"})
    assert root["parent_id"] is None
    assert [c["code"] for c in await tree(admin)][-1] == "fraud"
    assert await admin.audit() == [("tickets.category.create", "category:indoor"),
                                   ("tickets.category.create", "category:fraud")]


async def test_a_bad_category_is_refused(admin: Admin) -> None:
    before = await tree(admin)
    orphan = {"parent_id": 999, "code": "x", "name_en": "X"}
    assert await admin.error("POST", CATEGORIES, orphan) == "unknown_parent"
    assert await admin.error("POST", CATEGORIES, {"code": "signal", "name_en": "X"}, 409) == "duplicate_code"
    assert await admin.error("POST", CATEGORIES, {"code": "Bad Code", "name_en": "X"}) == "invalid_field"
    assert await tree(admin) == before


async def test_a_category_is_renamed_moved_and_disabled(admin: Admin) -> None:
    known = await ids(admin)
    path = f"{CATEGORIES}/{known['tariff']}"
    moved = await admin.write("PUT", path, {"parent_id": known["business"], "name_zh_cn": "资费套餐"})
    assert (moved["parent_id"], moved["name_zh_cn"]) == (known["business"], "资费套餐")
    assert moved["name_en"] == "Tariff", "a name left out is kept"
    codes = [c["code"] for c in await tree(admin)]
    assert codes.index("tariff") > codes.index("business")
    assert (await admin.write("PUT", path, {"active": False}))["parent_id"] == known["business"], \
        "a body without parent_id leaves the category where it is"
    to_root = await admin.write("PUT", path, {"parent_id": None})
    assert (to_root["parent_id"], to_root["active"]) == (None, False)
    assert await admin.error("PUT", f"{CATEGORIES}/999", {}, 404) == "not_found"


async def test_a_category_never_moves_under_itself_or_its_descendants(admin: Admin) -> None:
    known = await ids(admin)
    grandchild = await admin.write("POST", CATEGORIES, {"parent_id": known["signal"], "code": "indoor",
                                                        "name_en": "Indoor"})
    before = await tree(admin)
    path = f"{CATEGORIES}/{known['network']}"
    for parent in (known["network"], known["signal"], grandchild["id"]):
        error, message = await admin.refused("PUT", path, {"parent_id": parent})
        assert error == "category_cycle" and "'network'" in message
    assert await admin.error("PUT", path, {"parent_id": 999}) == "unknown_parent"
    assert await tree(admin) == before
    assert (await admin.write("PUT", f"{CATEGORIES}/{grandchild['id']}", {"parent_id": known["network"]}))[
        "parent_id"] == known["network"], "moving up the tree is fine"
