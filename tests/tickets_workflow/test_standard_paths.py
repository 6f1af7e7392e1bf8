"""Every path through the standard workflow (投诉 and 申诉): accept, review, dispatch, process,
reply, feedback, close; returns with a reason, transfers, co-processing and reopening."""

from __future__ import annotations

import pytest

from hub.errors import InvalidRequest
from hub.tickets.defaults import DEFAULT_TYPES
from hub.tickets.templates import Template
from hub.tickets.workflow import decide
from tests.tickets_workflow.conftest import (
    CENTRE,
    CENTRE_AGENT,
    CENTRE_SUPERVISOR,
    COUNTY_A_NET,
    COUNTY_B,
    COUNTY_B_AGENT,
    COUNTY_B_SUPERVISOR,
    NET_AGENT,
    NET_COLLEAGUE,
    NET_SUPERVISOR,
    act,
    at,
)


def refused(error_id: str, template: Template, ticket, actor, action: str, **kwargs) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        decide(template, ticket, actor, action, **kwargs)
    assert caught.value.error_id == error_id, caught.value.message
    return caught.value


def test_a_complaint_travels_from_acceptance_to_close(standard: Template) -> None:
    ticket = at("accept")
    ticket = act(standard, ticket, CENTRE_AGENT, "advance")
    assert ticket.step == "review"
    ticket = act(standard, ticket, CENTRE_SUPERVISOR, "advance")
    assert ticket.step == "dispatch"

    dispatched = decide(standard, ticket, CENTRE_SUPERVISOR, "advance", to_unit=COUNTY_A_NET)
    assert (dispatched.action, dispatched.to_step, dispatched.owner_unit_id) == (
        "dispatch", "process", COUNTY_A_NET)
    assert dispatched.restart_deadline

    ticket = act(standard, at("process", COUNTY_A_NET), NET_AGENT, "take")
    assert ticket.handler_id == NET_AGENT.agent_id
    ticket = act(standard, ticket, NET_AGENT, "advance")
    assert (ticket.step, ticket.owner_unit_id, ticket.handler_id) == ("reply", COUNTY_A_NET, None)
    ticket = act(standard, ticket, CENTRE_AGENT, "advance")
    assert ticket.step == "feedback"
    ticket = act(standard, ticket, CENTRE_AGENT, "advance")
    assert ticket.step == "close"

    closed = decide(standard, ticket, CENTRE_AGENT, "close")
    assert (closed.action, closed.status, closed.to_step, closed.restart_deadline) == (
        "close", "closed", "close", False)


def test_every_step_change_restarts_the_deadline_and_clears_the_handler(standard: Template) -> None:
    moved = decide(standard, at("accept", handler=CENTRE_AGENT.agent_id), CENTRE_AGENT, "advance")
    assert moved.restart_deadline and moved.handler_id is None


def test_the_dispatch_step_needs_the_unit_that_takes_the_ticket_over(standard: Template) -> None:
    error = refused("unit_required", standard, at("dispatch"), CENTRE_SUPERVISOR, "advance")
    assert "派单" in error.message


def test_a_step_that_does_not_dispatch_takes_no_unit(standard: Template) -> None:
    refused("bad_unit", standard, at("accept"), CENTRE_AGENT, "advance", to_unit=COUNTY_B)


def test_advance_goes_only_to_a_next_step(standard: Template) -> None:
    error = refused("bad_step", standard, at("accept"), CENTRE_AGENT, "advance", to_step="process")
    assert "review" in error.message


def test_review_returns_to_acceptance_with_a_reason(standard: Template) -> None:
    returned = decide(standard, at("review"), CENTRE_SUPERVISOR, "return", to_step="accept",
                      opinion="写清楚客户的诉求")
    assert (returned.action, returned.to_step, returned.restart_deadline) == ("return", "accept", True)


def test_a_return_without_a_reason_is_refused(standard: Template) -> None:
    refused("reason_required", standard, at("review"), CENTRE_SUPERVISOR, "return",
            to_step="accept", opinion="   ")


def test_a_return_goes_only_to_an_earlier_step_the_template_names(standard: Template) -> None:
    ticket = at("process", COUNTY_A_NET)
    refused("bad_step", standard, ticket, NET_AGENT, "return", to_step="accept", opinion="wrong")
    refused("bad_step", standard, at("dispatch"), CENTRE_SUPERVISOR, "return", opinion="no way back")


