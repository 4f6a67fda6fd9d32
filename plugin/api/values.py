"""Small conversions every ``/api/v1`` answer shares."""

from __future__ import annotations

import datetime as dt
from typing import overload


@overload
def as_utc(at: dt.datetime) -> dt.datetime: ...
@overload
def as_utc(at: None) -> None: ...
@overload
def as_utc(at: dt.datetime | None) -> dt.datetime | None: ...


def as_utc(at: dt.datetime | None) -> dt.datetime | None:
    """A timestamp as the API writes it: RFC 3339 UTC (a naive one is taken as UTC)."""
    if at is None:
        return None
    return at.astimezone(dt.UTC) if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
