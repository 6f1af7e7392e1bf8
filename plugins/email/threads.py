"""Which conversation a mail belongs to: the first rule that matches wins.

1. An id in In-Reply-To or References that we made and signed: that message's thread.
   An id that looks like ours but fails the signature was forged and joins nothing.
2. An id of the customer's own earlier mail to this account (stored under the same sender).
3. A ticket number in the subject (``[#T2026...]``) whose conversation was with this sender.
4. Otherwise a new thread.

Thread keys are ``<account>|<sender>|<hash>``: a stranger cannot join a customer's thread by
naming a Message-ID they never received from us.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from hub.errors import NotFound
from plugins.email.ids import MessageIds, Verdict

if TYPE_CHECKING:
    from hub.facade import Hub
    from plugins.email.config import Account
    from plugins.email.parse import ParsedMail

TICKET_TAG = re.compile(r"\[#(T\d{8,20})\]")


def new_thread_key(account: str, sender: str, dedupe_key: str) -> str:
    return f"{account}|{sender}|{hashlib.sha256(dedupe_key.encode()).hexdigest()[:16]}"


def thread_sender(thread_key: str) -> str:
    parts = thread_key.split("|")
    return parts[1] if len(parts) == 3 else ""


async def resolve_thread(hub: Hub, ids: MessageIds, account: Account, mail: ParsedMail,
                         pending: Mapping[str, str] | None = None) -> str:
    """The thread key for ``mail``; ``pending`` maps the external ids of mails being stored in
    the same batch (not yet in the database) to their thread keys."""
    from plugins.email.receive import external_id

    candidates = [*mail.in_reply_to, *reversed(mail.references)]
    for mid in dict.fromkeys(candidates):
        check = ids.check(mid)
        if check.verdict is Verdict.OURS:
            try:
                return str((await hub.message(check.message_id))["thread_key"])
            except NotFound:
                continue
        if check.verdict is Verdict.FORGED:
            hub.log.warning("email %s: mail from %s names <%s>, which looks like ours but is not "
                            "signed by us; treated as a new message", account.name, mail.sender, mid)
            continue
        earlier_id = external_id(account.name, mail.sender, f"id:{mid}")
        if pending and earlier_id in pending:
            return pending[earlier_id]
        earlier = await hub.find_message(earlier_id)
        if earlier is not None:
            return str(earlier["thread_key"])
    tag = TICKET_TAG.search(mail.subject)
    if tag is not None:
        thread = await hub.ticket_thread(tag.group(1))
        if thread is not None and thread_sender(thread) == mail.sender:
            return thread
    return new_thread_key(account.name, mail.sender, mail.dedupe_key())
