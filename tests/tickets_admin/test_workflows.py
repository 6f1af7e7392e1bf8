"""Workflow templates through the admin API: checked by the workflow engine, and never
changed so that an open ticket is left at a step its workflow no longer has."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hub.tickets.defaults import DEFAULT_TEMPLATES, STANDARD
from tests.tickets_admin.conftest import Admin

WORKFLOW = "/api/admin/workflows"


def body(steps: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {"name_en": "Standard work order", "name_zh_cn": "标准工单流程", "steps": steps,
            "overall_minutes": 7200, **fields}


def without_review() -> list[dict[str, Any]]:
    """The standard workflow with accept going straight to dispatch."""
    steps = [copy.deepcopy(step) for step in STANDARD if step["code"] != "review"]
    steps[0]["next"] = ["dispatch"]
    return steps


async def test_the_seeded_workflows_are_listed_with_their_types(admin: Admin) -> None:
    items = (await admin.get(WORKFLOW))["items"]
    assert [w["code"] for w in items] == sorted(t["code"] for t in DEFAULT_TEMPLATES)
    standard = await admin.get(f"{WORKFLOW}/standard")
    assert standard == next(w for w in items if w["code"] == "standard")
    assert standard["types"] == ["appeal", "complaint"]
    assert standard["steps"] == STANDARD and standard["overall_minutes"] == 7200
    assert standard["level_percent"] == {"complex": 200, "major_urgent": 25}


async def test_a_new_workflow_is_stored_in_its_checked_form(admin: Admin) -> None:
    steps = [{"code": "accept", "name_en": "Accept", "roles": ["agent"], "units": ["centre"],
              "deadline_minutes": 20, "next": ["close"]},
             {"code": "close", "name_en": "Close", "roles": ["agent"], "units": ["centre"], "final": True}]
    reply = await admin.write("PUT", f"{WORKFLOW}/quick", body(steps, name_en="Quick", overall_minutes=None))
    assert [s["code"] for s in reply["steps"]] == ["accept", "close"]
    assert reply["steps"][1] == {"code": "close", "name_en": "Close", "name_zh_cn": "", "roles": ["agent"],
                                 "units": ["centre"], "deadline_minutes": None, "next": [],
                                 "return_to": [], "transfer": False, "dispatch": False, "final": True,
                                 "reopen": False}
    assert reply["types"] == [] and await admin.get(f"{WORKFLOW}/quick") == reply
    await admin.write("PUT", f"{WORKFLOW}/quick", body(steps, name_en="Quick two"))
    assert await admin.audit() == [("tickets.workflow.create", "workflow:quick"),
                                   ("tickets.workflow.update", "workflow:quick")]


@pytest.mark.parametrize(("change", "words"), [
    (lambda s: s[-1].update(final=False), "no step is final"),
    (lambda s: s[0].update(next=["nowhere"]), "names unknown step 'nowhere'"),
    (lambda s: s[0].update(roles=["boss"]), "roles must list who may act"),
    (lambda s: s[1].update(return_to=["feedback"]), "does not come before it"),
    (lambda s: s[2].update(colour="red"), "unknown key 'colour'"),
    (lambda s: s[3].update(deadline_minutes=0), "deadline_minutes"),
])
async def test_a_broken_workflow_is_refused_with_the_engines_words(admin: Admin, change: Any,
                                                                   words: str) -> None:
    steps = copy.deepcopy(STANDARD)
    change(steps)
    error, message = await admin.refused("PUT", f"{WORKFLOW}/standard", body(steps))
    assert error == "bad_workflow" and words in message, message
    assert (await admin.get(f"{WORKFLOW}/standard"))["steps"] == STANDARD
    assert await admin.audit() == []


async def test_deadlines_by_level_are_stored_and_checked(admin: Admin) -> None:
    path = f"{WORKFLOW}/standard"
    reply = await admin.write("PUT", path, body(STANDARD, level_percent={"major_urgent": 50}))
    assert reply["level_percent"] == {"major_urgent": 50}
    for wrong, words in (({"major_urgent": 0}, "from 1 to 1000"), ({"Major": 50}, "not a level code"),
                         ({"complex": 1001}, "from 1 to 1000")):
        error, message = await admin.refused("PUT", path, body(STANDARD, level_percent=wrong))
        assert error == "bad_workflow" and words in message, message
    assert (await admin.get(path))["level_percent"] == {"major_urgent": 50}


async def test_bad_codes_and_names_are_refused(admin: Admin) -> None:
    assert await admin.error("PUT", f"{WORKFLOW}/Bad-Code", body(STANDARD)) == "bad_workflow_code"
    path = f"{WORKFLOW}/standard"
    assert await admin.error("PUT", path, body(STANDARD, name_en="")) == "invalid_field"
    assert await admin.error("PUT", path, body([])) == "bad_workflow"
    assert await admin.error("PUT", path, body(STANDARD, overall_minutes=-5)) == "bad_workflow"
    assert await admin.error("GET", f"{WORKFLOW}/missing", None, 404) == "not_found"


async def test_a_step_may_name_only_units_that_exist(admin: Admin) -> None:
    steps = copy.deepcopy(STANDARD)
    steps[3]["units"] = ["owner", "nanshan-network"]
    error, message = await admin.refused("PUT", f"{WORKFLOW}/standard", body(steps))
    assert error == "unknown_unit" and "'nanshan-network'" in message
    await admin.unit("shenzhen", "city")
    await admin.unit("nanshan", "county", "shenzhen")
    await admin.unit("nanshan-network", "department", "nanshan")
    reply = await admin.write("PUT", f"{WORKFLOW}/standard", body(steps))
    assert reply["steps"][3]["units"] == ["owner", "nanshan-network"]


async def test_a_step_open_tickets_are_at_is_not_removed(admin: Admin) -> None:
    ticket = await admin.complaint()
    await admin.act("1001", ticket, "advance")               # at review now
    await admin.complaint()                                  # at accept: kept by the new version
    error, message = await admin.refused("PUT", f"{WORKFLOW}/standard", body(without_review()), 409)
    assert error == "step_in_use" and "1 open tickets are at step 'review'" in message
    assert (await admin.get(f"{WORKFLOW}/standard"))["steps"] == STANDARD
    await admin.act("9001", ticket, "advance")               # moved on to dispatch
    reply = await admin.write("PUT", f"{WORKFLOW}/standard", body(without_review()))
    assert "review" not in [s["code"] for s in reply["steps"]]
    assert (await admin.act("9001", ticket, "advance", to_unit=ticket.owner_unit_id)).step == "process"


async def test_other_changes_apply_while_tickets_are_open(admin: Admin) -> None:
    ticket = await admin.complaint()
    steps = copy.deepcopy(STANDARD)
    steps[0]["deadline_minutes"] = 5                          # accept: from 30 to 5 minutes
    steps[0]["name_zh_cn"] = "登记"
    await admin.write("PUT", f"{WORKFLOW}/standard", body(steps))
    moved = await admin.act("1001", ticket, "advance")
    assert moved.step == "review"


async def test_a_closed_ticket_does_not_hold_its_step(admin: Admin) -> None:
    ticket = await admin.complaint()
    for who, kwargs in [("1001", {}), ("9001", {}), ("9001", {"to_unit": ticket.owner_unit_id}),
                        ("1001", {}), ("1001", {}), ("1001", {})]:
        ticket = await admin.act(who, ticket, "advance", **kwargs)
    ticket = await admin.act("1001", ticket, "close")
    assert (ticket.status, ticket.step) == ("closed", "close")
    steps = copy.deepcopy(STANDARD)
    steps[-2]["next"] = ["done"]
    steps[-1] |= {"code": "done", "name_en": "Done"}
    reply = await admin.write("PUT", f"{WORKFLOW}/standard", body(steps))
    assert reply["steps"][-1]["code"] == "done"
    reopened = await admin.act("9001", ticket, "reopen", opinion="the customer called again")
    assert (reopened.status, reopened.step) == ("open", "process")
