"""The bootstrap (``sync.bootstrap``) and full re-scan: the ledger's overdue invoices and their
customers into the collection account, page by page, resumable.

    phase        reads                                 writes
    reference    /self, journals, accounts, years,     the reference cache (sync_state)
                 payment terms (at most once a day)
    invoices     /invoices/unpaid, 1000 a page         claim rows (overdue invoices, open
                                                       credit notes), checkpoint per page
    customers    /customers, 1000 a page               debtors of customers with claims,
                                                       batches of ≤ 500, checkpoint per page
    claims       (the store)                           claims whose fingerprint changed, ≤ 500
    policy       (the store)                           claim states; handover jobs
    finish       (the store)                           reconcile jobs for open claims the
                                                       complete scan did not meet; PDF jobs
                                                       for claims without their document

Pages are read by key (`EconomicClient.invoices_after`): an invoice paid between two pages
leaves the list without making the next page skip one, and the checkpoint is the last number
stored. Each page's rows and its checkpoint are written in one transaction, so a worker killed
mid-way resumes at the last stored page: never a page twice, never one skipped. Every scan has a
number (``scan``); a claim row remembers the last scan that met it, and only a scan that reached
its last page concludes that an open claim is gone (a partial scan never withdraws anything).

Progress is records done of records known (``total`` = unpaid invoices + customers, as e-conomic
counts them on the first page of each).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

import msgspec

from sync.clients.economic import Page
from sync.clients.economic_types import (
    Account,
    AccountingYear,
    BookedInvoice,
    Customer,
    InvoiceTotals,
    Journal,
    PaymentTerms,
    SelfInfo,
)
from sync.documents import queue_missing_documents
from sync.engine import Engine
from sync.mapping import is_open_credit_note, is_overdue, today_in_copenhagen
from sync.store.claims import ClaimRecord, Claims
from sync.store.sync_state import SyncState

PAGE = 1000
REFERENCE_MAX_AGE = dt.timedelta(hours=24)
PHASES = ("invoices", "customers", "claims", "policy", "finish", "done")


class Ledger(Protocol):
    """What the backfill reads of `sync.clients.economic.EconomicClient`."""

    async def self_info(self) -> SelfInfo: ...

    async def overdue_totals(self) -> InvoiceTotals: ...

    async def invoices_after(
        self, which: Any = "unpaid", *, after: int = 0, page_size: int = PAGE
    ) -> Page[BookedInvoice]: ...

    async def customers_after(self, *, after: int = 0, page_size: int = PAGE) -> Page[Customer]: ...

    def journals(self) -> Any: ...

    def accounts(self) -> Any: ...

    def accounting_years(self) -> Any: ...

    def payment_terms(self) -> Any: ...


class Progress(Protocol):
    async def __call__(self, done: int, total: int | None = None) -> None: ...


class Reference(msgspec.Struct, frozen=True, kw_only=True):
    """The installation's cached reference data (the `reference` stream's checkpoint)."""

    base_currency: str
    fetched_at: dt.datetime
    journals: tuple[Journal, ...] = ()
    accounts: tuple[Account, ...] = ()
    accounting_years: tuple[AccountingYear, ...] = ()
    payment_terms: tuple[PaymentTerms, ...] = ()


class Checkpoint(msgspec.Struct, frozen=True, kw_only=True):
    scan: int = 0
    phase: str = "done"
    after: int = 0
    done: int = 0
    invoices_total: int | None = None
    customers_total: int | None = None
    # When the customers' scan began: where the incremental customer sync takes over.
    customers_from: dt.datetime | None = None
    # The overdue totals read as the scan began: the checksum the next daily scan compares.
    totals: dict[str, str] | None = None


def checksum(totals: InvoiceTotals) -> dict[str, str]:
    """The overdue totals as a checksum: a scan is needed only when it moved."""
    return {
        "count": str(totals.invoice_count),
        "gross": str(totals.gross_remainder_in_base_currency),
    }


async def reference_data(
    ledger: Ledger, state: SyncState, installation_id: int, *, now: dt.datetime
) -> Reference:
    """The cached reference data, fetched again when older than a day (five calls)."""
    stored = await state.get(installation_id, "reference")
    if stored.checkpoint:
        cached = msgspec.convert(stored.checkpoint, Reference, strict=False)
        if now - cached.fetched_at < REFERENCE_MAX_AGE:
            return cached
    me = await ledger.self_info()
    base = me.settings.base_currency if me.settings else "DKK"
    fresh = Reference(
        base_currency=base,
        fetched_at=now,
        journals=tuple([j async for j in ledger.journals()]),
        accounts=tuple([a async for a in ledger.accounts()]),
        accounting_years=tuple([y async for y in ledger.accounting_years()]),
        payment_terms=tuple([t async for t in ledger.payment_terms()]),
    )
    await state.save(installation_id, "reference", checkpoint=msgspec.to_builtins(fresh), now=now)
    return fresh


class Backfill:
    """One run of the bootstrap for one installation, resuming its stored checkpoint."""

    STREAM = "invoices"

    def __init__(
        self, engine: Engine, ledger: Ledger, progress: Progress, *, page_size: int = PAGE
    ) -> None:
        self.engine = engine
        self.ledger = ledger
        self.progress = progress
        self.page_size = page_size
        self.state = SyncState(engine.db)
        self.installation_id = engine.installation.id

    async def run(self, *, restart: bool = True) -> Checkpoint:
        """Resume a scan under way, or (``restart``) begin a new one when the last finished."""
        point = await self._load()
        if point.phase == "done":
            if not restart:
                return point
            totals = checksum(await self.ledger.overdue_totals())
            point = Checkpoint(scan=point.scan + 1, phase="invoices", totals=totals)
            await self._save(point)
        steps = {
            "invoices": self._invoices,
            "customers": self._customers,
            "claims": self._claims,
            "policy": self._policy,
            "finish": self._finish,
        }
        while point.phase != "done":
            point = await steps[point.phase](point)
        return point

    async def _load(self) -> Checkpoint:
        stored = await self.state.get(self.installation_id, self.STREAM)
        return msgspec.convert(stored.checkpoint, Checkpoint) if stored.checkpoint else Checkpoint()

    async def _save(self, point: Checkpoint, db: Any = None) -> None:
        state = SyncState(db) if db is not None else self.state
        await state.save(
            self.installation_id,
            self.STREAM,
            checkpoint=msgspec.to_builtins(point),
            now=self.engine.clock(),
        )

    def _total(self, point: Checkpoint) -> int | None:
        if point.invoices_total is None:
            return None
        return point.invoices_total + (point.customers_total or 0)

    async def _invoices(self, point: Checkpoint) -> Checkpoint:
        today = today_in_copenhagen(self.engine.clock())
        while True:
            page = await self.ledger.invoices_after(
                "unpaid", after=point.after, page_size=self.page_size
            )
            wanted = [i for i in page.items if is_overdue(i, today=today) or is_open_credit_note(i)]
            records = await self._unlocked(await self.engine.claim_records(wanted))
            after = page.items[-1].booked_invoice_number if page.items else point.after
            total = point.invoices_total if point.invoices_total is not None else page.total
            point = msgspec.structs.replace(
                point,
                after=after,
                done=point.done + len(page.items),
                invoices_total=total if total is not None else len(page.items),
                phase="customers" if page.last else "invoices",
            )
            if page.last:
                point = msgspec.structs.replace(point, after=0, customers_from=self.engine.clock())
            await self._store_page(records, point)
            await self.progress(point.done, self._total(point))
            if page.last:
                await self.engine.claims.analyze()  # the table may have grown from nothing
                return point

    async def _unlocked(self, records: list[ClaimRecord]) -> list[ClaimRecord]:
        """The records to store; a claim in collection whose remainder moved is left as it
        was and reconciled instead (the move is reported to the platform, never overwritten)."""
        if not records:
            return records
        low, high = records[0].invoice_number, records[-1].invoice_number
        handed = await self.engine.claims.handed_over_between(self.installation_id, low, high)
        moved = [
            r.invoice_number
            for r in records
            if handed.get(r.invoice_number, r.remaining) != r.remaining
        ]
        await self.engine.enqueue_reconcile(moved)
        return [r for r in records if r.invoice_number not in set(moved)]

    async def _store_page(self, records: list[ClaimRecord], point: Checkpoint) -> None:
        now = self.engine.clock()
        async with self.engine.db.transaction() as tx:
            await Claims(tx).record(self.installation_id, records, scan=point.scan, now=now)
            await self._save(point, tx)

    async def _customers(self, point: Checkpoint) -> Checkpoint:
        wanted = await self.engine.claims.customers_with_claims(self.installation_id)
        pushed = await self.engine.customers.pushed_fingerprints(self.installation_id)
        while True:
            page = await self.ledger.customers_after(after=point.after, page_size=self.page_size)
            await self.engine.send_debtors(
                (c for c in page.items if c.customer_number in wanted), pushed=pushed
            )
            after = page.items[-1].customer_number if page.items else point.after
            total = point.customers_total if point.customers_total is not None else page.total
            point = msgspec.structs.replace(
                point,
                after=0 if page.last else after,
                done=point.done + len(page.items),
                customers_total=total if total is not None else len(page.items),
                phase="claims" if page.last else "customers",
            )
            await self._save(point)
            await self.progress(point.done, self._total(point))
            if page.last:
                await self.engine.customers.analyze()
                return point

    async def _claims(self, point: Checkpoint) -> Checkpoint:
        # Fingerprints are the checkpoint here: what was sent before a crash is not sent again.
        await self.engine.send_claims()
        point = msgspec.structs.replace(point, phase="policy")
        await self._save(point)
        return point

    async def _policy(self, point: Checkpoint) -> Checkpoint:
        await self.engine.apply_policy(today=today_in_copenhagen(self.engine.clock()))
        point = msgspec.structs.replace(point, phase="finish")
        await self._save(point)
        return point

    async def _finish(self, point: Checkpoint) -> Checkpoint:
        gone = await self.engine.claims.unseen(self.installation_id, scan=point.scan)
        await self.engine.enqueue_reconcile(gone)
        if self.engine.settings.send_documents:
            await queue_missing_documents(self.engine)
        now = self.engine.clock()
        for stream in ("invoices", "customers"):
            await self.state.succeeded(self.installation_id, stream, complete=True, now=now)
        if point.customers_from is not None:
            await self.state.save(
                self.installation_id,
                "customers",
                checkpoint={},
                cursor=point.customers_from.isoformat(),
                now=now,
            )
        if point.totals is not None:
            await self.state.save(
                self.installation_id, "scan", checkpoint={"totals": point.totals}, now=now
            )
        point = msgspec.structs.replace(point, phase="done")
        await self._save(point)
        await self.progress(point.done, point.done)
        return point
