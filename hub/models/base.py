"""Shared column helpers."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, TypeDecorator
from sqlmodel import Field


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always read back timezone-aware.

    SQLite keeps no zone with a timestamp; without this, the same row would come back
    aware from PostgreSQL and naive from SQLite.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def timestamp(**kwargs: Any) -> Any:
    """A timezone-aware timestamp column defaulting to now."""
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kwargs)


def optional_timestamp(**kwargs: Any) -> Any:
    return Field(default=None, sa_type=UTCDateTime, **kwargs)
