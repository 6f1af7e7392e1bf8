"""The organisation through the admin API: units in a province > city > county tree,
departments, enabling and disabling, and who belongs to which unit."""

from __future__ import annotations

from typing import Any

import pytest

from hub.errors import InvalidRequest
from tests.tickets_admin.conftest import Admin


async def units(admin: Admin) -> dict[str, dict[str, Any]]:
    return {u["code"]: u for u in (await admin.get("/api/admin/units"))["items"]}


async def test_the_seeded_centre_is_the_root(admin: Admin) -> None:
    (centre,) = (await admin.get("/api/admin/units"))["items"]
    assert centre | {"id": 0} == {"id": 0, "parent_id": None, "kind": "province", "code": "centre",
                                  "name": "Province centre", "region": "", "active": True, "members": 0}


async def test_a_tree_is_built_city_county_department(admin: Admin) -> None:
    city = await admin.unit("shenzhen", "city", region="guangdong/shenzhen")
    county = await admin.unit("nanshan", "county", "shenzhen", "guangdong/shenzhen/nanshan")
    await admin.unit("nanshan-network", "department", "nanshan")
    await admin.unit("complaints", "department", "centre")
    listed = (await admin.get("/api/admin/units"))["items"]
    assert [u["code"] for u in listed] == ["centre", "shenzhen", "nanshan", "nanshan-network", "complaints"]
    by_code = {u["code"]: u for u in listed}
    assert by_code["nanshan"]["parent_id"] == city and by_code["nanshan-network"]["parent_id"] == county
    assert by_code["nanshan-network"]["region"] == "guangdong/shenzhen/nanshan", "a department inherits"
    assert await admin.audit() == [("tickets.unit.create", f"unit:{code}") for code in
                                   ("shenzhen", "nanshan", "nanshan-network", "complaints")]


@pytest.mark.parametrize(("kind", "parent", "code", "error", "status"), [
    ("county", "centre", "nanshan", "bad_parent", 400),      # a county sits under a city
    ("city", "shenzhen", "dongguan", "bad_parent", 400),     # a city sits under the province
    ("province", "centre", "other", "bad_parent", 400),      # there is one province
    ("department", "desk", "sub", "bad_parent", 400),        # not under a department
    ("city", "centre", "shenzhen", "duplicate_code", 409),
    ("city", "centre", "Shen Zhen", "invalid_field", 400),
    ("town", "centre", "x", "invalid_field", 400),
])
async def test_a_unit_that_breaks_the_tree_is_refused(
        admin: Admin, kind: str, parent: str, code: str, error: str, status: int) -> None:
    await admin.unit("shenzhen", "city")
    await admin.unit("desk", "department")
    before = await units(admin)
    body = {"parent_id": before[parent]["id"], "kind": kind, "code": code, "name": "X"}
    assert await admin.error("POST", "/api/admin/units", body, status) == error
    assert await units(admin) == before


async def test_an_unknown_parent_and_a_bad_region_are_refused(admin: Admin) -> None:
    body = {"parent_id": 999, "kind": "city", "code": "x", "name": "X"}
    assert await admin.error("POST", "/api/admin/units", body) == "unknown_parent"
    centre = (await units(admin))["centre"]["id"]
    body = {"parent_id": centre, "kind": "city", "code": "x", "name": "X", "region": "guangdong//x"}
    assert await admin.error("POST", "/api/admin/units", body) == "bad_region"


async def test_a_unit_is_renamed_and_moved_to_another_region(admin: Admin) -> None:
    city = await admin.unit("shenzhen", "city")
    reply = await admin.write("PUT", f"/api/admin/units/{city}",
                              {"name": "Shenzhen branch", "region": "guangdong/shenzhen"})
    assert (reply["name"], reply["region"]) == ("Shenzhen branch", "guangdong/shenzhen")
    assert (await units(admin))["shenzhen"] == reply
    assert await admin.error("PUT", f"/api/admin/units/{city}", {"region": "/"}) == "bad_region"
    assert await admin.error("PUT", "/api/admin/units/999", {}, 404) == "not_found"
    assert (await admin.audit())[-1] == ("tickets.unit.update", "unit:shenzhen")


async def test_the_centre_keeps_its_kind_and_stays_enabled(admin: Admin) -> None:
    centre = (await units(admin))["centre"]["id"]
    assert await admin.error("PUT", f"/api/admin/units/{centre}", {"kind": "city"}, 409) == "root_kind"
    assert await admin.error("PUT", f"/api/admin/units/{centre}", {"active": False}, 409) == "root_unit"
    await admin.write("PUT", f"/api/admin/units/{centre}", {"kind": "province", "name": "省客服中心"})
    assert (await units(admin))["centre"]["name"] == "省客服中心"


