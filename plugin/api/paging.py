"""Paging of ``/api/v1`` lists: ``?cursor=&limit=`` in, ``{items, next_cursor}`` out.

The cursor is opaque to callers: the position after the last item of a page (today the last
id), base64url-encoded JSON so it can carry more later without changing its look. It grants
nothing: a list is scoped to the caller whatever cursor is sent. ``next_cursor`` is left out on
the last page. An empty parameter counts as absent (``?cursor=&limit=`` is the first page).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from plugin.api.errors import Invalid
from plugin.api.registry import Param

T = TypeVar("T")
DEFAULT_LIMIT = 100
MAX_LIMIT = 500


class PageRequest(msgspec.Struct, frozen=True, kw_only=True):
    after: int
    limit: int


class _Position(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    after: int


def encode_cursor(after: int) -> str:
    raw = msgspec.json.encode(_Position(after=after))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        after = msgspec.json.decode(raw, type=_Position).after
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise Invalid("invalid_cursor", "cursor is not one this API gave out") from None
    if not 0 <= after < 2**63:  # a row id: PostgreSQL BIGINT
        raise Invalid("invalid_cursor", "cursor is not one this API gave out")
    return after


def parse_limit(text: str | None) -> int:
    if not text:
        return DEFAULT_LIMIT
    # length first: int() of thousands of digits is refused (and slow) before it is compared
    if not (text.isascii() and text.isdigit() and len(text) <= 3 and 1 <= int(text) <= MAX_LIMIT):
        raise Invalid("invalid_limit", f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(text)


def page_request(query: Mapping[str, str]) -> PageRequest:
    cursor = query.get("cursor")
    return PageRequest(
        after=decode_cursor(cursor) if cursor else 0, limit=parse_limit(query.get("limit"))
    )


def page_of(
    found: Sequence[T], page: PageRequest, *, key: Callable[[T], int]
) -> tuple[Sequence[T], str | UnsetType]:
    """A page out of ``found`` (read with one more than ``page.limit``, to tell whether more
    follow): its items and the ``next_cursor`` after them, left out on the last page."""
    shown = found[: page.limit]
    more = len(found) > page.limit
    return shown, encode_cursor(key(shown[-1])) if more else UNSET


# The query parameters of every paged list, as openapi.json describes them.
PAGING = (
    Param(
        name="cursor",
        location="query",
        description="next_cursor of the previous page; leave out for the first",
        schema={"type": "string"},
    ),
    Param(
        name="limit",
        location="query",
        description="items a page, at most",
        schema={"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    ),
)
