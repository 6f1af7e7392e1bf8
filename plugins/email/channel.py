"""The email channel: support mailboxes read over IMAP, replies sent over SMTP."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from typing import TYPE_CHECKING, Any, ClassVar

from hub.channel import Capabilities, Channel, DeliveryStatus, Health, HealthState, SendResult
from hub.messages import OutboundMessage
from plugins.email.accounts import Accounts
from plugins.email.config import Account, EmailConfig
from plugins.email.imap import CursorStore, FolderWatcher
from plugins.email.receive import Outcome, Receiver
from plugins.email.sending import SEND, message_ids

if TYPE_CHECKING:
    from hub.facade import Hub
    from hub.web.openapi import ApiRegistry

LIVE: weakref.WeakKeyDictionary[Hub, EmailChannel] = weakref.WeakKeyDictionary()
"""Each hub's email channel by its facade: the queue hook reads the account's queue here."""


class EmailChannel(Channel):
    """Every enabled account's folders are watched, each by its own IMAP connection."""

    name: ClassVar[str] = "email"
    capabilities: ClassVar[Capabilities] = Capabilities(
        realtime=False, media=("image/*", "application/pdf", "text/plain"), max_text=0)

    def __init__(self, hub: Hub) -> None:
        super().__init__(hub)
        self.config = EmailConfig.from_settings(hub.settings)
        self.accounts = Accounts(hub, self.config)
        self.ids = message_ids(hub)
        self.cursors = CursorStore(hub)
        self.queues: dict[str, str] = {}
        """Account name -> queue, read by ``hub_pick_queue`` on every new conversation."""
        self.watchers: dict[str, list[FolderWatcher]] = {}
        self._tasks: dict[str, list[asyncio.Task[None]]] = {}
        self._receivers: dict[str, Receiver] = {}
        self._states: dict[str, tuple[str, str]] = {}
        self._running = False
        self._answered = asyncio.Event()
        """Set once no mailbox is still starting: each has synced or said why it cannot."""
        LIVE[hub] = self

    async def start(self) -> None:
        self._running = True
        for account in (await self.accounts.all()).values():
            self._watch(account)
        self._refresh_health()
        # Return once every mailbox has synced or said why it cannot: a server that is down
        # does not hold the hub's start-up (it is reported, and retried).
        if self._states:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._answered.wait(), 10)

    async def stop(self) -> None:
        self._running = False
        for name in list(self._tasks):
            await self._unwatch(name)

    async def reload(self, name: str) -> None:
        """Start, restart or stop watching account ``name`` after an admin changed it."""
        await self._unwatch(name)
        account = await self.accounts.get(name)
        if account is not None and self._running:
            self._watch(account)
        self._refresh_health()

    def sync_now(self) -> None:
        """Look into every mailbox now rather than at the next IDLE news or sweep."""
        for watchers in self.watchers.values():
            for watcher in watchers:
                watcher.wake.set()

    async def send(self, out: OutboundMessage) -> SendResult:
        self.hub.enqueue(SEND, out.message_id)
        return SendResult(DeliveryStatus.PENDING)

    async def health(self) -> Health:
        return self.current_health

    def admin_api(self) -> ApiRegistry | None:
        from plugins.email.admin import admin_api

        return admin_api(self)

    def _watch(self, account: Account) -> None:
        self.queues[account.name] = account.queue
        if not account.enabled:
            return
        receiver = Receiver(self.hub, account, self.config, self.ids, after_store=self._acknowledge)
        watchers = [
            FolderWatcher(account, folder, self.config, receiver, self.cursors,
                          report=lambda state, detail, key=f"{account.name}/{folder}": self._report(
                              key, state, detail), ahead=receiver.ahead)
            for folder in account.folders
        ]
        self.watchers[account.name] = watchers
        self._receivers[account.name] = receiver
        self._tasks[account.name] = [
            asyncio.create_task(w.run(), name=f"email:{w.label}") for w in watchers]
        for w in watchers:
            self._states[w.label] = ("starting", "")

    async def _unwatch(self, name: str) -> None:
        tasks = self._tasks.pop(name, [])
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for watcher in self.watchers.pop(name, []):
            self._states.pop(watcher.label, None)
        receiver = self._receivers.pop(name, None)
        if receiver is not None:
            receiver.close()
        self.queues.pop(name, None)

    def _report(self, label: str, state: str, detail: str) -> None:
        before, said = self._states.get(label, ("starting", ""))
        self._states[label] = (state, detail)
        # The channel's health line is the warning; these say which mailbox and why, once per
        # change (a refused password after a dropped connection is a change), not per retry.
        if state == "down" and (before != "down" or detail != said):
            self.log.info("mailbox %s is down: %s", label, detail)
        elif state == "ok" and before == "down":
            self.log.info("mailbox %s is back", label)
        if all(state != "starting" for state, _ in self._states.values()):
            self._answered.set()
        self._refresh_health()

    def _refresh_health(self) -> None:
        states = [state for state, _ in self._states.values()]
        down = {label: detail for label, (state, detail) in self._states.items() if state == "down"}
        extra: dict[str, Any] = {"mailboxes": {label: state for label, (state, _) in self._states.items()}}
        if not states or all(s == "ok" for s in states):
            self.report_health(HealthState.OK, "" if states else "no mail accounts configured", **extra)
        elif "starting" in states and not down:
            self.report_health(HealthState.STARTING, "connecting", **extra)
        elif len(down) == len(states):
            self.report_health(HealthState.DOWN, "; ".join(down.values())[:300], **extra)
        else:
            self.report_health(HealthState.DEGRADED, "; ".join(down.values())[:300], **extra)

    async def _acknowledge(self, account: Account, outcome: Outcome) -> None:
        """Answer a new conversation's first mail once, unless it must not be answered."""
        mail = outcome.mail
        if not (account.auto_reply and outcome.new_interaction and mail is not None):
            return
        if mail.automatic or not mail.sender or mail.sender in account.own_addresses:
            return
        # RFC 3834: not the same sender again and again; the lease is the rate limit.
        if not await self.hub.claim(f"ack:{account.name}:{mail.sender}",
                                    self.config.auto_reply_hours * 3600):
            return
        message = await self.hub.message(outcome.message_id)
        await self.hub.reply(int(message["interaction_id"]), account.auto_reply,
                             client_id=f"ack-{outcome.message_id}")
