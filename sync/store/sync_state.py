"""Per installation and stream: the cursor, the checkpoint of a scan under way, the last successes.

Streams: ``reference`` (journals, accounts, years, terms, base currency: cached reference data in
the checkpoint), ``invoices`` and ``customers`` (a scan's checkpoint, the customers' incremental
cursor), ``events``, ``hints`` (whether e-conomic's webhooks announce what the scans find:
`sync.backfill.Announcements`). A checkpoint is saved in the same transaction as the page it
follows, so a crash resumes at the last stored page: never a page twice, never one skipped.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from sync.store.db import Connection, to_struct


class StreamState(msgspec.Struct, frozen=True, kw_only=True):
    installation_id: int
    stream: str
    cursor: str | None = None
    checkpoint: dict[str, Any] = {}
    last_success_at: dt.datetime | None = None
    last_complete_scan_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


class SyncState:
    def __init__(self, db: Connection) -> None:
        self.db = db

    async def get(self, installation_id: int, stream: str) -> StreamState:
        row = await self.db.fetchrow(
            "get_sync_state", installation_id=installation_id, stream=stream
        )
        if row is None:
            return StreamState(installation_id=installation_id, stream=stream)
        return to_struct(row, StreamState)

    async def save(
        self,
        installation_id: int,
        stream: str,
        *,
        checkpoint: dict[str, Any],
        cursor: str | None = None,
        now: dt.datetime,
    ) -> None:
        await self.db.execute(
            "save_sync_checkpoint",
            installation_id=installation_id,
            stream=stream,
            cursor=cursor,
            checkpoint=checkpoint,
            now=now,
        )

    async def succeeded(
        self, installation_id: int, stream: str, *, complete: bool, now: dt.datetime
    ) -> None:
        await self.db.execute(
            "mark_sync_success",
            installation_id=installation_id,
            stream=stream,
            complete_at=now if complete else None,
            now=now,
        )

    async def hints_since(self, installation_id: int, *, since: dt.datetime) -> int:
        """How many e-conomic webhook hints for the installation the inbox received at or
        after ``since`` (processed ones are kept a day, `sync.retention`)."""
        row = await self.db.fetchrow(
            "count_economic_hints_since", installation_id=installation_id, since=since
        )
        return int(row["hints"]) if row else 0