def test_processing_returns_the_ticket_to_dispatch(standard: Template) -> None:
    ticket = at("process", COUNTY_A_NET, handler=NET_AGENT.agent_id)
    returned = decide(standard, ticket, NET_AGENT, "return", opinion="不属于本单位，请重新派单")
    assert (returned.to_step, returned.owner_unit_id, returned.handler_id) == (
        "dispatch", COUNTY_A_NET, None)
    # The service names the unit when the ticket goes back to the centre that dispatched it.
    back = decide(standard, ticket, NET_AGENT, "return", opinion="不属于本单位", to_unit=CENTRE)
    assert back.owner_unit_id == CENTRE
    # and the centre dispatches it again, to the right county this time.
    redispatched = decide(standard, at("dispatch", CENTRE), CENTRE_SUPERVISOR, "advance",
                          to_unit=COUNTY_B)
    assert (redispatched.to_step, redispatched.owner_unit_id) == ("process", COUNTY_B)


def test_processing_transfers_the_ticket_to_another_unit(standard: Template) -> None:
    ticket = at("process", COUNTY_A_NET, handler=NET_AGENT.agent_id)
    moved = decide(standard, ticket, NET_AGENT, "transfer", to_unit=COUNTY_B, opinion="用户在B县")
    assert (moved.action, moved.to_step, moved.owner_unit_id, moved.handler_id) == (
        "transfer", "process", COUNTY_B, None)
    assert moved.restart_deadline
    after = act(standard, ticket, NET_AGENT, "transfer", to_unit=COUNTY_B, opinion="用户在B县")
    assert act(standard, after, COUNTY_B_AGENT, "advance").step == "reply"


def test_a_transfer_needs_another_unit_and_a_reason(standard: Template) -> None:
    ticket = at("process", COUNTY_A_NET)
    refused("unit_required", standard, ticket, NET_AGENT, "transfer", opinion="elsewhere")
    refused("same_unit", standard, ticket, NET_AGENT, "transfer", to_unit=COUNTY_A_NET, opinion="x")
    refused("reason_required", standard, ticket, NET_AGENT, "transfer", to_unit=COUNTY_B)


def test_steps_without_transfer_refuse_it(standard: Template) -> None:
    refused("transfer_not_allowed", standard, at("review"), CENTRE_SUPERVISOR, "transfer",
            to_unit=COUNTY_B, opinion="x")


def test_a_co_processing_unit_comments_while_the_owner_moves_the_ticket(standard: Template) -> None:
    ticket = at("process", COUNTY_A_NET, handler=NET_AGENT.agent_id)
    cc = decide(standard, ticket, NET_AGENT, "cc", to_unit=COUNTY_B, opinion="请协助核查基站")
    assert (cc.action, cc.to_step, cc.owner_unit_id, cc.handler_id, cc.restart_deadline) == (
        "cc", "process", COUNTY_A_NET, NET_AGENT.agent_id, False)
    ticket = act(standard, ticket, NET_AGENT, "cc", to_unit=COUNTY_B, opinion="请协助核查基站")
    assert ticket.participants == {COUNTY_B}

    said = decide(standard, ticket, COUNTY_B_AGENT, "comment", opinion="基站已恢复")
    assert (said.action, said.to_step, said.restart_deadline) == ("comment", "process", False)
    refused("not_allowed", standard, ticket, COUNTY_B_SUPERVISOR, "advance")
    refused("not_allowed", standard, ticket, COUNTY_B_AGENT, "take")
    refused("already_participant", standard, ticket, NET_AGENT, "cc", to_unit=COUNTY_B)
    refused("already_participant", standard, ticket, NET_AGENT, "cc", to_unit=COUNTY_A_NET)


def test_co_processing_is_asked_for_only_where_the_owner_works(standard: Template) -> None:
    refused("cc_not_allowed", standard, at("reply", COUNTY_A_NET), CENTRE_AGENT, "cc",
            to_unit=COUNTY_B)
    refused("unit_required", standard, at("process", COUNTY_A_NET), NET_AGENT, "cc")


