"""The email channel: support mailboxes read over IMAP, replies sent over SMTP."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
import weakref
from collections.abc import Callable
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
    from hub.plugin_state import Lease
    from hub.web.openapi import ApiRegistry

LIVE: weakref.WeakKeyDictionary[Hub, EmailChannel] = weakref.WeakKeyDictionary()
"""Each hub's email channel by its facade: the queue hook reads the account's queue here."""
WATCH = "watch:"
"""Lease ``watch:<account>``: the one hub process that watches that account's folders."""
ACCOUNTS = "email:accounts"
"""Bus topic: an account an admin changed (``{"account": name}``), or a sync asked for
(``{"sync": true}``), for the process that watches it."""


class EmailChannel(Channel):
    """Every enabled account's folders are watched, each by its own IMAP connection, in one
    hub process at a time: the one holding the account's lease (``watch:<account>``)."""

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
        self.leases: dict[str, Lease] = {}
        """Account name -> this process's lease on watching it."""
        self.elsewhere: set[str] = set()
        """Enabled accounts another hub process watches."""
        self._holder = {"host": socket.gethostname(), "pid": os.getpid(), "token": uuid.uuid4().hex}
        self._keeper: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        LIVE[hub] = self

    async def start(self) -> None:
        self._running = True
        await self._take_accounts()
        self._keeper = asyncio.create_task(self._keep_leases(), name="email:leases")
        self._unsubscribe = self.hub.subscribe(ACCOUNTS, self._on_accounts)
        self._refresh_health()
        # Return once every mailbox has synced or said why it cannot: a server that is down
        # does not hold the hub's start-up (it is reported, and retried).
        if self._states:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._answered.wait(), 10)

    async def stop(self) -> None:
        self._running = False
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
            self._keeper = None
        for name in list(self._tasks):
            await self._unwatch(name)
        leases, self.leases = self.leases, {}
        for lease in leases.values():
            # Let go now, so another process (or this hub started again) watches at once.
            with contextlib.suppress(Exception):
                await lease.release()

    async def reload(self, name: str) -> None:
        """Start, restart or stop watching account ``name`` after an admin changed it, here
        and in the hub process that watches it."""
        await self._reload(name)
        await self.hub.publish(ACCOUNTS, {"account": name, "from": self._holder["token"]})

    async def sync_now(self) -> None:
        """Look into every mailbox now rather than at the next IDLE news or sweep, in every
        hub process."""
        self._wake_watchers()
        await self.hub.publish(ACCOUNTS, {"sync": True, "from": self._holder["token"]})

    def _wake_watchers(self) -> None:
        for watchers in self.watchers.values():
            for watcher in watchers:
                watcher.wake.set()

    async def _on_accounts(self, _topic: str, payload: dict[str, Any]) -> None:
        if payload.get("from") == self._holder["token"] or not self._running:
            return
        if payload.get("sync"):
            self._wake_watchers()
        elif payload.get("account"):
            await self._reload(str(payload["account"]))

    async def _reload(self, name: str) -> None:
        held = self.leases.pop(name, None)
        await self._unwatch(name)
        account = await self.accounts.get(name)
        if held is not None and account is not None and account.enabled and self._running:
            self.leases[name] = held  # still ours: watched again with the new settings
            self._watch(account)
        elif held is not None:
            with contextlib.suppress(Exception):
                await held.release()
        elif account is not None and self._running:
            await self._take(account)
        if account is None:
            self.elsewhere.discard(name)
        self._refresh_health()

    async def _take_accounts(self) -> None:
        accounts = await self.accounts.all()
        self.elsewhere &= set(accounts)
        for name in list(self.leases):
            if name not in accounts or not accounts[name].enabled:
                await self._reload(name)  # removed or disabled where this process did not hear it
        for account in accounts.values():
            await self._take(account)

    async def _take(self, account: Account) -> None:
        """Watch ``account`` unless another hub process does (holds its lease)."""
        if account.name in self.leases:
            return
        if not account.enabled:
            self._watch(account)  # its queue only: nothing to watch
            self.elsewhere.discard(account.name)
            return
        lease = await self.hub.lease(f"{WATCH}{account.name}", self.config.watch_lease_seconds,
                                     self._holder)
        if lease is None:
            self.elsewhere.add(account.name)
            return
        self.elsewhere.discard(account.name)
        self.leases[account.name] = lease
        self._watch(account)

    async def _keep_leases(self) -> None:
        """Renew this process's leases, let go of accounts another process took meanwhile,
        and take those nobody watches any more (a process stopped or died, an account added)."""
        while True:
            await asyncio.sleep(self.config.watch_lease_seconds / 3)
            try:
                for name, lease in list(self.leases.items()):
                    # An admin's change may have let it go meanwhile: only a lease still held
                    # and refused means another process took the account.
                    if not await lease.renew() and self.leases.get(name) is lease:
                        self.log.warning("mail account %s is watched by another hub process now; "
                                         "this one lets it go", name)
                        del self.leases[name]
                        await self._unwatch(name)
                        self.elsewhere.add(name)
                await self._take_accounts()
            except Exception as err:
                # The database is away: the watchers go on (what they fetch cannot be stored
                # anyway) and the leases are tried again next time.
                self.log.warning("mail account leases not renewed: %s", err)
            self._refresh_health()

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
        extra: dict[str, Any] = {"mailboxes": {label: state for label, (state, _) in self._states.items()},
                                 "watched_elsewhere": sorted(self.elsewhere)}
        if not states and self.elsewhere:
            # After a crash the "other" process may be the dead one whose lease has not run out.
            names = ", ".join(sorted(self.elsewhere))
            self.report_health(
                HealthState.OK, f"mail accounts watched by another hub process: {names} (this one "
                f"takes them within {self.config.watch_lease_seconds:g} s if that one is gone)", **extra)
        elif not states or all(s == "ok" for s in states):
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
