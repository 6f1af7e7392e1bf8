"""Visitor identity: a random id in a signed, expiring token; pre-chat details; rate limits."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from hub.errors import InvalidRequest

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,60}$")
PHONE_CHARS = re.compile(r"[\s().-]")
PHONE = re.compile(r"^\+?\d{5,20}$")
MAX_TOKEN = 2000


class TokenRefused(Exception):
    """The token is forged, malformed or expired; ``code`` says which to the widget."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Visitor:
    """An anonymous visitor, with whatever the pre-chat form told us."""

    id: str
    name: str = ""
    phone: str = ""
    email: str = ""

    @property
    def identities(self) -> tuple[tuple[str, str], ...]:
        """The (kind, address) pairs ingest links to the customer."""
        return tuple((kind, value) for kind, value in (("phone", self.phone), ("email", self.email)) if value)

    def payload(self) -> dict[str, str]:
        data = {"v": self.id, "n": self.name, "p": self.phone, "e": self.email}
        return {k: v for k, v in data.items() if v}


def new_visitor_id() -> str:
    return "v_" + secrets.token_urlsafe(18)


def issue(signer: URLSafeTimedSerializer, visitor: Visitor) -> str:
    return signer.dumps(visitor.payload())


def verify(signer: URLSafeTimedSerializer, token: Any, max_age: int) -> Visitor:
    """The visitor a token names; ``TokenRefused`` if it is not one we signed, or too old."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN:
        raise TokenRefused("session_invalid", "the visitor token is missing or malformed")
    try:
        data = signer.loads(token, max_age=max_age)
    except SignatureExpired as err:
        raise TokenRefused("session_expired", "the visitor session has expired") from err
    except BadSignature as err:
        raise TokenRefused("session_invalid", "the visitor token is not valid") from err
    if not isinstance(data, dict) or not isinstance(data.get("v"), str):
        raise TokenRefused("session_invalid", "the visitor token is not valid")
    return Visitor(data["v"], str(data.get("n", "")), str(data.get("p", "")), str(data.get("e", "")))


def prechat_details(data: dict[str, Any], required: list[str]) -> dict[str, str]:
    """Checked and normalised name, phone and email; ``InvalidRequest`` names the bad field."""
    name = _text(data, "name", 100)
    phone = PHONE_CHARS.sub("", _text(data, "phone", 40))
    email = _text(data, "email", 254).lower()
    if phone and not PHONE.match(phone):
        raise InvalidRequest("bad_phone", "the phone number is not valid")
    if email and not EMAIL.match(email):
        raise InvalidRequest("bad_email", "the email address is not valid")
    details = {"name": name, "phone": phone, "email": email}
    for field in required:
        if not details.get(field):
            raise InvalidRequest(f"missing_{field}", f"{field} is required")
    return details


def _text(data: dict[str, Any], key: str, limit: int) -> str:
    value = data.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit or "\x00" in value:
        raise InvalidRequest(f"bad_{key}", f"{key} must be text of at most {limit} characters")
    return value.strip()


class RateLimit:
    """A token bucket per key: ``per_minute`` on average, bursts up to the same number."""

    def __init__(self, per_minute: int, max_keys: int = 50_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(per_minute)
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return False
        if len(self._buckets) >= self.max_keys:
            # Memory stays bounded under a flood of new keys; a forgotten key starts full.
            self._buckets.clear()
        self._buckets[key] = (tokens - 1, now)
        return True
