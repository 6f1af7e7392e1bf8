"""Agents' authentication: password hashing, server-side sessions, CSRF, throttling, roles."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import delete, select

from hub.core import HubCore
from hub.db import transaction
from hub.errors import InvalidRequest
from hub.models import Agent, AgentRole, AuditEntry, WebSession, utcnow
from hub.models.agents import ROLE_RANK

SESSION_COOKIE = "contacthub_session"
LOGIN_CSRF_COOKIE = "contacthub_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
_hasher = PasswordHasher()
# Verifying against this when the agent number is unknown keeps the time of a failed login
# the same whether or not the number exists.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise InvalidRequest("weak_password", "a password needs at least 8 characters")
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(slots=True)
class Login:
    """The agent behind a request and their session's CSRF token."""

    agent: Agent
    csrf_token: str
    token_hash: str


class LoginThrottle:
    """At most N failed logins a minute per agent number and per client address."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def retry_after(self, *keys: str) -> int:
        now = time.monotonic()
        wait = 0
        for key in keys:
            failures = self._failures.get(key)
            if not failures:
                continue
            while failures and now - failures[0] > 60:
                failures.popleft()
            if len(failures) >= self.per_minute:
                wait = max(wait, int(60 - (now - failures[0])) + 1)
        return wait

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            self._failures[key].append(now)

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)


async def authenticate(core: HubCore, number: str, password: str) -> Agent | None:
    async with core.sessions() as s:
        agent = (await s.execute(select(Agent).where(Agent.number == number))).scalar_one_or_none()
    # Argon2 takes tens of milliseconds by design: on a thread, so other agents' screens
    # and chats do not stall while someone logs in.
    if agent is None or not agent.active:
        await asyncio.to_thread(verify_password, _DUMMY_HASH, password)
        return None
    return agent if await asyncio.to_thread(verify_password, agent.password_hash, password) else None


async def open_session(core: HubCore, agent: Agent, ip: str) -> str:
    """Create a session and return the cookie token; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    async with transaction(core.sessions) as s:
        s.add(WebSession(
            token_hash=_token_hash(token), agent_id=agent.id, csrf_token=secrets.token_urlsafe(32),
            expires_at=utcnow() + timedelta(hours=core.settings.session_hours), ip=ip,
        ))
    return token


async def close_session(core: HubCore, token_hash: str) -> None:
    async with transaction(core.sessions) as s:
        await s.execute(delete(WebSession).where(WebSession.token_hash == token_hash))


async def load_login(core: HubCore, request: web.Request) -> Login | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    async with core.sessions() as s:
        row = (await s.execute(
            select(WebSession, Agent).join(Agent, Agent.id == WebSession.agent_id)
            .where(WebSession.token_hash == _token_hash(token))
        )).one_or_none()
    if row is None:
        return None
    session, agent = row
    if session.expires_at < utcnow() or not agent.active:
        return None
    return Login(agent, session.csrf_token, session.token_hash)


def set_session_cookie(response: web.StreamResponse, core: HubCore, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="Lax", path="/",
        secure=core.settings.public_url.startswith("https"),
        max_age=core.settings.session_hours * 3600,
    )


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected, given or "")


def has_role(agent: Agent, role: AgentRole) -> bool:
    return ROLE_RANK[AgentRole(agent.role)] >= ROLE_RANK[role]


def client_ip(request: web.Request) -> str:
    return request.remote or ""


async def audit(
    core: HubCore, agent: Agent | None, action: str, target: str = "", detail: str = "",
    ip: str = "",
) -> None:
    """Keep a line in the audit log: who did what to what, from where."""
    async with transaction(core.sessions) as s:
        s.add(AuditEntry(agent_id=agent.id if agent else None, action=action, target=target,
                         detail=detail[:1000], ip=ip))
