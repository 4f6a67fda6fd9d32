"""Installations: one e-conomic agreement connected to one collection account."""

from __future__ import annotations

import builtins
import datetime as dt
import secrets
from typing import Any, Literal

import msgspec

from sync.store.db import Connection, to_struct

Status = Literal["pending", "active", "paused", "revoked", "deleted"]


class Installation(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    agreement_number: int
    installation_key: str
    company_name: str
    status: Status
    collection_state: Literal["none", "ok", "lost"]
    collection_account_id: str | None
    settings: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime
    revoked_at: dt.datetime | None = None


class Installations:
    def __init__(self, db: Connection) -> None:
        self.db = db

    async def create(
        self,
        *,
        agreement_number: int,
        company_name: str,
        now: dt.datetime,
        status: Status = "pending",
    ) -> Installation:
        row = await self.db.fetchrow(
            "create_installation",
            agreement_number=agreement_number,
            installation_key=secrets.token_urlsafe(16),
            company_name=company_name,
            status=status,
            now=now,
        )
        return await self._written(row)

    async def activate(
        self, *, agreement_number: int, company_name: str, now: dt.datetime
    ) -> Installation:
        """Install an agreement: a new active installation, or the existing one made active
        again (``revoked_at`` cleared) with its id, key and history kept."""
        row = await self.db.fetchrow(
            "activate_installation",
            agreement_number=agreement_number,
            installation_key=secrets.token_urlsafe(16),
            company_name=company_name,
            now=now,
        )
        return await self._written(row)

    async def _written(self, row: dict[str, Any] | None) -> Installation:
        """The installation a write just returned the id of, read back whole."""
        assert row is not None
        found = await self.get(int(row["id"]))
        assert found is not None
        return found

    async def get(self, installation_id: int) -> Installation | None:
        row = await self.db.fetchrow("get_installation", id=installation_id)
        return to_struct(row, Installation) if row else None

    async def get_by_agreement(self, agreement_number: int) -> Installation | None:
        row = await self.db.fetchrow(
            "get_installation_by_agreement", agreement_number=agreement_number
        )
        return to_struct(row, Installation) if row else None

    async def get_by_key(self, installation_key: str) -> Installation | None:
        row = await self.db.fetchrow("get_installation_by_key", installation_key=installation_key)
        return to_struct(row, Installation) if row else None

    async def list(self) -> builtins.list[Installation]:
        return [to_struct(r, Installation) for r in await self.db.fetch("list_installations")]

    async def set_status(self, installation_id: int, status: Status, *, now: dt.datetime) -> None:
        await self.db.execute("set_installation_status", id=installation_id, status=status, now=now)

    async def change_status(
        self, installation_id: int, *, expected: Status, status: Status, now: dt.datetime
    ) -> bool:
        """Move from ``expected`` to ``status``; False when the installation was not in
        ``expected`` (someone changed it meanwhile): nothing written."""
        count = await self.db.execute(
            "change_installation_status",
            id=installation_id,
            expected=expected,
            status=status,
            now=now,
        )
        return count == 1

    async def save_settings(
        self, installation_id: int, settings: dict[str, Any], *, now: dt.datetime
    ) -> None:
        """Replace the settings document; the caller merged it with the one it read, keeping
        keys it does not know (`sync.company_settings`)."""
        await self.db.execute(
            "save_installation_settings", id=installation_id, settings=settings, now=now
        )
