"""Write-off proposals: a written-off case's remaining principal, split into net and VAT per
claim, waiting in ``approvals`` (kind ``writeoff``, subject the case id) for an admin.

States: ``pending`` (proposed), ``approved`` (an admin approved it: the ``pushback.writeoff``
job posts its voucher through the outbox), ``rejected`` (kept for the record; nothing sets it
yet). One proposal per case: a case.closed delivered again finds it there.
"""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Any, Literal

import msgspec

from sync.store.db import Connection, to_struct

WriteOffState = Literal["pending", "approved", "rejected"]
WRITEOFF_STATES: tuple[WriteOffState, ...] = ("pending", "approved", "rejected")


class StoredWriteOff(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    installation_id: int
    subject: str
    """The case id."""
    payload: dict[str, Any]
    state: WriteOffState
    decided_by: int | None = None
    created_at: dt.datetime
    decided_at: dt.datetime | None = None

    @property
    def case_id(self) -> str:
        return self.subject


class WriteOffs:
    def __init__(self, db: Connection) -> None:
        self.db = db

    async def propose(
        self, installation_id: int, case_id: str, payload: dict[str, Any], *, now: dt.datetime
    ) -> StoredWriteOff:
        """Store the proposal unless the case has one; the stored proposal either way."""
        await self.db.execute(
            "add_writeoff",
            installation_id=installation_id,
            case_id=case_id,
            payload=payload,
            now=now,
        )
        found = await self.of_case(installation_id, case_id)
        assert found is not None
        return found

    async def of_case(self, installation_id: int, case_id: str) -> StoredWriteOff | None:
        row = await self.db.fetchrow(
            "writeoff_of_case", installation_id=installation_id, case_id=case_id
        )
        return to_struct(row, StoredWriteOff) if row is not None else None

    async def get(self, installation_id: int, writeoff_id: int) -> StoredWriteOff | None:
        row = await self.db.fetchrow("writeoff", id=writeoff_id, installation_id=installation_id)
        return to_struct(row, StoredWriteOff) if row is not None else None

    async def list(
        self,
        installation_id: int,
        *,
        state: WriteOffState | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> builtins.list[StoredWriteOff]:
        rows = await self.db.fetch(
            "list_writeoffs",
            installation_id=installation_id,
            state=state,
            after=after,
            limit=limit,
        )
        return [to_struct(r, StoredWriteOff) for r in rows]

    async def approve(
        self, installation_id: int, writeoff_id: int, *, user_id: int | None, now: dt.datetime
    ) -> bool:
        """Pending → approved; False when it was not pending."""
        count = await self.db.execute(
            "approve_writeoff",
            id=writeoff_id,
            installation_id=installation_id,
            user_id=user_id,
            now=now,
        )
        return count == 1

    async def claims_of_case(self, installation_id: int, case_id: str) -> builtins.list[int]:
        rows = await self.db.fetch(
            "claims_of_case", installation_id=installation_id, case_id=case_id
        )
        return [int(r["invoice_number"]) for r in rows]
