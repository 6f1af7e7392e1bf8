"""Work-order workflow fixtures: the default templates, an organisation and its people."""

from __future__ import annotations

import pytest

from hub.tickets.defaults import DEFAULT_TEMPLATES
from hub.tickets.templates import Template
from hub.tickets.workflow import Actor, TicketView, Transition, decide

CENTRE, CENTRE_DEPT = 1, 2
"""The province centre and a department directly under it."""
COUNTY_A, COUNTY_A_NET = 11, 12
"""A county and its network department."""
COUNTY_B = 21

CENTRE_AGENT = Actor(101, "agent", CENTRE, "centre", True)
CENTRE_SUPERVISOR = Actor(102, "supervisor", CENTRE, "centre", True)
CENTRE_DEPT_AGENT = Actor(103, "agent", CENTRE_DEPT, "centre_quality", True)
NET_AGENT = Actor(111, "agent", COUNTY_A_NET, "county_a_net", False)
NET_COLLEAGUE = Actor(112, "agent", COUNTY_A_NET, "county_a_net", False)
NET_SUPERVISOR = Actor(113, "supervisor", COUNTY_A_NET, "county_a_net", False)
COUNTY_B_AGENT = Actor(121, "agent", COUNTY_B, "county_b", False)
COUNTY_B_SUPERVISOR = Actor(122, "supervisor", COUNTY_B, "county_b", False)
ADMIN = Actor(199, "admin", CENTRE, "centre", True)


def default_template(code: str) -> Template:
    """The default template ``code``, parsed as the service parses a stored row."""
    row = next(row for row in DEFAULT_TEMPLATES if row["code"] == code)
    return Template.from_json(row["code"], row["steps"], row["overall_minutes"])


def apply(ticket: TicketView, transition: Transition, to_unit: int | None = None) -> TicketView:
    """The ticket after ``transition``, as the service would store it."""
    participants = ticket.participants
    if transition.action == "cc" and to_unit is not None:
        participants = participants | {to_unit}
    if transition.owner_unit_id in participants:
        participants = participants - {transition.owner_unit_id}
    return TicketView(transition.to_step, transition.status, transition.owner_unit_id,
                      transition.handler_id, participants)


def act(template: Template, ticket: TicketView, actor: Actor, action: str, **kwargs: object) -> TicketView:
    """Decide and apply in one go: the ticket after ``actor`` did ``action``."""
    transition = decide(template, ticket, actor, action, **kwargs)  # type: ignore[arg-type]
    return apply(ticket, transition, kwargs.get("to_unit"))  # type: ignore[arg-type]


def at(step: str, owner: int | None = None, *, handler: int | None = None, status: str = "open",
       participants: frozenset[int] = frozenset()) -> TicketView:
    return TicketView(step, status, owner, handler, participants)


@pytest.fixture
def standard() -> Template:
    return default_template("standard")


@pytest.fixture
def fault() -> Template:
    return default_template("fault")


@pytest.fixture
def simple() -> Template:
    return default_template("simple")
