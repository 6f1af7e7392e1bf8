"""Plugins' durable state behind the ``Hub`` facade: documents under keys, and leases.

Every call is one short transaction of its own. A lease is a key whose row carries
``lease_until``: taking it succeeds only when no row exists or the last holder's lease ran
out, and the database decides, so two processes racing for one lease cannot both win.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, or_, select, update

from hub.db import insert_for, transaction
from hub.models import PluginState, utcnow

if TYPE_CHECKING:
    from hub.core import HubCore


async def get(core: HubCore, scope: str, key: str) -> dict[str, Any] | None:
    async with core.sessions() as s:
        return (await s.execute(select(PluginState.value).where(
            PluginState.scope == scope, PluginState.key == key))).scalar_one_or_none()


async def put(core: HubCore, scope: str, key: str, value: dict[str, Any]) -> None:
    async with transaction(core.sessions) as s:
        stmt = insert_for(s, PluginState).values(scope=scope, key=key, value=value, updated_at=utcnow())
        await s.execute(stmt.on_conflict_do_update(
            index_elements=["scope", "key"], set_={"value": value, "updated_at": utcnow()}))


async def remove(core: HubCore, scope: str, key: str) -> bool:
    async with transaction(core.sessions) as s:
        result = await s.execute(delete(PluginState).where(
            PluginState.scope == scope, PluginState.key == key))
        return bool(result.rowcount)  # type: ignore[attr-defined]


async def items(core: HubCore, scope: str, prefix: str) -> dict[str, dict[str, Any]]:
    # The prefix is matched in Python: LIKE would need escaping of the plugin's own keys.
    async with core.sessions() as s:
        rows = (await s.execute(select(PluginState.key, PluginState.value).where(
            PluginState.scope == scope, PluginState.key >= prefix,
            PluginState.key < prefix + "\U0010ffff",
        ).order_by(PluginState.key))).all()
    return {row.key: row.value for row in rows if row.key.startswith(prefix)}


async def claim(core: HubCore, scope: str, key: str, seconds: float, holder: dict[str, Any]) -> bool:
    """Take the lease ``key`` for ``seconds``; False while someone else holds it."""
    return await take(core, scope, key, seconds, holder) is not None


async def take(core: HubCore, scope: str, key: str, seconds: float,
               holder: dict[str, Any]) -> Lease | None:
    """Take the lease ``key`` for ``seconds`` and keep it to renew or release; None while
    someone else holds it."""
    now = utcnow()
    until = now + timedelta(seconds=seconds)
    async with transaction(core.sessions) as s:
        taken = (await s.execute(
            insert_for(s, PluginState)
            .values(scope=scope, key=key, value=holder, lease_until=until, updated_at=now)
            .on_conflict_do_nothing(index_elements=["scope", "key"])
            .returning(PluginState.key)
        )).scalar_one_or_none()
        if taken is None:
            result = await s.execute(
                update(PluginState)
                .where(PluginState.scope == scope, PluginState.key == key,
                       or_(PluginState.lease_until.is_(None),  # type: ignore[union-attr]
                           PluginState.lease_until < now))
                .values(value=holder, lease_until=until, updated_at=now)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return None
    return Lease(core, scope, key, seconds, until)


class Lease:
    """A lease this process holds. It knows the expiry it last wrote: a renewal or release
    that finds another there (the lease ran out and someone else took it) changes nothing."""

    def __init__(self, core: HubCore, scope: str, key: str, seconds: float, until: datetime) -> None:
        self._core, self.scope, self.key, self.seconds = core, scope, key, seconds
        self.until = until

    async def renew(self) -> bool:
        """Hold it ``seconds`` more from now; False when it is no longer ours."""
        now = utcnow()
        until = now + timedelta(seconds=self.seconds)
        if not await self._replace(until, now):
            return False
        self.until = until
        return True

    async def release(self) -> bool:
        """Let it go now, for another to take at once; False when it was no longer ours."""
        return await self._replace(None, utcnow())

    async def _replace(self, until: datetime | None, now: datetime) -> bool:
        async with transaction(self._core.sessions) as s:
            result = await s.execute(
                update(PluginState)
                .where(PluginState.scope == self.scope, PluginState.key == self.key,
                       PluginState.lease_until == self.until)
                .values(lease_until=until, updated_at=now))
            return bool(result.rowcount)  # type: ignore[attr-defined]


def fernet(secret_key: str, scope: str) -> Fernet:
    """A key for sealing a plugin's secrets at rest, derived from the hub's secret."""
    digest = hashlib.sha256(f"contacthub-seal:{scope}:{secret_key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def unseal(box: Fernet, token: str) -> str:
    try:
        return box.decrypt(token.encode()).decode()
    except InvalidToken as err:
        raise ValueError("the sealed value was sealed with another secret key") from err
