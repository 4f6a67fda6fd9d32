"""Everything the store holds about one debtor (a customer of one installation), read for an
export of their personal data, and the statements that erase it (`sync.retention.erase_debtor`).

What we hold is little by design (`sync.store.claims`: names, addresses and e-mails are never
kept): the customer row (group, barred, fingerprints of its debtor document), its claims with
their documents (descriptions and invoice lines), their timelines, the writes about it in the
outbox (payment and write-off vouchers of its invoices, its barred flag), the write-off
proposals of its cases, and the problems about it or its claims.
"""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Any

import msgspec

from sync.store.audit import AuditEntry, AuditLog
from sync.store.claims import Claims, StoredClaim
from sync.store.db import Connection, to_struct
from sync.store.inbox import Timeline, TimelineEntry
from sync.store.outbox import OutboxItem
from sync.store.problems import Problem
from sync.store.writeoffs import StoredWriteOff


class CustomerRow(msgspec.Struct, frozen=True, kw_only=True):
    customer_number: int
    customer_group: int | None = None
    barred: bool = False
    fingerprint: str | None = None
    pushed_fingerprint: str | None = None
    collection_id: str | None = None
    last_updated: dt.datetime | None = None
    problem: str | None = None
    updated_at: dt.datetime | None = None


class DebtorData(msgspec.Struct, frozen=True, kw_only=True):
    customer: CustomerRow | None
    claims: builtins.list[StoredClaim]
    timeline: builtins.list[TimelineEntry]
    outbox: builtins.list[OutboxItem]
    writeoffs: builtins.list[StoredWriteOff]
    problems: builtins.list[Problem]

    def __bool__(self) -> bool:
        return self.customer is not None or bool(self.claims)


def subjects(customer_number: int) -> dict[str, str]:
    """The problem subjects that name the customer itself."""
    return {
        "customer_subject": f"customer:{customer_number}",
        "debtor_subject": f"debtor:{customer_number}",
    }


class Debtors:
    def __init__(self, db: Connection) -> None:
        self.db = db

    async def read(self, installation_id: int, agreement: int, customer_number: int) -> DebtorData:
        """Everything held about one customer (empty when nothing is)."""
        key = {"installation_id": installation_id, "customer_number": customer_number}
        row = await self.db.fetchrow("debtor_customer", **key)
        claims = await Claims(self.db).of_customer(installation_id, customer_number)
        entries: dict[int, TimelineEntry] = {}
        for claim in claims:
            for entry in await Timeline(self.db).of_invoice(installation_id, claim.invoice_number):
                entries[entry.id] = entry
        barred = f"barred:{agreement}:{customer_number}:%"
        outbox = await self.db.fetch("debtor_outbox", **key, barred_keys=barred)
        writeoffs = await self.db.fetch("debtor_writeoffs", **key)
        problems = await self.db.fetch("debtor_problems", **key, **subjects(customer_number))
        return DebtorData(
            customer=to_struct(row, CustomerRow) if row else None,
            claims=claims,
            timeline=sorted(entries.values(), key=lambda e: (e.at, e.id)),
            outbox=[to_struct(r, OutboxItem) for r in outbox],
            writeoffs=[to_struct(r, StoredWriteOff) for r in writeoffs],
            problems=[to_struct(r, Problem) for r in problems],
        )

    async def erasures(self, installation_id: int, pseudonym: str) -> builtins.list[AuditEntry]:
        """The audit entries of this debtor's erasures (they name the pseudonym only)."""
        entries = await AuditLog(self.db).list(installation_id)
        return [
            e
            for e in entries
            if e.action == "debtor.erased" and e.detail.get("debtor") == pseudonym
        ]

    # -- erasing (in one transaction: `sync.retention.erase_debtor`) ---------------------------

    async def replace_document(
        self,
        installation_id: int,
        invoice_number: int,
        document: dict[str, Any],
        *,
        now: dt.datetime,
    ) -> None:
        await self.db.execute(
            "erase_debtor_claim_document",
            installation_id=installation_id,
            invoice_number=invoice_number,
            document=document,
            now=now,
        )

    async def forget_documents(
        self, installation_id: int, customer_number: int, *, now: dt.datetime
    ) -> None:
        await self.db.execute(
            "erase_debtor_customer",
            installation_id=installation_id,
            customer_number=customer_number,
            now=now,
        )

    async def blank_problems(
        self, installation_id: int, customer_number: int, *, message: str
    ) -> int:
        return await self.db.execute(
            "erase_debtor_problems",
            installation_id=installation_id,
            customer_number=customer_number,
            message=message,
            detail={},
            **subjects(customer_number),
        )
