"""Small helpers for channel tests: wait for a condition, read what the hub stored."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import func, select

from hub.hookspecs import hookimpl
from hub.models import CustomerIdentity, Interaction, Message

if TYPE_CHECKING:
    from hub.core import HubCore

T = TypeVar("T")


async def wait_for(
    predicate: Callable[[], T | Awaitable[T]],
    timeout: float = 5.0,  # noqa: ASYNC109  (a polling helper: the deadline is its point)
    *, interval: float = 0.02, message: str = "",
) -> T:
    """Call ``predicate`` (sync or async) until it returns something truthy, and return that.

    Fails the test with ``message`` (or the predicate's name) after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            what = message or getattr(predicate, "__name__", "condition")
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(interval)


async def messages_with_text(core: HubCore, channel: str, text: str, direction: str = "in") -> list[Message]:
    """Messages of ``channel`` whose text, stripped, is ``text``."""
    async with core.sessions() as s:
        rows = (await s.execute(
            select(Message).where(Message.channel == channel, Message.direction == direction)
            .order_by(Message.id)  # type: ignore[arg-type]
        )).scalars().all()
    return [m for m in rows if m.text.strip() == text.strip()]


async def count_messages(core: HubCore, channel: str, direction: str = "in") -> int:
    async with core.sessions() as s:
        return int((await s.execute(
            select(func.count()).select_from(Message)
            .where(Message.channel == channel, Message.direction == direction)
        )).scalar_one())


async def get_message(core: HubCore, message_id: int) -> Message:
    async with core.sessions() as s:
        message = await s.get(Message, message_id)
    assert message is not None, f"message {message_id} is not stored"
    return message


async def get_interaction(core: HubCore, interaction_id: int) -> Interaction:
    async with core.sessions() as s:
        interaction = await s.get(Interaction, interaction_id)
    assert interaction is not None, f"interaction {interaction_id} is not stored"
    return interaction


async def identity_owner(core: HubCore, kind: str, address: str) -> int | None:
    """The customer known by (kind, address), or None."""
    async with core.sessions() as s:
        return (await s.execute(
            select(CustomerIdentity.customer_id)
            .where(CustomerIdentity.kind == kind, CustomerIdentity.address == address)
        )).scalar_one_or_none()


class EventRecorder:
    """A plugin the kit adds to the hub to see every interaction and message event."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    @hookimpl
    def hub_on_interaction(self, event: Any) -> None:
        self.events.append(event)

    @hookimpl
    def hub_on_message(self, event: Any) -> None:
        self.events.append(event)

    def of_kind(self, kind: str, message_id: int | None = None) -> list[Any]:
        return [e for e in self.events
                if e.kind == kind and (message_id is None or getattr(e, "message_id", None) == message_id)]
