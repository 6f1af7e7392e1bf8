"""The hub's tables. Import from here; migrations import this module to see them all."""

from hub.models.agents import Agent, AgentRole, AuditEntry, WebSession
from hub.models.base import utcnow
from hub.models.customers import Customer, CustomerIdentity, HistoryEntry
from hub.models.files import Attachment
from hub.models.interactions import Disposition, Interaction, InteractionStatus, Message, Queue
from hub.models.plugin_state import PluginState
from hub.models.routing import AgentStateSpan, StateReason
from hub.models.routing_config import (
    AgentRouting,
    AgentSkill,
    BlockedAddress,
    CustomerTier,
    EntryRule,
    QueueRules,
    RegionPrefix,
    RoutingOffer,
)
from hub.models.tickets import (
    AgentUnit,
    BusinessCalendar,
    DeadlineAlert,
    OrgUnit,
    Outage,
    Ticket,
    TicketAction,
    TicketCategory,
    TicketParticipant,
    TicketSearch,
    TicketType,
    WorkflowTemplate,
)

__all__ = [
    "Agent",
    "AgentRole",
    "AgentRouting",
    "AgentSkill",
    "AgentStateSpan",
    "AgentUnit",
    "Attachment",
    "AuditEntry",
    "BlockedAddress",
    "BusinessCalendar",
    "Customer",
    "CustomerIdentity",
    "CustomerTier",
    "DeadlineAlert",
    "Disposition",
    "EntryRule",
    "HistoryEntry",
    "Interaction",
    "InteractionStatus",
    "Message",
    "OrgUnit",
    "Outage",
    "PluginState",
    "Queue",
    "QueueRules",
    "RegionPrefix",
    "RoutingOffer",
    "StateReason",
    "Ticket",
    "TicketAction",
    "TicketCategory",
    "TicketParticipant",
    "TicketSearch",
    "TicketType",
    "WebSession",
    "WorkflowTemplate",
    "utcnow",
]
