"""Whatever anyone tries, the engine keeps a ticket inside its template and its people."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.errors import InvalidRequest
from hub.tickets.templates import Template
from hub.tickets.workflow import ACTIONS, TicketView, decide, may_act
from tests.tickets_workflow.conftest import (
    ADMIN,
    CENTRE,
    CENTRE_AGENT,
    CENTRE_DEPT_AGENT,
    CENTRE_SUPERVISOR,
    COUNTY_A_NET,
    COUNTY_B,
    COUNTY_B_AGENT,
    NET_AGENT,
    NET_COLLEAGUE,
    NET_SUPERVISOR,
    default_template,
)

TEMPLATES = [default_template(code) for code in ("standard", "fault", "simple")]
ACTORS = [ADMIN, CENTRE_AGENT, CENTRE_DEPT_AGENT, CENTRE_SUPERVISOR, COUNTY_B_AGENT, NET_AGENT,
          NET_COLLEAGUE, NET_SUPERVISOR]
UNITS = st.sampled_from([None, CENTRE, COUNTY_A_NET, COUNTY_B])


@st.composite
def situations(draw: st.DrawFn) -> tuple[Template, TicketView]:
    template = draw(st.sampled_from(TEMPLATES))
    ticket = TicketView(
        step=draw(st.sampled_from([step.code for step in template.steps])),
        status=draw(st.sampled_from(["open", "closed"])),
        owner_unit_id=draw(UNITS),
        handler_id=draw(st.sampled_from([None] + [actor.agent_id for actor in ACTORS])),
        participants=frozenset(draw(st.sets(st.sampled_from([COUNTY_B, COUNTY_A_NET]), max_size=1))),
    )
    return template, ticket


@settings(max_examples=500)
@given(situation=situations(), actor=st.sampled_from(ACTORS), action=st.sampled_from(ACTIONS),
       to_step=st.one_of(st.none(), st.sampled_from(["accept", "process", "reply", "close"])),
       to_unit=UNITS, opinion=st.sampled_from(["", "  ", "客户不满意"]))
def test_an_action_is_refused_or_keeps_the_ticket_in_its_template(
        situation: tuple[Template, TicketView], actor, action: str, to_step, to_unit, opinion: str) -> None:
    template, ticket = situation
    try:
        move = decide(template, ticket, actor, action, to_step=to_step, to_unit=to_unit, opinion=opinion)
    except InvalidRequest as refused:
        assert refused.status in (400, 403, 409) and refused.message
        return
    assert template.step(move.to_step)
    assert move.status == ("closed" if action == "close" else "open")
    if action == "reopen":
        assert ticket.status == "closed"
        return
    assert ticket.status == "open"
    # Only the step's people, or a co-processing unit commenting, changed anything.
    assert may_act(template, ticket, actor) or (action == "comment" and actor.unit_id in ticket.participants)
    if move.to_step != ticket.step:
        assert move.restart_deadline and move.handler_id is None
    if action in ("return", "transfer", "reopen"):
        assert opinion.strip()
