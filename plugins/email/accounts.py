"""Where accounts live: declared in settings, or saved by admins into the plugin's state.

Saving checks the credentials against the real servers first, so a wrong password is a
clear answer to the admin who typed it, not a retry loop in a log nobody reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.errors import AuthFailed, ChannelError, InvalidRequest, NotReady
from plugins.email.config import SECRETS, Account, EmailConfig, parse_account
from plugins.email.imap import check_imap
from plugins.email.smtp import check_login

if TYPE_CHECKING:
    from hub.facade import Hub

KEY = "account:"


class Accounts:
    """The accounts the channel serves; the admin API reads and writes through this."""

    def __init__(self, hub: Hub, config: EmailConfig) -> None:
        self.hub = hub
        self.declared = {a.name: a for a in config.declared()}
        self._unreadable: dict[str, str] = {}
        """Stored accounts that could not be read, with why: said once, not at every look."""

    async def all(self) -> dict[str, Account]:
        saved = await self.hub.list_state(KEY)
        accounts = {}
        for key, doc in saved.items():
            account = self._open(doc)
            if account is not None and account.name not in self.declared:
                accounts[key.removeprefix(KEY)] = account
        return {**accounts, **self.declared}

    async def get(self, name: str) -> Account | None:
        if name in self.declared:
            return self.declared[name]
        doc = await self.hub.get_state(KEY + name)
        return None if doc is None else self._open(doc)

    async def save(self, data: dict[str, Any], *, check: bool = True) -> Account:
        """Validate, check the credentials (unless told not to), seal and store; returns the
        account. Blank passwords keep the ones stored before (the form never shows them)."""
        if data.get("name") in self.declared:
            raise InvalidRequest("account_declared",
                                 "this account is declared in the settings file; change it there",
                                 status=409)
        before = await self.get(str(data.get("name", "")))
        merged = dict(data)
        for secret in SECRETS:
            if not merged.get(secret) and before is not None:
                merged[secret] = getattr(before, secret)
        account = parse_account(merged)
        if check:
            await verify(account)
        doc = account.model_dump()
        for secret in SECRETS:
            doc[secret] = self.hub.seal(doc[secret]) if doc[secret] else ""
        await self.hub.put_state(KEY + account.name, doc)
        return account

    async def delete(self, name: str) -> bool:
        if name in self.declared:
            raise InvalidRequest("account_declared",
                                 "this account is declared in the settings file; remove it there",
                                 status=409)
        return await self.hub.delete_state(KEY + name)

    def _open(self, doc: dict[str, Any]) -> Account | None:
        data = dict(doc)
        try:
            for secret in SECRETS:
                data[secret] = self.hub.unseal(data[secret]) if data.get(secret) else ""
            return Account(**data)
        except ValueError as err:
            name = str(doc.get("name"))
            if self._unreadable.get(name) != str(err):
                self.hub.log.error("email account %r cannot be read (%s); save it again", name, err)
            self._unreadable[name] = str(err)
            return None


async def verify(account: Account) -> None:
    """Log in to the account's IMAP and SMTP servers; ``InvalidRequest`` saying what failed."""
    try:
        await check_imap(account)
    except AuthFailed as err:
        raise InvalidRequest("imap_login_refused", str(err)) from err
    except (NotReady, ChannelError) as err:
        raise InvalidRequest("imap_unreachable", f"could not check the IMAP server: {err}") from err
    if not account.smtp_host:
        return
    try:
        await check_login(smtp_server(account))
    except AuthFailed as err:
        raise InvalidRequest("smtp_login_refused", str(err)) from err
    except (NotReady, ChannelError) as err:
        raise InvalidRequest("smtp_unreachable", f"could not check the SMTP server: {err}") from err


def smtp_server(account: Account) -> Any:
    from plugins.email.smtp import SmtpServer

    if not account.smtp_auth:
        return SmtpServer(host=account.smtp_host, port=account.smtp_port, security=account.smtp_security)
    password = account.smtp_password or account.imap_password
    username = account.smtp_user or account.login
    return SmtpServer(host=account.smtp_host, port=account.smtp_port, security=account.smtp_security,
                      username=username, password=password)
