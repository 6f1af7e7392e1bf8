"""Admins manage mail accounts: list, save (credentials checked first), remove, check, and
see the messages that were quarantined because they could not be read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from hub.errors import NotFound
from hub.models import AgentRole
from hub.web.openapi import ApiRegistry
from plugins.email.accounts import verify

if TYPE_CHECKING:
    from plugins.email.channel import EmailChannel


class AccountBody(BaseModel):
    """A mail account as an admin saves it; blank passwords keep the stored ones."""

    address: str
    display_name: str = ""
    imap_host: str
    imap_port: int = 993
    imap_security: Literal["tls", "none"] = "tls"
    imap_user: str = ""
    imap_password: str = ""
    folders: list[str] = Field(default_factory=lambda: ["INBOX"])
    processed_folder: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_auth: bool = True
    queue: str = "email"
    signature: str = ""
    auto_reply: str = ""
    message_id_domain: str = ""
    enabled: bool = True
    check: bool = True
    """Log in to both servers before saving (turn off only to save a disabled account)."""


class AccountView(BaseModel):
    """A mail account as the admin screen shows it: never a password."""

    name: str
    address: str
    display_name: str
    imap_host: str
    imap_port: int
    imap_security: str
    imap_user: str
    folders: list[str]
    processed_folder: str
    smtp_host: str
    smtp_port: int
    smtp_security: str
    smtp_user: str
    smtp_auth: bool
    queue: str
    signature: str
    auto_reply: str
    message_id_domain: str
    enabled: bool
    has_imap_password: bool
    has_smtp_password: bool
    declared: bool = False
    """Declared in the settings file: change it there."""
    mailboxes: dict[str, str] = Field(default_factory=dict)
    """Each watched folder's state now: starting, ok or down, or elsewhere (another hub process
    watches the account; ask it, or its health)."""


class AccountList(BaseModel):
    """Every mail account."""

    accounts: list[AccountView]


class CheckResult(BaseModel):
    """Both servers accepted the account's credentials."""

    ok: bool


class Quarantined(BaseModel):
    """A message that could not be read after several tries; it stays on the server."""

    account: str
    folder: str
    uidvalidity: int
    uid: int
    size: int
    error: str
    attempts: int
    file: str = ""


class QuarantineList(BaseModel):
    """Quarantined messages, oldest first."""

    messages: list[Quarantined]


def admin_api(channel: EmailChannel) -> ApiRegistry:
    api = ApiRegistry("email", "1")
    hub = channel.hub

    def view(account: Any) -> AccountView:
        prefix = f"{account.name}/"
        states = {label.removeprefix(prefix): state
                  for label, (state, _) in channel._states.items() if label.startswith(prefix)}
        if account.name in channel.elsewhere:
            states = dict.fromkeys(account.folders, "elsewhere")
        return AccountView(**account.public(), declared=account.name in channel.accounts.declared,
                           mailboxes=states)

    @api.route("GET", "/accounts", summary="List mail accounts", role=AgentRole.ADMIN, reply=AccountList)
    async def list_accounts(request: web.Request) -> AccountList:
        accounts = await channel.accounts.all()
        return AccountList(accounts=[view(a) for _, a in sorted(accounts.items())])

    @api.route("PUT", "/accounts/{name}", summary="Create or change a mail account (credentials checked)",
               role=AgentRole.ADMIN, body=AccountBody, reply=AccountView)
    async def save_account(request: web.Request, body: AccountBody) -> AccountView:
        name = request.match_info["name"]
        data = body.model_dump(exclude={"check"})
        account = await channel.accounts.save({**data, "name": name}, check=body.check)
        await hub.audit(request, "account_saved", name,
                        f"{account.address} imap={account.imap_host} smtp={account.smtp_host}")
        await channel.reload(name)
        return view(account)

    @api.route("DELETE", "/accounts/{name}", summary="Remove a mail account", role=AgentRole.ADMIN)
    async def delete_account(request: web.Request) -> dict[str, Any]:
        name = request.match_info["name"]
        if not await channel.accounts.delete(name):
            raise NotFound("mail account")
        await hub.audit(request, "account_removed", name)
        await channel.reload(name)
        return {"removed": name}

    @api.route("POST", "/accounts/{name}/check", summary="Log in to a mail account's servers now",
               role=AgentRole.ADMIN, reply=CheckResult)
    async def check_account(request: web.Request) -> CheckResult:
        account = await channel.accounts.get(request.match_info["name"])
        if account is None:
            raise NotFound("mail account")
        await verify(account)
        return CheckResult(ok=True)

    @api.route("POST", "/sync", summary="Look into every mailbox now", role=AgentRole.ADMIN)
    async def sync(request: web.Request) -> dict[str, Any]:
        await channel.sync_now()
        return {"syncing": sorted(channel.watchers)}

    @api.route("GET", "/quarantine", summary="Messages that could not be read", role=AgentRole.ADMIN,
               reply=QuarantineList)
    async def quarantine(request: web.Request) -> QuarantineList:
        docs = await hub.list_state("quarantine:")
        return QuarantineList(messages=[Quarantined(**doc) for doc in docs.values()])

    return api
