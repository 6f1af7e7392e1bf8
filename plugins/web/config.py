"""The web chat settings: the ``[plugins.web]`` section, checked when the hub is created."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, ValidationError, field_validator

from hub.errors import ConfigError

PRECHAT_FIELDS = ("name", "phone", "email")
# An origin is scheme://host[:port], nothing more: it goes verbatim into CSP and CORS headers.
ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")


class WebConfig(BaseModel):
    """What an operator may set for the widget; every field has a working default."""

    allowed_origins: list[str] = Field(default_factory=list)
    """Sites that may embed the widget (the hub's own origin always may)."""
    prechat: bool = False
    """Ask for name, phone and email before the chat starts."""
    prechat_required: list[str] = Field(default_factory=list)
    max_text: int = Field(default=2000, ge=1, le=20000)
    max_frame_bytes: int = Field(default=64 * 1024, ge=1024)
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    messages_per_minute: int = Field(default=30, ge=1)
    sessions_per_minute: int = Field(default=20, ge=1)
    """Visitor sessions one IP address may create per minute."""
    offline_when_no_agent: bool = True
    """Show the offline form to new visitors when no agent is online."""
    token_days: float = Field(default=30, gt=0)
    send_queue: int = Field(default=256, ge=8)
    """Frames waiting for one slow visitor before the socket is closed (1013) to resume later."""
    hello_timeout: float = Field(default=10, gt=0)
    max_bad_frames: int = Field(default=20, ge=1)

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if not ORIGIN.match(origin):
                raise ValueError(f"{origin!r} is not an origin like https://www.example.com")
        return [origin.lower() for origin in value]

    @field_validator("prechat_required")
    @classmethod
    def _required(cls, value: list[str]) -> list[str]:
        unknown = set(value) - set(PRECHAT_FIELDS)
        if unknown:
            raise ValueError(f"unknown pre-chat fields {sorted(unknown)}; use {list(PRECHAT_FIELDS)}")
        return value

    @property
    def token_max_age(self) -> int:
        return int(self.token_days * 86400)

    @classmethod
    def from_settings(cls, section: dict[str, Any]) -> WebConfig:
        """Read ``[plugins.web]``; a wrong value stops start-up with one line saying which."""
        try:
            return cls(**section)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"[plugins.web] {where}: {first['msg']}") from err


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, as browsers send it in ``Origin``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