def test_a_comment_needs_words_and_a_place_in_the_ticket(standard: Template) -> None:
    ticket = at("process", COUNTY_A_NET)
    refused("comment_required", standard, ticket, NET_AGENT, "comment", opinion=" ")
    refused("not_allowed", standard, ticket, COUNTY_B_AGENT, "comment", opinion="not mine")


def test_a_ticket_is_closed_only_at_a_final_step(standard: Template) -> None:
    error = refused("not_final", standard, at("feedback"), CENTRE_AGENT, "close")
    assert error.status == 409


def test_the_last_step_does_not_advance(standard: Template) -> None:
    refused("bad_step", standard, at("close"), CENTRE_AGENT, "advance")


def test_a_closed_complaint_reopens_at_processing_in_its_unit(standard: Template) -> None:
    closed = at("close", COUNTY_A_NET, handler=CENTRE_AGENT.agent_id, status="closed")
    reopened = decide(standard, closed, CENTRE_AGENT, "reopen", opinion="客户反映问题未解决")
    assert (reopened.action, reopened.to_step, reopened.status) == ("reopen", "process", "open")
    assert (reopened.owner_unit_id, reopened.handler_id, reopened.restart_deadline) == (
        COUNTY_A_NET, None, True)
    ticket = act(standard, closed, CENTRE_AGENT, "reopen", opinion="客户反映问题未解决")
    assert act(standard, ticket, NET_AGENT, "advance").step == "reply"


def test_a_supervisor_may_reopen_to_a_step_they_choose(standard: Template) -> None:
    closed = at("close", COUNTY_A_NET, status="closed")
    assert decide(standard, closed, NET_SUPERVISOR, "reopen", to_step="review",
                  opinion="重新复核").to_step == "review"
    refused("bad_step", standard, closed, CENTRE_SUPERVISOR, "reopen", to_step="close", opinion="x")
    refused("unknown_step", standard, closed, CENTRE_SUPERVISOR, "reopen", to_step="nowhere",
            opinion="x")


def test_only_the_centre_or_a_supervisor_reopens_and_says_why(standard: Template) -> None:
    closed = at("close", COUNTY_A_NET, status="closed")
    refused("not_allowed", standard, closed, NET_AGENT, "reopen", opinion="again")
    refused("reason_required", standard, closed, CENTRE_AGENT, "reopen")
    refused("not_closed", standard, at("process", COUNTY_A_NET), CENTRE_SUPERVISOR, "reopen",
            opinion="x")


@pytest.mark.parametrize("action", ["advance", "return", "transfer", "cc", "close", "comment", "take"])
def test_a_closed_ticket_accepts_nothing_but_reopen(standard: Template, action: str) -> None:
    error = refused("ticket_closed", standard, at("close", COUNTY_A_NET, status="closed"),
                    CENTRE_SUPERVISOR, action, opinion="x", to_unit=COUNTY_B)
    assert error.status == 409


def test_an_unknown_action_is_refused_with_the_list(standard: Template) -> None:
    assert "advance" in refused("unknown_action", standard, at("accept"), CENTRE_AGENT, "escalate").message


def test_a_taken_ticket_moves_only_for_its_handler_or_a_supervisor(standard: Template) -> None:
    ticket = at("process", COUNTY_A_NET, handler=NET_AGENT.agent_id)
    colleague = refused("not_allowed", standard, ticket, NET_COLLEAGUE, "advance")
    assert f"#{NET_AGENT.agent_id}" in colleague.message
    refused("not_allowed", standard, ticket, NET_COLLEAGUE, "take")
    assert decide(standard, ticket, NET_SUPERVISOR, "take").handler_id == NET_SUPERVISOR.agent_id
    refused("already_handler", standard, ticket, NET_AGENT, "take")
    # A colleague may still add to the timeline.
    assert decide(standard, ticket, NET_COLLEAGUE, "comment", opinion="客户又来电").action == "comment"


def test_an_appeal_is_its_own_ticket_on_the_standard_workflow_linking_a_complaint() -> None:
    types = {row["code"]: row for row in DEFAULT_TYPES}
    assert types["appeal"]["template"] == types["complaint"]["template"] == "standard"
    assert types["appeal"]["links"] == "complaint"
    assert {"supervision_hotline", "media", "consumer_association", "headquarters"} <= set(
        types["appeal"]["fields"]["source"])
