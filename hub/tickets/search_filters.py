"""The ticket search's filters: what an agent searches by, read from URL query parameters,
each bad value refused with what is wrong and how to write it."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from hub.errors import InvalidRequest
from hub.routing.regions import number_forms

MAX_WORDS = 5
PAGING_KEYS = ("limit", "before")
"""Query parameters that are not filters; ``from_query`` leaves them to the caller."""
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


@dataclass(frozen=True, slots=True)
class TicketFilters:
    """What an agent searches tickets by; every field set narrows the search (AND).

    ``phone`` holds digits only (``from_query`` normalises); ``region`` a region path without
    a trailing slash, matching itself and every region below it; ``created_from`` is
    inclusive and ``created_to`` exclusive, both timezone-aware; ``overdue`` is true for open
    tickets whose step is past due, false for the rest; ``text`` is words that must all
    appear in the title or the description.
    """

    customer_id: int | None = None
    phone: str | None = None
    number: str | None = None
    type: str | None = None
    status: str | None = None
    region: str | None = None
    unit_id: int | None = None
    handler_id: int | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    overdue: bool | None = None
    text: str | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str], *,
                   ignore: Collection[str] = PAGING_KEYS) -> TicketFilters:
        """The filters named in URL query parameters (names as the fields; ``unit`` and
        ``handler`` are accepted for ``unit_id`` and ``handler_id``). Empty values count as
        absent. A bad value, a repeated filter or an unknown name raises
        ``InvalidRequest("bad_filter")`` saying which and why; names in ``ignore`` are left
        to the caller."""
        values: dict[str, Any] = {}
        for name, raw in query.items():
            if name in ignore:
                continue
            field = _ALIASES.get(name, name)
            if field not in _PARSERS:
                raise InvalidRequest("bad_filter", f"unknown filter {name[:40]!r}; filters are "
                                     f"{', '.join(_PARSERS)}")
            if field in values:  # a MultiDict repeats names: "status=open&status=closed"
                raise InvalidRequest("bad_filter", f"{name}: given twice")
            if raw.strip():
                values[field] = _PARSERS[field](raw.strip(), name)
        filters = cls(**values)
        if filters.created_from and filters.created_to and filters.created_from >= filters.created_to:
            raise InvalidRequest("bad_filter", "created_from must be before created_to")
        return filters

    def as_log(self) -> dict[str, Any]:
        """The filters as stored in ``TicketSearch.query``: set fields only, dates in ISO 8601."""
        return {name: value.isoformat() if isinstance(value, datetime) else value
                for name, value in asdict(self).items() if value is not None and value != ""}


def _bad(name: str, why: str) -> InvalidRequest:
    return InvalidRequest("bad_filter", f"{name}: {why}")


def _ident(raw: str, name: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1 or len(raw) > 18:
        raise _bad(name, f"{raw[:40]!r} is not an id (a positive whole number)")
    return int(raw)


def _phone(raw: str, name: str) -> str:
    forms = number_forms(raw)
    if not forms or not 3 <= len(forms[0]) <= 20:
        raise _bad(name, f"{raw[:40]!r} is not a phone number (digits, spaces, dashes, a leading +)")
    return "".join(ch for ch in raw.replace("+", "00", 1) if ch.isdigit())


def _word(limit: int) -> Any:
    def parse(raw: str, name: str) -> str:
        if len(raw) > limit:
            raise _bad(name, f"at most {limit} characters")
        return raw
    return parse


def _status(raw: str, name: str) -> str:
    if raw not in ("open", "closed"):
        raise _bad(name, f"{raw[:40]!r} is not a status; use 'open' or 'closed'")
    return raw


def _region(raw: str, name: str) -> str:
    path = raw.strip("/")
    if not path or len(path) > 120 or any(not part.strip() for part in path.split("/")):
        raise _bad(name, f"{raw[:40]!r} is not a region path like 'guangdong/shenzhen'")
    return path


def _moment(end_of_day: bool) -> Any:
    """An ISO 8601 date or date-time; naive ones are UTC. A bare date as the end of a range
    means the whole of that day."""
    def parse(raw: str, name: str) -> datetime:
        try:
            if len(raw) == 10:
                day = date.fromisoformat(raw)
                at = datetime.combine(day + timedelta(days=1 if end_of_day else 0), time(), UTC)
            else:
                at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError as err:
            raise _bad(name, f"{raw[:40]!r} is not a date (2026-01-31) or date-time "
                       "(2026-01-31T08:00:00+08:00)") from err
        return at if at.tzinfo else at.replace(tzinfo=UTC)
    return parse


def _flag(raw: str, name: str) -> bool:
    if raw.lower() not in (*_TRUE, *_FALSE):
        raise _bad(name, f"{raw[:40]!r} is not true or false")
    return raw.lower() in _TRUE


def _text(raw: str, name: str) -> str:
    words = raw.split()
    if len(words) > MAX_WORDS or len(raw) > 100:
        raise _bad(name, f"at most {MAX_WORDS} words and 100 characters")
    return " ".join(words)


_PARSERS: dict[str, Any] = {
    "customer_id": _ident, "phone": _phone, "number": _word(30), "type": _word(40),
    "status": _status, "region": _region, "unit_id": _ident, "handler_id": _ident,
    "created_from": _moment(end_of_day=False), "created_to": _moment(end_of_day=True),
    "overdue": _flag, "text": _text,
}
_ALIASES = {"customer": "customer_id", "unit": "unit_id", "handler": "handler_id"}
assert set(_PARSERS) == {f.name for f in fields(TicketFilters)}
