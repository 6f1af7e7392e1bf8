"""Mail accounts and the ``[plugins.email]`` settings, validated before anything connects.

An account is one support mailbox: where its mail is read (IMAP), where replies leave
(SMTP), the queue its conversations wait in, its signature and acknowledgement. Accounts are
kept in the plugin's state with their passwords sealed; the settings file may declare more
(read-only in the admin API), which is how the conformance kit and configuration-as-code
set them.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from hub.channel import is_loopback
from hub.errors import ConfigError, InvalidRequest

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
ADDRESS = re.compile(r"^[^@\s<>()\",;:]+@[A-Za-z0-9.-]+\.?[A-Za-z0-9-]*$")
SECRETS = ("imap_password", "smtp_password")


class Account(BaseModel):
    """One mailbox the hub serves. Every field an admin may set is here, with its default."""

    name: str
    """Short stable name; conversations record it as the address the customer wrote to."""
    address: str
    """The mailbox's address: replies come from it, and mail from it is never answered."""
    display_name: str = ""
    imap_host: str
    imap_port: int = Field(default=993, ge=1, le=65535)
    imap_security: Literal["tls", "none"] = "tls"
    """``tls`` is IMAPS (993). ``none`` only for a server on this machine's loopback."""
    imap_user: str = ""
    imap_password: str = ""
    folders: list[str] = Field(default_factory=lambda: ["INBOX"], min_length=1)
    processed_folder: str = ""
    """Move each message here once it is stored; empty leaves the mailbox untouched."""
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_user: str = ""
    smtp_password: str = ""
    """Blank user and password: the IMAP login and password are used for SMTP too."""
    smtp_auth: bool = True
    """False for a relay that trusts this host and offers no AUTH."""
    queue: str = "email"
    signature: str = ""
    auto_reply: str = ""
    """Acknowledgement sent once per new conversation (at most once a day per sender);
    never to automatic mail, lists, bounces or ourselves. Empty sends none."""
    message_id_domain: str = ""
    """The domain of our Message-IDs; the address's domain when empty."""
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError("use 1-40 lower-case letters, digits, '-' or '_', from a letter or digit")
        return value

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        if not ADDRESS.match(value.strip()):
            raise ValueError(f"{value!r} is not an email address like support@example.com")
        return value.strip().lower()

    @field_validator("folders")
    @classmethod
    def _folders(cls, value: list[str]) -> list[str]:
        for folder in value:
            if not folder or any(c in folder for c in '\r\n"*%'):
                raise ValueError(f"{folder!r} is not a folder name")
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _plaintext_only_on_loopback(self) -> Account:
        if self.imap_security == "none" and not is_loopback(self.imap_host):
            raise ValueError("IMAP without TLS is allowed only to a server on this machine (127.0.0.1)")
        if self.smtp_host and self.smtp_security == "none" and not is_loopback(self.smtp_host):
            raise ValueError("SMTP without TLS is allowed only to a server on this machine (127.0.0.1)")
        return self

    @property
    def login(self) -> str:
        return self.imap_user or self.address

    @property
    def domain(self) -> str:
        return self.message_id_domain or self.address.rpartition("@")[2]

    @property
    def own_addresses(self) -> frozenset[str]:
        return frozenset({self.address, self.login.lower(), (self.smtp_user or self.address).lower()})

    def public(self) -> dict[str, Any]:
        """The account as the admin API shows it: never a password."""
        data = self.model_dump(exclude=set(SECRETS))
        data["has_imap_password"] = bool(self.imap_password)
        data["has_smtp_password"] = bool(self.smtp_password or self.imap_password)
        return data


def parse_account(data: dict[str, Any]) -> Account:
    """An account from an admin's JSON; ``InvalidRequest`` naming the first wrong field."""
    try:
        return Account(**data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "account"
        raise InvalidRequest("invalid_account", f"{where}: {first['msg']}") from err


class EmailConfig(BaseModel):
    """``[plugins.email]``: how the channel behaves for every account."""

    accounts: list[dict[str, Any]] = Field(default_factory=list)
    """Accounts declared in the settings file (read-only in the admin API)."""
    sweep_seconds: float = Field(default=60, gt=0)
    """How often a mailbox is searched for new UIDs even when IDLE said nothing."""
    idle_renew_seconds: float = Field(default=29 * 60, gt=0)
    batch: int = Field(default=100, ge=1, le=1000)
    """Messages fetched per UID FETCH."""
    command_timeout: float = Field(default=60, gt=0)
    reconnect_max_seconds: float = Field(default=60, gt=0)
    watch_lease_seconds: float = Field(default=30, gt=0)
    """Each account is watched by one hub process, which holds a lease on it and renews it
    every third of this; when that process dies another takes the account within this."""
    login_retry_seconds: float = Field(default=300, gt=0)
    """After the server refused the password: wait this long before trying the same again."""
    max_message_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    max_html_bytes: int = Field(default=512 * 1024, ge=1024)
    parse_attempts: int = Field(default=3, ge=1)
    """A message that fails this many times is quarantined and the mail after it flows on."""
    parse_workers: int = Field(default=1, ge=0, le=32)
    """Worker processes that parse mail (shared by every account); 0 parses on the event loop."""
    parse_seconds: float = Field(default=30, gt=0)
    """A mail whose parse takes longer is a failed try, and its worker is replaced."""
    send_lease_seconds: float = Field(default=120, gt=0)
    """A send in progress holds its message this long; a worker that died lets it lapse."""
    resend_sweep_seconds: float = Field(default=60, gt=0)
    auto_reply_hours: float = Field(default=24, gt=0)

    @classmethod
    def from_settings(cls, section: dict[str, Any]) -> EmailConfig:
        try:
            config = cls(**section)
            for account in config.accounts:
                Account(**account)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"[plugins.email] {where}: {first['msg']}") from err
        return config

    def declared(self) -> list[Account]:
        return [Account(**account) for account in self.accounts]
