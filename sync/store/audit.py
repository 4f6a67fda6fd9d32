"""The audit log: who did what to which installation, and when. Append-only; it outlives an
installation's personal data (the foreign key is set to NULL, never cascaded)."""

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

    async def list(self, installation_id: int) -> builtins.list[AuditEntry]:
        rows = await self.db.fetch("list_audit", installation_id=installation_id)
        return [to_struct(r, AuditEntry) for r in rows]
