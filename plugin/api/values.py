"""Small conversions every ``/api/v1`` route shares: timestamps out, numbers and filters in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TypeVar, overload

from plugin.api.errors import Invalid

T = TypeVar("T", bound=str)
MAX_DIGITS = 18  # ids and numbers are BIGINT: a longer one cannot exist


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


def path_number(text: str) -> int | None:
    """A path segment as the positive number it names (an id, an invoice); None for anything
    that cannot be one (signs, spaces, non-ASCII digits, 0, more digits than a BIGINT has)."""
    if not text.isascii() or not text.isdigit() or len(text) > MAX_DIGITS:
        return None
    return int(text) or None


def one_of(text: str | None, choices: Sequence[T], *, name: str = "state") -> T | None:
    """A query filter as one of ``choices``; None when left out; 422 for anything else."""
    if not text:
        return None
    for choice in choices:
        if text == choice:
            return choice
    raise Invalid("invalid_parameter", f"{name} must be one of " + ", ".join(choices))
