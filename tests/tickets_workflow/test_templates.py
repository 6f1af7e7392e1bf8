"""Templates as data: what ``Template.from_json`` accepts, and the errors an admin can act on."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hub.errors import InvalidRequest
from hub.tickets.defaults import DEFAULT_TEMPLATES, DEFAULT_TYPES
from hub.tickets.templates import Template
from hub.tickets.workflow import Actor, TicketView, decide


def steps(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    """A minimal valid template, start -> end, plus ``extra`` steps."""
    return [
        {"code": "start", "name_en": "Start", "roles": ["agent"], "units": ["centre"],
         "deadline_minutes": 30, "next": ["end"]},
        {"code": "end", "name_en": "End", "roles": ["agent"], "units": ["centre"], "final": True},
        *extra,
    ]


def changed(index: int, **fields: Any) -> list[dict[str, Any]]:
    doc = steps()
    doc[index].update(fields)
    return doc


@pytest.mark.parametrize("row", DEFAULT_TEMPLATES, ids=lambda row: row["code"])
def test_every_default_template_is_valid_and_round_trips(row: dict[str, Any]) -> None:
    template = Template.from_json(row["code"], row["steps"], row["overall_minutes"], row.get("level_percent"))
    assert template.to_json() == row["steps"]
    again = Template.from_json(row["code"], template.to_json(), template.overall_minutes,
                               dict(template.level_percent))
    assert again == template
    assert all(step.name_en and step.name_zh_cn for step in template.steps)


def test_a_level_gets_its_share_of_every_deadline_and_others_the_minutes_as_written() -> None:
    template = Template.from_json("t", steps(), 600, {"major_urgent": 25, "complex": 200})
    assert [template.step_minutes("start", level) for level in ("major_urgent", "general", "complex", "")] \
        == [8, 30, 60, 30]  # a quarter of 30 is 7.5, rounded
    assert [template.overall_minutes_for(level) for level in ("major_urgent", "general")] == [150, 600]
    assert template.step_minutes("end", "major_urgent") is None, "no deadline stays none"
    tiny = Template.from_json("t", steps(), None, {"major_urgent": 1})
    assert tiny.step_minutes("start", "major_urgent") == 1, "never less than a minute"


@pytest.mark.parametrize(("percents", "words"), [
    ({"major_urgent": 0}, "major_urgent: expected a whole percent from 1 to 1000, got 0"),
    ({"major_urgent": True}, "expected a whole percent"),
    ({"major_urgent": 12.5}, "expected a whole percent"),
    ({"Major Urgent": 50}, "'Major Urgent' is not a level code"),
])
def test_a_level_share_must_be_a_whole_percent_of_a_level_code(percents: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match="level_percent") as caught:
        Template.from_json("t", steps(), None, percents)
    assert words in str(caught.value)


def test_every_default_ticket_type_picks_a_default_template() -> None:
    codes = {row["code"] for row in DEFAULT_TEMPLATES}
    assert {row["template"] for row in DEFAULT_TYPES} <= codes
    assert {row["code"] for row in DEFAULT_TYPES} == {
        "complaint", "appeal", "suggestion", "fault", "business", "callback"}


def test_the_fault_template_keeps_the_response_and_arrival_promises() -> None:
    row = next(row for row in DEFAULT_TEMPLATES if row["code"] == "fault")
    fault = Template.from_json("fault", row["steps"])
    assert fault.step("respond").deadline_minutes == 10
    assert fault.step("arrive").deadline_minutes == 60


def test_the_reopen_step_is_the_marked_one_or_else_the_second() -> None:
    assert Template.from_json("t", steps()).reopen_step.code == "end"
    marked = changed(0, reopen=True)
    assert Template.from_json("t", marked).reopen_step.code == "start"


def test_a_minimal_template_reads_defaults_for_missing_keys() -> None:
    template = Template.from_json("t", steps())
    start = template.first
    assert (start.name_zh_cn, start.return_to, start.transfer, start.dispatch, start.final) == (
        "", (), False, False, False)
    assert template.step("end").deadline_minutes is None


def test_an_unknown_step_is_a_stable_error() -> None:
    with pytest.raises(InvalidRequest) as caught:
        Template.from_json("t", steps()).step("archive")
    assert caught.value.error_id == "unknown_step"
    assert "start, end" in caught.value.message


BAD: list[tuple[str, Any, str]] = [
    ("empty", [], "non-empty list"),
    ("not an object", ["start"], "expected an object"),
    ("unknown key", changed(0, deadline=5), "unknown key 'deadline'"),
    ("bad code", changed(0, code="Start!"), "lower-case"),
    ("no name", changed(0, name_en=" "), "name_en"),
    ("duplicate code", changed(1, code="start", next=[]), "'start' is named twice"),
    ("unknown next", changed(0, next=["finish"]), "unknown step 'finish'"),
    ("unknown return", changed(1, return_to=["begin"]), "unknown step 'begin'"),
    ("no final", changed(1, final=False), "no step is final"),
    ("dead end", steps({"code": "side", "name_en": "Side", "roles": ["agent"], "units": ["centre"]}),
     "'side' has no next step"),
    ("unreachable", steps({"code": "side", "name_en": "Side", "roles": ["agent"],
                           "units": ["centre"], "next": ["end"]}), "'side' cannot be reached"),
    ("return forward", changed(0, return_to=["end"]), "does not come before it"),
    ("return to itself", changed(1, return_to=["end"]), "does not come before it"),
    ("circle", changed(1, next=["start"]), "can come after itself"),
    ("bad role", changed(0, roles=["manager"]), "roles must list"),
    ("no role", changed(0, roles=[]), "roles must list"),
    ("no units", changed(0, units=[]), "units must list"),
    ("negative deadline", changed(0, deadline_minutes=-5), "above 0"),
    ("zero deadline", changed(0, deadline_minutes=0), "above 0"),
    ("fractional deadline", changed(0, deadline_minutes=2.5), "whole number"),
    ("boolean deadline", changed(0, deadline_minutes=True), "whole number"),
    ("flag not boolean", changed(0, transfer="yes"), "transfer must be true or false"),
    ("next named twice", changed(0, next=["end", "end"]), "'end' is named twice"),
    ("two reopen steps", [*changed(0, reopen=True)[:1], {**steps()[1], "reopen": True}],
     "only one step may be the reopen step"),
]


@pytest.mark.parametrize(("doc", "message"), [(doc, message) for _, doc, message in BAD],
                         ids=[name for name, _, _ in BAD])
def test_a_bad_template_says_what_to_fix(doc: Any, message: str) -> None:
    with pytest.raises(ValueError, match="template 't'") as caught:
        Template.from_json("t", copy.deepcopy(doc))
    assert message in str(caught.value)


def test_a_bad_template_code_or_overall_deadline_is_refused() -> None:
    with pytest.raises(ValueError, match="template code"):
        Template.from_json("Bad Code", steps())
    with pytest.raises(ValueError, match="overall_minutes"):
        Template.from_json("t", steps(), overall_minutes=-1)


def test_a_return_may_name_a_step_before_it_on_one_branch_only() -> None:
    branching = [
        {"code": "start", "name_en": "Start", "roles": ["agent"], "units": ["centre"],
         "next": ["quick", "slow"]},
        {"code": "quick", "name_en": "Quick", "roles": ["agent"], "units": ["centre"], "next": ["end"]},
        {"code": "slow", "name_en": "Slow", "roles": ["agent"], "units": ["owner"], "next": ["end"]},
        {"code": "end", "name_en": "End", "roles": ["agent"], "units": ["centre"], "final": True,
         "return_to": ["slow", "start"]},
    ]
    template = Template.from_json("t", branching)
    assert template.step("end").return_to == ("slow", "start")


def test_where_a_step_branches_the_actor_chooses() -> None:
    branching = Template.from_json("t", [
        {"code": "start", "name_en": "Start", "roles": ["agent"], "units": ["centre"],
         "next": ["quick", "end"]},
        {"code": "quick", "name_en": "Quick", "roles": ["agent"], "units": ["centre"], "next": ["end"]},
        {"code": "end", "name_en": "End", "roles": ["agent"], "units": ["centre"], "final": True},
    ])
    ticket, agent = TicketView("start", "open", None, None), Actor(1, "agent", 1, "centre", True)
    with pytest.raises(InvalidRequest, match="quick, end") as caught:
        decide(branching, ticket, agent, "advance")
    assert caught.value.error_id == "bad_step"
    assert decide(branching, ticket, agent, "advance", to_step="end").to_step == "end"
