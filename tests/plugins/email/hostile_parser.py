"""Parsers that misbehave the way a pathological mail can make a real one misbehave: the
worker processes import these by name, as they import the real parser."""

from __future__ import annotations

import os
import time

from plugins.email.parse import ParsedMail, parse


def hangs_or_dies(raw: bytes) -> ParsedMail:
    """``parse``, except that a mail saying HANG never finishes and one saying DIE kills the process."""
    if b"HANG" in raw:
        time.sleep(3600)
    if b"DIE" in raw:
        os._exit(3)
    if b"TRIP" in raw:
        raise RecursionError("maximum recursion depth exceeded")
    return parse(raw)


def worker_pid(raw: bytes) -> ParsedMail:
    """Which process parsed: its pid as the subject."""
    return ParsedMail(subject=str(os.getpid()))
