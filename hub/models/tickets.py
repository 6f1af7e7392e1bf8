"""Work orders (电子工单): the organisation they travel through, their types, categories and
workflow templates as data, the tickets with their timeline, deadline alerts, outages, and
the log of who searched what.

JSON formats are given on each field; the admin API validates them before they are stored
and ``hub.tickets.templates`` turns templates into checked, frozen dataclasses.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from hub.models.base import optional_timestamp, timestamp
from hub.models.routing_config import json_column


class OrgUnit(SQLModel, table=True):
    """A node of the organisation: the province centre, a city, a county, or a department
    within one of them. ``region`` is the region path the unit serves
    (``"guangdong/shenzhen/nanshan"``); a department inherits its parent's."""

    __tablename__ = "org_unit"
    id: int | None = Field(default=None, primary_key=True)
    parent_id: int | None = Field(default=None, foreign_key="org_unit.id", index=True)
    kind: str = Field(max_length=20)
    """``province``, ``city``, ``county`` or ``department``."""
    code: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=200)
    region: str = Field(default="", max_length=120)
    active: bool = True


class AgentUnit(SQLModel, table=True):
    """The unit a person belongs to (agents in the centre, staff in a department)."""

    __tablename__ = "agent_unit"
    agent_id: int = Field(primary_key=True, foreign_key="agent.id", ondelete="CASCADE")
    unit_id: int = Field(foreign_key="org_unit.id", index=True)


class WorkflowTemplate(SQLModel, table=True):
    """A workflow (流程模板) as data.

    ``steps``: ``[{"code": "accept", "name_en": "Accept", "name_zh_cn": "受理",
    "roles": ["agent"], "units": ["centre"], "deadline_minutes": 30,
    "next": ["review"], "return_to": [], "transfer": false, "final": false}, ...]`` — the
    first step is where a ticket starts; ``units`` names who may act (``centre``: the
    province centre's units, ``owner``: the unit that owns the ticket now, or unit codes);
    ``deadline_minutes`` are business minutes. ``overall_minutes`` bounds the whole ticket.
    ``level_percent``: ``{"major_urgent": 25, "complex": 200}``, the share of every deadline a
    ticket at that level gets; levels not named get the minutes as written.
    """

    __tablename__ = "workflow_template"
    code: str = Field(primary_key=True, max_length=40)
    name_en: str = Field(max_length=100)
    name_zh_cn: str = Field(default="", max_length=100)
    steps: list[dict[str, Any]] = json_column([])
    overall_minutes: int | None = None
    level_percent: dict[str, int] = json_column({})
    updated_at: datetime = timestamp()


class TicketType(SQLModel, table=True):
    """A ticket type (complaint, appeal, suggestion, fault report, business order, callback)
    and the workflow it follows. ``fields``: the type's own choices, e.g.
    ``{"level": ["major_urgent", "general", "complex"], "kind": ["tariff", "network", ...],
    "source": [...]}``; ``links``: the type a ticket of this type must link to (an appeal
    links the complaint it appeals)."""

    __tablename__ = "ticket_type"
    code: str = Field(primary_key=True, max_length=40)
    name_en: str = Field(max_length=100)
    name_zh_cn: str = Field(default="", max_length=100)
    template: str = Field(foreign_key="workflow_template.code", max_length=40)
    fields: dict[str, Any] = json_column({})
    links: str = Field(default="", max_length=40)
    active: bool = True


class TicketCategory(SQLModel, table=True):
    """A node of the category tree admins edit (e.g. network > signal > indoor)."""

    __tablename__ = "ticket_category"
    id: int | None = Field(default=None, primary_key=True)
    parent_id: int | None = Field(default=None, foreign_key="ticket_category.id", index=True)
    code: str = Field(max_length=60, unique=True)
    name_en: str = Field(max_length=100)
    name_zh_cn: str = Field(default="", max_length=100)
    active: bool = True