async def test_a_kind_change_must_keep_the_tree(admin: Admin) -> None:
    await admin.unit("shenzhen", "city")
    county = await admin.unit("nanshan", "county", "shenzhen")
    await admin.unit("network", "department", "nanshan")
    assert await admin.error("PUT", f"/api/admin/units/{county}", {"kind": "department"}, 409) == "bad_kind"
    assert await admin.error("PUT", f"/api/admin/units/{county}", {"kind": "city"}) == "bad_parent"
    assert (await units(admin))["nanshan"]["kind"] == "county"


async def test_a_unit_with_open_tickets_or_enabled_children_stays_enabled(admin: Admin) -> None:
    city = await admin.unit("shenzhen", "city")
    county = await admin.unit("nanshan", "county", "shenzhen")
    ticket = await admin.complaint()
    await admin.act("1001", ticket, "advance")
    await admin.act("9001", ticket, "advance")
    await admin.act("9001", ticket, "advance", to_unit=county)
    await admin.complaint()  # owned by the centre: not nanshan's
    error, message = await admin.refused("PUT", f"/api/admin/units/{county}", {"active": False}, 409)
    assert error == "unit_has_tickets" and "owns 1 open tickets" in message
    error, _ = await admin.refused("PUT", f"/api/admin/units/{city}", {"active": False}, 409)
    assert error == "unit_has_children"
    assert all(u["active"] for u in (await units(admin)).values())


async def test_a_disabled_unit_takes_no_tickets_and_no_people(admin: Admin) -> None:
    await admin.unit("shenzhen", "city")
    county = await admin.unit("nanshan", "county", "shenzhen")
    assert (await admin.write("PUT", f"/api/admin/units/{county}", {"active": False}))["active"] is False
    ticket = await admin.complaint()
    await admin.act("1001", ticket, "advance")
    await admin.act("9001", ticket, "advance")
    with pytest.raises(InvalidRequest) as refused:
        await admin.act("9001", ticket, "advance", to_unit=county)
    assert refused.value.error_id == "unknown_unit"
    person = await admin.person("2001")
    body = {"unit_id": county}
    assert await admin.error("PUT", f"/api/admin/agents/{person.id}/unit", body) == "unknown_unit"
    body = {"parent_id": county, "kind": "department", "code": "net", "name": "Net"}
    assert await admin.error("POST", "/api/admin/units", body, 409) == "parent_inactive"


# People


async def test_an_agent_is_put_in_a_unit_moved_and_taken_out(admin: Admin) -> None:
    city = await admin.unit("shenzhen", "city")
    county = await admin.unit("nanshan", "county", "shenzhen")
    person = await admin.person("2001")
    path = f"/api/admin/agents/{person.id}/unit"
    reply = await admin.write("PUT", path, {"unit_id": city})
    assert reply == {"agent_id": person.id, "number": "2001", "name": "Person 2001", "unit_id": city,
                     "unit_code": "shenzhen"}
    await admin.write("PUT", path, {"unit_id": county})
    listed = await units(admin)
    assert (listed["shenzhen"]["members"], listed["nanshan"]["members"]) == (0, 1)
    assert (await admin.write("PUT", path, {"unit_id": None}))["unit_code"] is None
    assert (await units(admin))["nanshan"]["members"] == 0
    assert await admin.error("PUT", path, {}) == "invalid_field", "unit_id must be said, even null"
    assert await admin.error("PUT", "/api/admin/agents/999/unit", {"unit_id": None}, 404) == "not_found"
    assert [a for a in await admin.audit() if a[0] == "tickets.agent.unit"] == [
        ("tickets.agent.unit", "agent:2001")] * 3


async def test_an_agent_moved_into_a_county_processes_what_is_dispatched_to_it(admin: Admin) -> None:
    await admin.unit("shenzhen", "city", region="guangdong/shenzhen")
    county = await admin.unit("nanshan", "county", "shenzhen", "guangdong/shenzhen/nanshan")
    chen = await admin.person("2001")
    ticket = await admin.complaint()
    await admin.act("1001", ticket, "advance")                    # accept -> review
    await admin.act("9001", ticket, "advance")                    # review -> dispatch
    ticket = await admin.act("9001", ticket, "advance", to_unit=county)
    assert (ticket.step, ticket.owner_unit_id) == ("process", county)
    with pytest.raises(InvalidRequest) as refused:
        await admin.act(chen, ticket, "advance")                  # in no unit: the centre's
    assert refused.value.error_id == "not_allowed"
    await admin.write("PUT", f"/api/admin/agents/{chen.id}/unit", {"unit_id": county})
    ticket = await admin.act(chen, ticket, "advance", opinion="line repaired")
    assert ticket.step == "reply"
