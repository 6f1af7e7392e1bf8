"""Who may act at each step: the role bar (a higher role acts where a lower may) and the units."""

from __future__ import annotations

import pytest

from hub.errors import InvalidRequest
from hub.tickets.templates import Template
from hub.tickets.workflow import Actor, decide, may_act
from tests.tickets_workflow.conftest import (
    ADMIN,
    CENTRE_AGENT,
    CENTRE_DEPT_AGENT,
    CENTRE_SUPERVISOR,
    COUNTY_A_NET,
    COUNTY_B,
    COUNTY_B_AGENT,
    COUNTY_B_SUPERVISOR,
    NET_AGENT,
    NET_SUPERVISOR,
    at,
)


def test_an_agent_of_another_county_cannot_process(standard: Template) -> None:
    ticket = at("process", COUNTY_A_NET)
    assert not may_act(standard, ticket, COUNTY_B_AGENT)
    with pytest.raises(InvalidRequest) as caught:
        decide(standard, ticket, COUNTY_B_AGENT, "advance")
    assert (caught.value.error_id, caught.value.status) == ("not_allowed", 403)
    assert "处理" in caught.value.message and "owns the ticket" in caught.value.message


def test_a_member_of_the_county_department_the_ticket_was_dispatched_to_can(standard: Template) -> None:
    ticket = at("process", COUNTY_A_NET)
    assert may_act(standard, ticket, NET_AGENT)
    assert decide(standard, ticket, NET_AGENT, "advance").to_step == "reply"


def test_a_supervisor_may_act_where_an_agent_may(standard: Template) -> None:
    assert may_act(standard, at("accept"), CENTRE_SUPERVISOR)
    assert may_act(standard, at("process", COUNTY_A_NET), NET_SUPERVISOR)
    assert decide(standard, at("reply", COUNTY_A_NET), ADMIN, "advance").to_step == "feedback"


def test_a_supervisor_step_is_closed_to_agents(standard: Template) -> None:
    assert not may_act(standard, at("review"), CENTRE_AGENT)
    with pytest.raises(InvalidRequest, match="supervisor or above"):
        decide(standard, at("review"), CENTRE_AGENT, "advance")
    assert may_act(standard, at("review"), ADMIN)


def test_a_supervisor_elsewhere_is_still_bound_to_the_units(standard: Template) -> None:
    assert not may_act(standard, at("process", COUNTY_A_NET), COUNTY_B_SUPERVISOR)
    assert not may_act(standard, at("review"), NET_SUPERVISOR)
    assert not may_act(standard, at("process", COUNTY_A_NET), CENTRE_SUPERVISOR)


def test_centre_steps_admit_the_centre_departments(standard: Template) -> None:
    assert may_act(standard, at("accept"), CENTRE_DEPT_AGENT)
    assert not may_act(standard, at("accept"), NET_AGENT)


def test_co_processing_units_may_act_at_owner_steps_only(standard: Template) -> None:
    shared = frozenset({COUNTY_B})
    assert may_act(standard, at("process", COUNTY_A_NET, participants=shared), COUNTY_B_AGENT)
    assert not may_act(standard, at("reply", COUNTY_A_NET, participants=shared), COUNTY_B_AGENT)
    # ... where they may still comment: they are part of the ticket.
    said = decide(standard, at("reply", COUNTY_A_NET, participants=shared), COUNTY_B_AGENT,
                  "comment", opinion="已处理完毕")
    assert said.action == "comment"


def test_a_ticket_nobody_owns_yet_has_no_owner_to_act(standard: Template) -> None:
    assert not may_act(standard, at("process", None), Actor(1, "agent", None, "", False))


def test_a_step_may_name_units_by_code() -> None:
    template = Template.from_json("billing", [
        {"code": "check", "name_en": "Check", "roles": ["agent"], "units": ["billing_dept"],
         "next": ["done"]},
        {"code": "done", "name_en": "Done", "roles": ["agent"], "units": ["centre"], "final": True},
    ])
    billing = Actor(7, "agent", 30, "billing_dept", False)
    assert may_act(template, at("check"), billing)
    assert not may_act(template, at("check"), NET_AGENT)
    assert not may_act(template, at("check"), CENTRE_AGENT)


def test_nobody_acts_at_a_closed_ticket(standard: Template) -> None:
    assert not may_act(standard, at("close", status="closed"), ADMIN)


def test_an_unknown_role_acts_nowhere(standard: Template) -> None:
    assert not may_act(standard, at("accept"), Actor(5, "guest", 1, "centre", True))


@pytest.mark.parametrize("unit", [COUNTY_A_NET, COUNTY_B])
def test_the_fault_repair_unit_responds_and_arrives(fault: Template, unit: int) -> None:
    repairer = NET_AGENT if unit == COUNTY_A_NET else COUNTY_B_AGENT
    ticket = at("dispatch")
    moved = decide(fault, ticket, CENTRE_AGENT, "advance", to_unit=unit)
    assert (moved.to_step, moved.owner_unit_id) == ("respond", unit)
    responded = decide(fault, at("respond", unit), repairer, "advance")
    assert responded.to_step == "arrive"


def test_a_ticket_whose_step_left_the_template_is_listed_but_not_moved(standard: Template) -> None:
    stranded = at("archive", COUNTY_A_NET)
    assert not may_act(standard, stranded, ADMIN)
    with pytest.raises(InvalidRequest) as caught:
        decide(standard, stranded, ADMIN, "advance")
    assert caught.value.error_id == "unknown_step"
