"""The webhook inbox: raw deliveries from both platforms, stored before they are acknowledged.

One row per delivery (DESIGN.md, Storage): ``source`` (``economic`` or ``collection``),
``installation_id``, ``dedupe_key`` (unique: a delivery whose key is stored already is a
duplicate and adds nothing), ``topic`` (the e-conomic hint's topic, or the collection event's
type), ``headers``, ``body`` (raw bytes), ``state`` (``new`` until processed), ``received_at``.
`insert_entry` runs inside the caller's transaction, so the writer of `webhooks.inbox` can
commit many deliveries, and the jobs they make, at once.
"""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Literal

import msgspec

from sync.store.db import Connection, to_struct

Source = Literal["economic", "collection"]
InboxState = Literal["new", "processed", "rejected"]


class NewEntry(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery to store. ``processed`` when it was dealt with in the transaction that
    stores it (an e-conomic hint whose job is enqueued with it)."""

    source: Source
    installation_id: int
    dedupe_key: str
    topic: str
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    body: bytes = b""
    state: InboxState = "new"


class InboxEntry(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    source: Source
    installation_id: int | None
    dedupe_key: str
    topic: str
    headers: dict[str, str]
    body: bytes | None
    state: InboxState
    received_at: dt.datetime
    processed_at: dt.datetime | None


async def insert_entry(tx: Connection, entry: NewEntry, *, now: dt.datetime) -> int | None:
    """Store ``entry`` received ``now``: its row's id, or None when a delivery of its key is
    stored already."""
    row = await tx.fetchrow(
        "insert_inbox_entry",
        source=entry.source,
        installation_id=entry.installation_id,
        dedupe_key=entry.dedupe_key,
        topic=entry.topic,
        headers=entry.headers,
        body=entry.body,
        state=entry.state,
        received_at=now,
        processed_at=now if entry.state == "processed" else None,
    )
    return int(row["id"]) if row is not None else None


class Inbox:
    def __init__(self, db: Connection) -> None:
        self.db = db

    async def list(
        self, *, installation_id: int | None = None, source: Source | None = None, limit: int = 100
    ) -> builtins.list[InboxEntry]:
        rows = await self.db.fetch(
            "list_inbox", installation_id=installation_id, source=source, limit=limit
        )
        return [to_struct(r, InboxEntry) for r in rows]

    async def count(self, *, source: Source | None = None) -> int:
        row = await self.db.fetchrow("count_inbox", source=source)
        return int(row["n"]) if row else 0
