"""The audit log: who did what to which installation, and when. Append-only; it outlives an
installation's personal data (the foreign key is set to NULL, never cascaded).

`AuditLog.search` pages one installation's entries newest first by id (the order they were
written in), with an action filter and a case-insensitive text search over the actor, the action
and the detail's JSON text; the cursor is the id of the last entry shown."""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Any

import msgspec

from sync.store.db import Connection, to_struct


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    installation_id: int | None
    actor: str
    action: str
    detail: dict[str, Any]
    at: dt.datetime


class AuditLog:
    def __init__(self, db: Connection) -> None:
        self.db = db

    async def record(
        self,
        *,
        installation_id: int | None,
        actor: str,
        action: str,
        at: dt.datetime,
        detail: dict[str, Any] | None = None,
    ) -> int:
        row = await self.db.fetchrow(
            "record_audit",
            installation_id=installation_id,
            actor=actor,
            action=action,
            detail=detail or {},
            at=at,
        )
        assert row is not None
        return int(row["id"])

    async def search(
        self,
        installation_id: int,
        *,
        action: str = "",
        text: str = "",
        before: int = 0,
        limit: int = 100,
    ) -> tuple[builtins.list[AuditEntry], int | None]:
        """A page of entries newest first, and the cursor of the next (older) page or None."""
        rows = await self.db.fetch(
            "search_audit",
            installation_id=installation_id,
            before=before,
            action=action,
            pattern=like_pattern(text),
            limit=limit + 1,
        )
        entries = [to_struct(r, AuditEntry) for r in rows[:limit]]
        return entries, entries[-1].id if len(rows) > limit else None

    async def actions(self, installation_id: int) -> builtins.list[str]:
        rows = await self.db.fetch("audit_actions", installation_id=installation_id)
        return [str(r["action"]) for r in rows]

    async def list(self, installation_id: int) -> builtins.list[AuditEntry]:
        rows = await self.db.fetch("list_audit", installation_id=installation_id)
        return [to_struct(r, AuditEntry) for r in rows]


def like_pattern(text: str) -> str:
    """A lower-case ``LIKE … ESCAPE '\\'`` pattern finding ``text`` anywhere; '' for no text.
    The wildcards a person types are matched as themselves."""
    text = text.strip().lower()
    if not text:
        return ""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
