"""Helpers for the storage spec: inbound messages and reading rows back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from hub.core import HubCore
from hub.messages import InboundMessage


def inbound(external_id: str, *, sender: str = "13800138000", thread: str | None = None,
            channel: str = "sms", **fields: Any) -> InboundMessage:
    """An SMS-like inbound message; the thread is the sender unless given."""
    return InboundMessage(channel=channel, external_id=external_id, sender=sender,
                          thread_key=thread or sender, text=fields.pop("text", f"text {external_id}"),
                          **fields)


async def count(core: HubCore, model: Any, *where: Any) -> int:
    async with core.sessions() as s:
        return int((await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def rows(core: HubCore, model: Any, *where: Any, order_by: Any = None) -> list[Any]:
    query = select(model).where(*where)
    if order_by is not None:
        query = query.order_by(order_by)
    async with core.sessions() as s:
        return list((await s.execute(query)).scalars())


async def eventually(check: Callable[[], Any], within: float = 5.0) -> Any:
    """Await ``check()`` until it returns something truthy (background work settles)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.02)