class Ticket(SQLModel, table=True):
    """One work order: where it is (step, owner unit, handler), what it is, for whom, and
    when its step and the whole ticket are due."""

    __tablename__ = "ticket"
    __table_args__ = (
        Index("ix_ticket_customer_created", "customer_id", "created_at"),
        Index("ix_ticket_owner_open", "owner_unit_id", "status", "step_due_at"),
        Index("ix_ticket_handler_open", "handler_id", "status", "step_due_at"),
        Index("ix_ticket_type_status_created", "type", "status", "created_at"),
        Index("ix_ticket_region_created", "region", "created_at"),
        Index("ix_ticket_status_step_due", "status", "step_due_at"),
        Index("ix_ticket_created", "created_at"),
        Index("ix_ticket_status_chase", "status", "chase_at"),
        Index("ix_ticket_status_due", "status", "due_at"),
        # The case library is a small part of all tickets: a partial index finds it at once.
        Index("ix_ticket_case_type", "type", "closed_at", sqlite_where=text("is_case"),
              postgresql_where=text("is_case")),
        # Ticket search (hub.tickets.search) lists newest first: by the phone on the ticket,
        # and a unit's open or closed tickets (ix_ticket_owner_open is in deadline order).
        Index("ix_ticket_phone_created", "phone", "created_at"),
        Index("ix_ticket_owner_status_created", "owner_unit_id", "status", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=30, unique=True)
    type: str = Field(foreign_key="ticket_type.code", max_length=40)
    category_id: int | None = Field(default=None, foreign_key="ticket_category.id")
    level: str = Field(default="", max_length=40)
    kind: str = Field(default="", max_length=40)
    source: str = Field(default="", max_length=40)
    title: str = Field(max_length=300)
    description: str = Field(default="", max_length=10_000)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", ondelete="SET NULL")
    phone: str = Field(default="", max_length=40)
    interaction_id: int | None = Field(default=None, foreign_key="interaction.id", ondelete="SET NULL")
    channel: str = Field(default="", max_length=40)
    region: str = Field(default="", max_length=120)
    status: str = Field(default="open", max_length=20)
    """``open`` or ``closed``."""
    step: str = Field(max_length=40)
    owner_unit_id: int | None = Field(default=None, foreign_key="org_unit.id")
    handler_id: int | None = Field(default=None, foreign_key="agent.id", ondelete="SET NULL")
    linked_ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    outage_id: int | None = Field(default=None, foreign_key="outage.id", index=True)
    created_by: int | None = Field(default=None, foreign_key="agent.id", ondelete="SET NULL")
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()
    step_started_at: datetime = timestamp()
    step_due_at: datetime | None = optional_timestamp()
    chase_at: datetime | None = optional_timestamp()
    """When the deadline sweep must next look at the ticket: the warning time, then the step's
    deadline, then never (until the next step); indexed, so a sweep reads only what is due."""
    due_at: datetime | None = optional_timestamp()
    closed_at: datetime | None = optional_timestamp()
    satisfaction: int | None = None
    """1 (very dissatisfied) .. 5 (very satisfied)."""
    urge_count: int = 0
    is_case: bool = False
    version: int = 0
    """Bumped by every action: an action decided on an old view is refused."""


class TicketAction(SQLModel, table=True):
    """One line of a ticket's timeline: who did what, when, from which unit, and why."""

    __tablename__ = "ticket_action"
    __table_args__ = (Index("ix_ticket_action_ticket_at", "ticket_id", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", ondelete="CASCADE")
    action: str = Field(max_length=30)
    actor_id: int | None = None
    actor_unit_id: int | None = None
    from_step: str = Field(default="", max_length=40)
    to_step: str = Field(default="", max_length=40)
    to_unit_id: int | None = None
    opinion: str = Field(default="", max_length=4000)
    attachments: list[dict[str, Any]] = json_column([])
    at: datetime = timestamp()


class TicketParticipant(SQLModel, table=True):
    """A unit co-processing a ticket beside its owner (协办)."""

    __tablename__ = "ticket_participant"
    ticket_id: int = Field(primary_key=True, foreign_key="ticket.id", ondelete="CASCADE")
    unit_id: int = Field(primary_key=True, foreign_key="org_unit.id")
    done: bool = False


class DeadlineAlert(SQLModel, table=True):
    """A deadline warning or breach told once: the unique key is what makes a second beat
    run, or a retried task, tell nobody twice."""

    __tablename__ = "deadline_alert"
    __table_args__ = (UniqueConstraint("ticket_id", "step_seq", "kind", name="uq_deadline_alert"),)
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", ondelete="CASCADE")
    step_seq: int
    """The ticket's ``version`` when the step began: a step entered again is a new deadline."""
    kind: str = Field(max_length=20)
    """``warning`` (before the step's deadline), ``breach`` (step overdue), ``overall``."""
    at: datetime = timestamp()


class Outage(SQLModel, table=True):
    """A major outage (大故障) a supervisor declared: complaints that match are linked to it
    and answered together when it ends."""

    __tablename__ = "outage"
    id: int | None = Field(default=None, primary_key=True)
    region: str = Field(max_length=120)
    service: str = Field(max_length=60)
    started_at: datetime = timestamp()
    expected_end: datetime | None = optional_timestamp()
    ended_at: datetime | None = optional_timestamp()
    wording: str = Field(max_length=1000)
    """What customers are told, on the banner, in IVR announcements and in the bulk reply."""
    declared_by: int | None = None


class TicketSearch(SQLModel, table=True):
    """Who searched tickets for what, as the spec requires."""

    __tablename__ = "ticket_search"
    __table_args__ = (Index("ix_ticket_search_agent_at", "agent_id", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    agent_id: int | None = None
    query: dict[str, Any] = json_column({})
    results: int = 0
    at: datetime = timestamp()



class BusinessCalendar(SQLModel, table=True):
    """Business hours and holidays deadlines count in, as a schedule document
    (``hub.routing.schedule`` format: time zone, weekly hours, holidays, weekend working days).
    The row ``default`` applies unless a unit names another."""

    __tablename__ = "business_calendar"
    code: str = Field(primary_key=True, max_length=40)
    schedule: dict[str, Any] = json_column({})
