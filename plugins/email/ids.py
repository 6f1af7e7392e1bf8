"""Our own Message-IDs: each names the stored message it carries and is signed by the hub.

A reply's In-Reply-To or References then leads straight to the conversation, with no table
of sent ids; a DSN names the message that bounced. An id that looks like ours but fails the
signature was forged (or made by another hub): it joins nothing.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from itsdangerous import Signer

PREFIX = "ch"
_OURS = re.compile(rf"^{PREFIX}\.(\d{{1,18}})\.([A-Za-z0-9_-]{{8,64}})@(.+)$")


class Verdict(enum.Enum):
    NOT_OURS = "not_ours"
    OURS = "ours"
    FORGED = "forged"


@dataclass(frozen=True, slots=True)
class IdCheck:
    verdict: Verdict
    message_id: int = 0


class MessageIds:
    """Makes and checks ids ``ch.<message id>.<signature>@<domain>`` (without <>)."""

    def __init__(self, signer: Signer) -> None:
        self._signer = signer

    def make(self, message_id: int, domain: str) -> str:
        signature = self._signer.get_signature(str(message_id)).decode()
        return f"{PREFIX}.{message_id}.{signature}@{domain}"

    def check(self, value: str) -> IdCheck:
        match = _OURS.match(value.strip().strip("<>"))
        if match is None:
            return IdCheck(Verdict.NOT_OURS)
        number, signature = match.group(1), match.group(2)
        if not self._signer.verify_signature(number.encode(), signature.encode()):
            return IdCheck(Verdict.FORGED)
        return IdCheck(Verdict.OURS, int(number))
