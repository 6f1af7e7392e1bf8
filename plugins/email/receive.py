"""A fetched message becomes a stored one: parsed, threaded, its files kept, ingested once.

The key a message is stored under comes from its Message-ID (or, without one, a hash of its
headers and text) and its sender, per account. The same mail fetched again after a crash,
found again after UIDVALIDITY changed, or present in two watched folders is stored once.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hub.errors import InvalidRequest
from hub.messages import AttachmentRef, InboundMessage
from plugins.email.ids import MessageIds, Verdict
from plugins.email.imap import Fetched
from plugins.email.parse import MailParseError, ParsedMail, Part
from plugins.email.parsing import ParseFailed, Parser, Result
from plugins.email.threads import resolve_thread

if TYPE_CHECKING:
    from collections.abc import Iterator

    from hub.facade import Hub
    from hub.ingest import IngestResult
    from plugins.email.config import Account, EmailConfig

CHANNEL = "email"
_AHEAD = 2
"""Batches of a folder parsed ahead at most: the one to store next and the one after."""
_HEAD_BYTES = 64 * 1024
"""What is parsed of a mail over ``max_message_bytes``: its headers and the start of its text."""


def transient(err: Exception) -> bool:
    """Whether ``err`` says the database or the network failed rather than this message:
    those must not count towards quarantining a good mail."""
    if isinstance(err, (OSError, TimeoutError, ConnectionError)):
        return True
    return any(cls.__module__.startswith(("sqlalchemy", "asyncpg", "sqlite3", "aiosqlite"))
               for cls in type(err).__mro__)


def external_id(account: str, sender: str, dedupe_key: str) -> str:
    digest = hashlib.sha256(f"{sender}\n{dedupe_key}".encode()).hexdigest()[:40]
    return f"{account}:{digest}"


@dataclass(slots=True)
class Outcome:
    """What happened to one fetched message."""

    stored: bool = False
    message_id: int = 0
    bounce_of: int = 0
    new_interaction: bool = False
    mail: ParsedMail | None = None


@dataclass(slots=True)
class Prepared:
    """A parsed, threaded mail: the message to store, or the ``outcome`` when there is none
    (a delivery report about our own mail)."""

    mail: ParsedMail
    message: InboundMessage | None = None
    outcome: Outcome = field(default_factory=Outcome)

    def stored(self, result: IngestResult) -> Outcome:
        return Outcome(stored=result.created, message_id=result.message_id,
                       new_interaction=result.new_interaction, mail=self.mail)


class Receiver:
    """Stores the fetched messages of one account; the ``Store`` its watchers call."""

    def __init__(self, hub: Hub, account: Account, config: EmailConfig, ids: MessageIds,
                 after_store: Any = None) -> None:
        self.hub = hub
        self.account = account
        self.config = config
        self.ids = ids
        self.after_store = after_store
        """Awaited with (account, outcome) after each stored message: acknowledgements."""
        self._failing: set[tuple[str, int, int]] = set()
        """Messages with a failure count in the plugin's state, to clear once they are stored."""
        self.parser = Parser(config.parse_workers, config.parse_seconds)
        self._ahead: dict[tuple[str, tuple[int, ...]], asyncio.Task[list[Result]]] = {}
        """Batches being parsed before their turn to be stored, by folder and UIDs."""

    def ahead(self, folder: str, fetched: list[Fetched]) -> None:
        """Start parsing a batch of ``folder`` that is to be stored after the one being stored now."""
        mine = [key for key in self._ahead if key[0] == folder]
        for key in mine[:max(0, len(mine) - _AHEAD + 1)]:
            self._ahead.pop(key).cancel()  # left by a session that died before storing it
        self._ahead[folder, tuple(item.uid for item in fetched)] = asyncio.ensure_future(
            self.parser.parse_all([self._parsable(item.raw) for item in fetched]))

    def close(self) -> None:
        for task in self._ahead.values():
            task.cancel()
        self._ahead.clear()

    async def _parse(self, folder: str, fetched: list[Fetched]) -> list[Result]:
        task = self._ahead.pop((folder, tuple(item.uid for item in fetched)), None)
        if task is not None:
            return await task
        return await self.parser.parse_all([self._parsable(item.raw) for item in fetched])

    def _parsable(self, raw: bytes) -> bytes:
        # Of a mail over the limit only the headers are kept: parse no more than their room.
        return raw[:_HEAD_BYTES] if len(raw) > self.config.max_message_bytes else raw

    async def __call__(self, folder: str, uidvalidity: int, fetched: list[Fetched]) -> int:
        """Store ``fetched`` in UID order; the highest UID up to which all are stored.

        Every message is parsed and threaded first, then all are stored in one transaction.
        A message that fails before that is quarantined or, while it has tries left, ends the
        batch there; if the transaction fails for one of them, each is stored on its own."""
        pending: dict[str, str] = {}
        ready: list[tuple[Fetched, Prepared | None]] = []
        for item, mail in zip(fetched, await self._parse(folder, fetched), strict=True):
            try:
                prepared = await self.prepare(item.raw, pending, mail)
            except MailParseError as err:
                # Not mail at all: no retry can mend it.
                await self._quarantine(folder, uidvalidity, item, f"not a mail message: {err}", 1)
                ready.append((item, None))
                continue
            except Exception as err:
                if transient(err):
                    raise  # the database or the network, not this message: the session retries
                if not await self._failed(folder, uidvalidity, item, err):
                    break
                ready.append((item, None))
                continue
            if prepared.message is not None:
                pending[prepared.message.external_id] = prepared.message.thread_key
            ready.append((item, prepared))
        results = await self._store_all([p.message for _, p in ready if p is not None and p.message])
        done = 0
        for item, prepared in ready:
            if prepared is not None:
                if prepared.message is None:
                    outcome = prepared.outcome
                elif results is not None:
                    outcome = prepared.stored(next(results))
                else:
                    try:
                        outcome = prepared.stored(await self.hub.ingest(prepared.message))
                    except Exception as err:
                        if transient(err):
                            raise
                        if not await self._failed(folder, uidvalidity, item, err):
                            return done
                        done = item.uid
                        continue
                await self._done(folder, uidvalidity, item, outcome)
            done = item.uid
        return done

    async def _store_all(self, messages: list[InboundMessage]) -> Iterator[IngestResult] | None:
        """The batch's results, or None when one of its messages made it fail."""
        try:
            return iter(await self.hub.ingest_many(messages))
        except Exception as err:
            if transient(err):
                raise
            self.hub.log.info("email %s: a batch of %d failed (%s: %s); storing it message by message",
                              self.account.name, len(messages), type(err).__name__, err)
            return None

    async def _done(self, folder: str, uidvalidity: int, item: Fetched, outcome: Outcome) -> None:
        if (folder, uidvalidity, item.uid) in self._failing:
            self._failing.discard((folder, uidvalidity, item.uid))
            await self.hub.delete_state(self._failed_key(folder, uidvalidity, item.uid))
        if self.after_store is not None and outcome.stored:
            await self.after_store(self.account, outcome)

    async def receive(self, raw: bytes) -> Outcome:
        ready = await self.prepare(raw)
        if ready.message is None:
            return ready.outcome
        return ready.stored(await self.hub.ingest(ready.message))

    async def prepare(self, raw: bytes, pending: dict[str, str] | None = None,
                      parsed: Result | None = None) -> Prepared:
        """Thread a mail, parsed here unless ``parsed`` is given; ``pending`` maps the external
        ids of mails about to be stored with it to their threads, so a reply in the same batch
        joins its original."""
        if parsed is None:
            [parsed] = await self.parser.parse_all([self._parsable(raw)])
        if len(raw) > self.config.max_message_bytes:
            return await self._too_large(raw, pending, parsed)
        if isinstance(parsed, Exception):
            raise parsed
        mail = parsed
        if mail.report is not None and mail.report.original_message_id:
            check = self.ids.check(mail.report.original_message_id)
            if check.verdict is Verdict.OURS:
                await self._bounce(mail, check.message_id)
                return Prepared(mail, outcome=Outcome(bounce_of=check.message_id, mail=mail))
        thread_key = await resolve_thread(self.hub, self.ids, self.account, mail, pending)
        refs, refused = self._files(mail)
        meta = self._meta(mail, refs, refused)
        return Prepared(mail, InboundMessage(
            channel=CHANNEL, external_id=external_id(self.account.name, mail.sender, mail.dedupe_key()),
            sender=mail.sender or "unknown@invalid", thread_key=thread_key,
            text=mail.text or ("(no text: see the attachments)" if refs else ""),
            attachments=tuple(refs), sender_name=mail.sender_name, subject=mail.subject[:300],
            entry=self.account.name, meta=meta,
        ))

    def _files(self, mail: ParsedMail) -> tuple[list[AttachmentRef], list[dict[str, str]]]:
        refs: list[AttachmentRef] = []
        refused: list[dict[str, str]] = []
        parts: list[Part] = [*mail.inline, *mail.attachments]
        for part in parts:
            try:
                refs.append(self.hub.store_file(part.data, part.filename))
            except InvalidRequest as err:
                # The mail is kept without the file; the agent sees which file and why.
                refused.append({"filename": part.filename, "reason": err.message})
        return refs, refused

    def _meta(
        self, mail: ParsedMail, refs: list[AttachmentRef], refused: list[dict[str, str]],
    ) -> dict[str, Any]:
        kept = {ref.sha256 for ref in refs}
        inline = {part.content_id: sha for part in mail.inline
                  if (sha := hashlib.sha256(part.data).hexdigest()) in kept}
        html = mail.html
        truncated = len(html.encode()) > self.config.max_html_bytes
        if truncated:
            html = html.encode()[:self.config.max_html_bytes].decode("utf-8", "ignore")
        meta: dict[str, Any] = {
            "kind": "email", "message_id": mail.message_id, "in_reply_to": list(mail.in_reply_to),
            "references": list(mail.references)[-20:], "from": mail.sender, "from_name": mail.sender_name,
            "reply_to": mail.reply_to, "to": list(mail.to), "cc": list(mail.cc), "subject": mail.subject,
            "date": mail.date.isoformat() if mail.date else "", "account": self.account.name,
        }
        if html:
            meta["html"] = html
            meta["inline"] = inline
        if truncated:
            meta["html_truncated"] = True
        if mail.automatic:
            meta["automatic"] = mail.automatic
        if refused:
            meta["refused_files"] = refused
        if mail.forwarded:
            meta["forwarded"] = [{"from": f.sender, "subject": f.subject,
                                  "date": f.date.isoformat() if f.date else ""} for f in mail.forwarded]
        if mail.defects:
            meta["defects"] = list(mail.defects)[:10]
        return meta

    async def _bounce(self, mail: ParsedMail, message_id: int) -> None:
        report = mail.report
        assert report is not None
        reason = f"{report.recipient}: {report.status} {report.diagnostic}".strip()
        if report.failed:
            await self.hub.record_delivery(message_id, "failed", f"bounced: {reason}"[:500])
        else:
            self.hub.log.info("delivery report for message %s: %s %s", message_id, report.action, reason)

    async def _too_large(self, raw: bytes, pending: dict[str, str] | None, head: Result) -> Prepared:
        if isinstance(head, MailParseError):
            raise InvalidRequest("mail_too_large", f"a message of {len(raw)} bytes") from None
        if isinstance(head, Exception):
            raise head
        mail = head
        note = (f"(This mail is {len(raw) // 1024} KB, over the {self.config.max_message_bytes // 1024} KB "
                f"the hub takes; open it in the mailbox {self.account.address}.)")
        self.hub.log.warning("email %s: a %d-byte message from %s is kept without its body",
                             self.account.name, len(raw), mail.sender)
        return Prepared(mail, InboundMessage(
            channel=CHANNEL, external_id=external_id(self.account.name, mail.sender, mail.dedupe_key()),
            sender=mail.sender or "unknown@invalid",
            thread_key=await resolve_thread(self.hub, self.ids, self.account, mail, pending),
            text=note, sender_name=mail.sender_name, subject=mail.subject[:300], entry=self.account.name,
            meta={"kind": "email", "message_id": mail.message_id, "from": mail.sender,
                  "subject": mail.subject, "too_large": len(raw), "account": self.account.name},
        ))

    def _failed_key(self, folder: str, uidvalidity: int, uid: int) -> str:
        return f"failed:{self.account.name}:{folder}:{uidvalidity}:{uid}"

    async def _failed(self, folder: str, uidvalidity: int, item: Fetched, err: Exception) -> bool:
        """Count a failure; True when the message is now quarantined and the next may go."""
        key = self._failed_key(folder, uidvalidity, item.uid)
        self._failing.add((folder, uidvalidity, item.uid))
        doc = await self.hub.get_state(key) or {"attempts": 0}
        doc["attempts"] += 1
        # ParseFailed already says what went wrong in the parser, its type would add nothing.
        doc["error"] = (str(err) if isinstance(err, ParseFailed) else f"{type(err).__name__}: {err}")[:500]
        if doc["attempts"] < self.config.parse_attempts:
            await self.hub.put_state(key, doc)
            self.hub.log.warning("email %s/%s UID %s failed (attempt %d): %s", self.account.name,
                                 folder, item.uid, doc["attempts"], doc["error"])
            return False
        await self.hub.delete_state(key)
        self._failing.discard((folder, uidvalidity, item.uid))
        await self._quarantine(folder, uidvalidity, item, doc["error"], doc["attempts"])
        return True

    async def _quarantine(self, folder: str, uidvalidity: int, item: Fetched, error: str,
                          attempts: int) -> None:
        """Keep the raw message aside, tell supervisors, and let the next one through."""
        quarantine: dict[str, Any] = {
            "account": self.account.name, "folder": folder, "uidvalidity": uidvalidity,
            "uid": item.uid, "size": len(item.raw), "error": error[:500], "attempts": attempts}
        try:
            ref = self.hub.store_file(item.raw, f"quarantined-{item.uid}.eml")
            quarantine["file"] = ref.sha256
        except InvalidRequest:
            pass  # the message stays on the server, named by folder and UID
        await self.hub.put_state(f"quarantine:{self.account.name}:{folder}:{uidvalidity}:{item.uid}",
                                 quarantine)
        self.hub.log.error("email %s/%s UID %s quarantined after %d attempt(s): %s", self.account.name,
                           folder, item.uid, attempts, error)
        await self.hub.publish("supervisors", {
            "type": "alert", "kind": "email_quarantined", "account": self.account.name,
            "folder": folder, "uid": item.uid, "error": error[:500]})
