"""Ticket types through the admin API: their workflow, their own choices and their link."""

from __future__ import annotations

from typing import Any

import pytest

from hub.errors import InvalidRequest
from hub.tickets.defaults import DEFAULT_TYPES
from tests.tickets_admin.conftest import Admin

TYPES = "/api/admin/ticket-types"


def body(**fields: Any) -> dict[str, Any]:
    return {"name_en": "Praise", "name_zh_cn": "表扬", "template": "simple",
            "fields": {"kind": ["staff", "network"]}, "links": "", "active": True, **fields}


async def types(admin: Admin) -> dict[str, dict[str, Any]]:
    return {t["code"]: t for t in (await admin.get(TYPES))["items"]}


async def test_the_seeded_types_are_listed(admin: Admin) -> None:
    listed = await types(admin)
    assert sorted(listed) == sorted(t["code"] for t in DEFAULT_TYPES)
    assert listed["appeal"]["links"] == "complaint" and listed["appeal"]["template"] == "standard"


async def test_a_type_is_created_then_replaced(admin: Admin) -> None:
    reply = await admin.write("PUT", f"{TYPES}/praise", body())
    assert reply == {"code": "praise", **body()}
    changed = await admin.write("PUT", f"{TYPES}/praise", body(template="standard", links="complaint",
                                                               fields={}))
    assert (await types(admin))["praise"] == changed
    assert await admin.audit() == [("tickets.type.create", "type:praise"),
                                   ("tickets.type.update", "type:praise")]


@pytest.mark.parametrize(("fields", "error"), [
    ({"template": "nowhere"}, "unknown_workflow"),
    ({"links": "nothing"}, "unknown_type"),
    ({"fields": {"kind": ["staff", "staff"]}}, "duplicate_choice"),
    ({"fields": {"colour": ["red"]}}, "invalid_field"),
    ({"fields": {"kind": ["Has Space"]}}, "invalid_field"),
    ({"name_en": ""}, "invalid_field"),
])
async def test_a_bad_type_is_refused(admin: Admin, fields: dict[str, Any], error: str) -> None:
    assert await admin.error("PUT", f"{TYPES}/praise", body(**fields)) == error
    assert "praise" not in await types(admin)
    assert await admin.error("PUT", f"{TYPES}/Praise!", body()) == "bad_type_code"


async def test_the_types_choices_bind_new_tickets(admin: Admin) -> None:
    await admin.write("PUT", f"{TYPES}/complaint", body(name_en="Complaint", template="standard",
                                                        fields={"level": ["general"], "kind": ["tariff"]}))
    with pytest.raises(InvalidRequest) as refused:
        await admin.complaint(kind="network")
    assert refused.value.error_id == "bad_choice"
    assert (await admin.complaint(kind="tariff")).kind == "tariff"


async def test_a_type_with_open_tickets_stays_enabled(admin: Admin) -> None:
    ticket = await admin.complaint()
    complaint = {**(await types(admin))["complaint"]}
    del complaint["code"]
    error, message = await admin.refused("PUT", f"{TYPES}/complaint", {**complaint, "active": False}, 409)
    assert error == "type_in_use" and "1 open tickets" in message
    await admin.act("1001", ticket, "advance")
    assert (await admin.act("9001", ticket, "advance")).step == "dispatch", "still acted on"


async def test_a_type_moves_to_a_workflow_only_if_its_open_tickets_steps_exist_there(admin: Admin) -> None:
    ticket = await admin.complaint()
    complaint = {k: v for k, v in (await types(admin))["complaint"].items() if k != "code"}
    await admin.act("1001", ticket, "advance")                         # at review: simple has none
    simple = {**complaint, "template": "simple"}
    error, message = await admin.refused("PUT", f"{TYPES}/complaint", simple, 409)
    assert error == "step_in_use" and "step 'review'" in message
    await admin.act("9001", ticket, "return", opinion="fill in the address")  # back at accept
    await admin.write("PUT", f"{TYPES}/complaint", simple)
    assert (await admin.act("1001", ticket, "advance")).step == "process", "simple's accept leads to process"
