"""The hub's tables. Import from here; migrations import this module to see them all."""

from hub.models.agents import Agent, AgentRole, AuditEntry, WebSession
from hub.models.base import utcnow
from hub.models.customers import Customer, CustomerIdentity, HistoryEntry
from hub.models.files import Attachment
from hub.models.interactions import Disposition, Interaction, InteractionStatus, Message, Queue
from hub.models.routing import AgentStateSpan, StateReason

__all__ = [
    "Agent",
    "AgentRole",
    "AgentStateSpan",
    "Attachment",
    "AuditEntry",
    "Customer",
    "CustomerIdentity",
    "Disposition",
    "HistoryEntry",
    "Interaction",
    "InteractionStatus",
    "Message",
    "Queue",
    "StateReason",
    "WebSession",
    "utcnow",
]
