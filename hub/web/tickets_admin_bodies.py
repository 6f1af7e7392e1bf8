"""Request bodies and replies of the work-order admin API. Field limits here are the first
check (answered as ``invalid_field``); workflow steps and calendars are checked by the
engine's own parsers, and cross-references by the handlers in ``tickets_admin``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

UNIT_CODE = r"^[a-z0-9][a-z0-9_-]{0,39}$"
CATEGORY_CODE = r"^[a-z0-9][a-z0-9_-]{0,59}$"
CODE = r"^[a-z][a-z0-9_]{0,39}$"
"""Workflow, ticket type and calendar codes: the form ``Template.from_json`` accepts."""
CHOICE = r"^[a-z0-9][a-z0-9_]{0,39}$"
UnitKind = Literal["province", "city", "county", "department"]
Name = Annotated[str, Field(min_length=1, max_length=100)]


# Organisation


class UnitCreate(BaseModel):
    """A new unit under ``parent_id``: a city under the province, a county under a city, a
    department under any unit but a department. An empty ``region`` on a department takes
    its parent's."""

    parent_id: int
    kind: UnitKind
    code: str = Field(pattern=UNIT_CODE, description="unique; workflow steps may name it")
    name: str = Field(min_length=1, max_length=200)
    region: str = Field(default="", max_length=120, description="a region path like 'guangdong/shenzhen'")


class UnitUpdate(BaseModel):
    """What changes on a unit; a field left out (or null) keeps its value."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    region: str | None = Field(default=None, max_length=120)
    active: bool | None = None
    kind: UnitKind | None = Field(default=None, description="refused on the root and where it "
                                                              "breaks the tree")


class UnitView(BaseModel):
    """A unit of the organisation and how many people belong to it."""

    id: int
    parent_id: int | None
    kind: str
    code: str
    name: str
    region: str
    active: bool
    members: int


class UnitList(BaseModel):
    """The organisation, parents before their children."""

    items: list[UnitView]


class AgentUnitBody(BaseModel):
    """The unit an agent belongs to; null takes them out of every unit (they then act as the
    province centre's)."""

    unit_id: int | None


class AgentUnitView(BaseModel):
    """An agent and their unit."""

    agent_id: int
    number: str
    name: str
    unit_id: int | None
    unit_code: str | None


# Workflows


class WorkflowStep(BaseModel):
    """One step of a workflow, as stored (see ``hub.tickets.templates.Step``)."""

    code: str
    name_en: str
    name_zh_cn: str = ""
    roles: list[str]
    units: list[str] = Field(description="'centre', 'owner' or unit codes")
    deadline_minutes: int | None = Field(default=None, description="business minutes; null: none")
    next: list[str] = Field(default_factory=list)
    return_to: list[str] = Field(default_factory=list)
    transfer: bool = False
    dispatch: bool = False
    final: bool = False
    reopen: bool = False


class WorkflowBody(BaseModel):
    """A whole workflow template; ``steps`` are checked by the workflow engine, which names
    the step that is wrong and how (``bad_workflow``)."""

    name_en: Name
    name_zh_cn: str = Field(default="", max_length=100)
    steps: list[dict[str, Any]] = Field(max_length=50, description="WorkflowStep objects, first "
                                                                    "step first")
    overall_minutes: int | None = Field(default=None, description="business minutes for the whole "
                                                                  "ticket; null: no bound")
    level_percent: dict[str, int] = Field(
        default_factory=dict, description="the share of every deadline a ticket at a level gets, in "
                                          "percent: {\"major_urgent\": 25} gives a quarter of the time")


class WorkflowView(BaseModel):
    """A stored workflow template and the ticket types that follow it."""

    code: str
    name_en: str
    name_zh_cn: str
    steps: list[WorkflowStep]
    overall_minutes: int | None
    level_percent: dict[str, int]
    updated_at: datetime
    types: list[str]


class WorkflowList(BaseModel):
    """Every workflow template by code."""

    items: list[WorkflowView]


# Ticket types


Choices = list[Annotated[str, Field(pattern=CHOICE)]]


class TicketTypeBody(BaseModel):
    """A ticket type: its workflow, its own choices of level, kind and source, and the type a
    ticket of it must link to ("" for none)."""

    name_en: Name
    name_zh_cn: str = Field(default="", max_length=100)
    template: str = Field(min_length=1, max_length=40, description="a workflow template code")
    fields: dict[Literal["level", "kind", "source"], Annotated[Choices, Field(max_length=100)]] = Field(
        default_factory=dict)
    links: str = Field(default="", max_length=40)
    active: bool = True


class TicketTypeView(TicketTypeBody):
    """A stored ticket type."""

    code: str


class TicketTypeList(BaseModel):
    """Every ticket type by code."""

    items: list[TicketTypeView]


# Categories


class CategoryCreate(BaseModel):
    """A new category under ``parent_id``, or at the root (null)."""

    parent_id: int | None = None
    code: str = Field(pattern=CATEGORY_CODE)
    name_en: Name
    name_zh_cn: str = Field(default="", max_length=100)
    active: bool = True


class CategoryUpdate(BaseModel):
    """What changes on a category; a field left out keeps its value. ``parent_id`` given as
    null moves the category to the root."""

    parent_id: int | None = None
    name_en: str | None = Field(default=None, min_length=1, max_length=100)
    name_zh_cn: str | None = Field(default=None, max_length=100)
    active: bool | None = None


class CategoryView(BaseModel):
    """A node of the category tree."""

    id: int
    parent_id: int | None
    code: str
    name_en: str
    name_zh_cn: str
    active: bool


class CategoryList(BaseModel):
    """The category tree, parents before their children."""

    items: list[CategoryView]


# Business calendars


class CalendarBody(BaseModel):
    """A schedule document (``hub.routing.schedule``): ``timezone``, weekly ``hours``,
    ``holidays``, weekend working days ``open_days``; ``{}`` counts every minute."""

    schedule: dict[str, Any]


class CalendarView(CalendarBody):
    """A stored business calendar. ``default`` is the one deadlines count in, unless one is
    named like the ticket's workflow."""

    code: str


class CalendarList(BaseModel):
    """Every business calendar by code."""

    items: list[CalendarView]
