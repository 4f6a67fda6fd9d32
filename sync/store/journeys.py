"""Everything that happened to one claim, read for its journey page: what people did (the
audit log), its handover jobs, the collection platform's events (`sync.store.inbox.Timeline`)
and our vouchers that pay towards it; and the claims page's search by number."""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Any

import msgspec

from sync.store.audit import AuditEntry
from sync.store.claims import StoredClaim
from sync.store.db import Connection, to_struct

MATCH_LIMIT = 200


class HandoverJob(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    state: str
    created_at: dt.datetime
    finished_at: dt.datetime | None


class OwnPayment(msgspec.Struct, frozen=True, kw_only=True):
    """One of our vouchers' payment of this invoice: ``amount`` is the principal."""

    outbox_id: int
    amount: int
    journal_number: int
    voucher_number: int | None
    booked_at: dt.datetime | None
    state: str
    created_at: dt.datetime
    sent_at: dt.datetime | None
    idempotency_key: str


class Journeys:
    def __init__(self, db: Connection) -> None:
        self.db = db

    async def matching(self, installation_id: int, number: int) -> builtins.list[StoredClaim]:
        rows = await self.db.fetch(
            "claims_matching", installation_id=installation_id, number=number, limit=MATCH_LIMIT
        )
        return [to_struct(r, StoredClaim) for r in rows]

    async def audit(self, installation_id: int, invoice: int) -> builtins.list[AuditEntry]:
        rows = await self.db.fetch(
            "audit_of_invoice", installation_id=installation_id, invoice_number=invoice
        )
        return [to_struct(r, AuditEntry) for r in rows]

    async def handovers(self, installation_id: int, dedupe_key: str) -> builtins.list[HandoverJob]:
        rows = await self.db.fetch(
            "handover_jobs_of_invoice", installation_id=installation_id, dedupe_key=dedupe_key
        )
        return [to_struct(r, HandoverJob) for r in rows]

    async def payments(self, installation_id: int, invoice: int) -> builtins.list[OwnPayment]:
        rows: list[dict[str, Any]] = await self.db.fetch(
            "own_payments_of_invoice", installation_id=installation_id, invoice_number=invoice
        )
        return [to_struct(r, OwnPayment) for r in rows]
