"""The bootstrap (``sync.bootstrap``) and full re-scan: the ledger's overdue invoices and their
customers into the collection account, page by page, resumable.

    phase        reads                                 writes
    reference    /self, journals, accounts, years,     the reference cache (sync_state)
                 payment terms (at most once a day)
    invoices     /invoices/unpaid, 1000 a page         claim rows (overdue invoices, open
                                                       credit notes; a new one with the
                                                       policy's first decision), checkpoint
                                                       per page
    customers    /customers, 1000 a page               debtors of customers with claims,
                                                       batches of ≤ 500, checkpoint per page
    claims       (the store)                           claims whose fingerprint changed, ≤ 500
    policy       (the store)                           claim states that changed (a customer's
                                                       group or bar); handover jobs; PDF jobs
                                                       for claims without their document
    finish       (the store)                           reconcile jobs for open claims the
                                                       complete scan did not meet

Pages are read by key (`EconomicClient.invoices_after`): an invoice paid between two pages
leaves the list without making the next page skip one, and the checkpoint is the last number
stored. Each page's rows and its checkpoint are written in one transaction, so a worker killed
mid-way resumes at the last stored page: never a page twice, never one skipped. The next page
is read while one is stored (its start is the last number read), so the ledger's time and the
store's overlap; a page read ahead of a failure is dropped, and its checkpoint never stored.
Every scan has a number (``scan``); a claim row remembers the last scan that met it, and only a
scan that reached its last page concludes that an open claim is gone (a partial scan never
withdraws anything).

Progress is records done of records known (``total`` = unpaid invoices + customers, as e-conomic
counts them on the first page of each).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar, cast

import msgspec

from sync import schedules
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
from sync.jobs import BULK_ENQUEUE, NewJob
from sync.mapping import is_open_credit_note, is_overdue, today_in_copenhagen
from sync.store.claims import ClaimRecord, Claims, Unsent
from sync.store.db import Connection
from sync.store.sync_state import SyncState

PAGE = 1000
REFERENCE_MAX_AGE = dt.timedelta(hours=24)
Item = TypeVar("Item")
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
    # Stored claims whose content this scan found changed (`Announcements`).
    changed: int = 0


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
    # One after the other, not at once: the budget's check and its count are two statements,
    # so concurrent calls could each pass a check that only one of them fits (`sync.budget`).
    me = await ledger.self_info()
    settings = me.settings
    fresh = Reference(
        base_currency=settings.base_currency if settings else "DKK",
        fetched_at=now,
        journals=await _all(ledger.journals()),
        accounts=await _all(ledger.accounts()),
        accounting_years=await _all(ledger.accounting_years()),
        payment_terms=await _all(ledger.payment_terms()),
    )
    await state.save(installation_id, "reference", checkpoint=msgspec.to_builtins(fresh), now=now)
    return fresh


async def _all(items: AsyncIterator[Item]) -> tuple[Item, ...]:
    return tuple([item async for item in items])


async def together(*steps: Awaitable[Any]) -> None:
    """Run ``steps`` at the same time; when one fails the others are cancelled (none is left
    running behind the failure) and its own exception is raised, not a group of them."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


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
        # Statistics being refreshed after a phase's bulk writes, awaited by the next phase.
        self._refreshing: list[asyncio.Task[Any]] = []

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
        try:
            while point.phase != "done":
                point = await steps[point.phase](point)
        finally:
            for task in self._refreshing:
                await _abandon(task)
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
        reading = self._read(self._invoice_page, point.after)
        try:
            while True:
                page = await reading
                after = page.items[-1].booked_invoice_number if page.items else point.after
                if not page.last:
                    # The next page is on its way while this one is stored (pages are read by
                    # key, so the next one's start is known); the checkpoint is still this one's.
                    reading = self._read(self._invoice_page, after)
                wanted = [
                    i for i in page.items if is_overdue(i, today=today) or is_open_credit_note(i)
                ]
                mapped = await self.engine.claim_records(wanted)
                records, changed = await self._unlocked(mapped)
                records = self.engine.first_decisions(records, today=today)
                total = point.invoices_total if point.invoices_total is not None else page.total
                point = msgspec.structs.replace(
                    point,
                    after=after,
                    done=point.done + len(page.items),
                    changed=point.changed + changed,
                    invoices_total=total if total is not None else len(page.items),
                    phase="customers" if page.last else "invoices",
                )
                if page.last:
                    point = msgspec.structs.replace(
                        point, after=0, customers_from=self.engine.clock()
                    )
                await self._store_page(records, point)
                await self.progress(point.done, self._total(point))
                if page.last:
                    return point
        finally:
            await _abandon(reading)

    async def _invoice_page(self, after: int) -> Page[BookedInvoice]:
        return await self.ledger.invoices_after("unpaid", after=after, page_size=self.page_size)

    async def _customer_page(self, after: int) -> Page[Customer]:
        return await self.ledger.customers_after(after=after, page_size=self.page_size)

    @staticmethod
    def _read(
        read: Callable[[int], Coroutine[Any, Any, Page[Item]]], after: int
    ) -> asyncio.Task[Page[Item]]:
        return asyncio.create_task(read(after))

    async def _unlocked(self, records: list[ClaimRecord]) -> tuple[list[ClaimRecord], int]:
        """The records to store, and how many stored claims they change; a claim in collection
        whose remainder moved is left as it was and reconciled instead (the move is reported
        to the platform, never overwritten)."""
        if not records:
            return records, 0
        low, high = records[0].invoice_number, records[-1].invoice_number
        stored = await self.engine.claims.stored_between(self.installation_id, low, high)
        if not stored:
            return records, 0  # all new (a bootstrap's pages)
        moved, changed = set[int](), 0
        for record in records:
            known = stored.get(record.invoice_number)
            if known is None:
                continue
            changed += known.fingerprint != record.fingerprint
            if known.state == "in_collection" and known.remaining != record.remaining:
                moved.add(record.invoice_number)
        await self.engine.enqueue_reconcile(sorted(moved))
        return [r for r in records if r.invoice_number not in moved], changed

    async def _store_page(self, records: list[ClaimRecord], point: Checkpoint) -> None:
        now = self.engine.clock()

        async def store(tx: Connection) -> None:
            await Claims(tx).record(self.installation_id, records, scan=point.scan, now=now)
            await self._save(point, tx)

        await self.engine.db.atomically(store)

    async def _customers(self, point: Checkpoint) -> Checkpoint:
        # The claims' statistics are refreshed (the table may have grown from nothing) while the
        # customers are read: the sends and the policy read the claims by them.
        analyzing = asyncio.ensure_future(self.engine.claims.analyze())
        wanted = await self.engine.claims.customers_with_claims(self.installation_id)
        pushed = await self.engine.customers.pushed_fingerprints(self.installation_id)
        reading = self._read(self._customer_page, point.after)
        try:
            while True:
                page = await reading
                after = page.items[-1].customer_number if page.items else point.after
                if not page.last:
                    reading = self._read(self._customer_page, after)
                await self.engine.send_debtors(
                    (c for c in page.items if c.customer_number in wanted), pushed=pushed
                )
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
                    await together(self.engine.customers.analyze(), analyzing)
                    return point
        finally:
            await _abandon(reading)
            await _abandon(analyzing)

    async def _claims(self, point: Checkpoint) -> Checkpoint:
        # Fingerprints are the checkpoint here: what was sent before a crash is not sent again.
        # The PDF jobs of the claims sent are queued batch by batch, each while the sends go
        # on (one at a time, in order; no statistics refresh per batch: one at the end). What
        # a crash leaves unqueued, the policy phase's look for claims without their PDF finds.
        queued, queueing = 0, cast("asyncio.Task[None] | None", None)

        async def enqueue(jobs: list[NewJob], before: asyncio.Task[None] | None) -> None:
            if before is not None:
                await before
            await self.engine.queue.enqueue_many(jobs, now=self.engine.clock())

        async def documents(claims: list[Unsent]) -> None:
            nonlocal queued, queueing
            jobs = [
                schedules.document(self.installation_id, self.engine.agreement, c.invoice_number)
                for c in claims
                if c.kind == "invoice" and c.document_at is None
            ]
            if jobs:
                queueing = asyncio.create_task(enqueue(jobs, queueing))
                queued += len(jobs)

        try:
            await self.engine.send_claims(
                pushed=documents if self.engine.settings.send_documents else None
            )
            if queueing is not None:
                await queueing
        finally:
            if queueing is not None:
                await _abandon(queueing)
        if queued >= BULK_ENQUEUE:  # as `JobQueue.enqueue_many` does after a bulk enqueue
            self._refreshing.append(asyncio.ensure_future(self.engine.db.execute("analyze_jobs")))
        point = msgspec.structs.replace(point, phase="policy")
        await self._save(point)
        return point

    async def _policy(self, point: Checkpoint) -> Checkpoint:
        # The PDF jobs the sends did not queue (a crash between a batch's mark and its jobs, or
        # claims sent outside a scan) are queued while the policy decides, and the jobs'
        # statistics are refreshed meanwhile (both follow the sends, neither changes what the
        # other reads; both may run again after a crash: a decision already stored is not
        # written again, a PDF job already queued is not looked for).
        steps: list[Awaitable[int]] = [
            self.engine.apply_policy(today=today_in_copenhagen(self.engine.clock()))
        ]
        if self.engine.settings.send_documents:
            steps.append(queue_missing_documents(self.engine))
        await together(*steps, *self._refreshing)
        point = msgspec.structs.replace(point, phase="finish")
        await self._save(point)
        return point

    async def _finish(self, point: Checkpoint) -> Checkpoint:
        gone = await self.engine.claims.unseen(self.installation_id, scan=point.scan)
        await self.engine.enqueue_reconcile(gone)
        before = await self.state.get(self.installation_id, "invoices")
        await Announcements(self.engine).scanned(
            point.scan,
            changes=point.changed + len(gone),
            first=before.last_complete_scan_at is None,
        )
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


async def _abandon(reading: asyncio.Task[Any]) -> None:
    """A page read ahead that is not wanted any more (the scan failed, or this was the last
    page read): cancelled if still on its way, its outcome dropped."""
    if not reading.done():
        reading.cancel()
    await asyncio.gather(reading, return_exceptions=True)


UNANNOUNCED_SCANS = 2  # complete scans in a row finding changes no hint announced → a problem
UNANNOUNCED = "changes_unannounced"
_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


class Announcements:
    """Whether e-conomic's webhooks announce the changes the scans find (the ``hints`` stream).

    A hint makes its record be read again at once (`sync.keeping`), so with working webhooks a
    scan finds the ledger as we already have it. A complete scan that finds stored claims
    changed (or gone) while no hint at all arrived since the scan before is unannounced; after
    `UNANNOUNCED_SCANS` of them in a row (scans that find nothing changed count neither way)
    one problem says what to do, and it is cleared as soon as hints arrive again (looked at by
    every daily scan job, whether it reads the ledger or not). The first scan only starts the
    count: everything is new to it. Hints are looked for in the inbox, which keeps processed
    ones a day, and looked at at least daily, so none is missed in between.
    """

    STREAM = "hints"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.state = SyncState(engine.db)
        self.id = engine.installation.id

    async def _look(self) -> tuple[dict[str, Any], bool]:
        """The stream's checkpoint with the hints received since the last look counted in;
        whether any arrived since the last scan's verdict."""
        point = dict((await self.state.get(self.id, self.STREAM)).checkpoint)
        checked = point.get("checked_at")
        since = dt.datetime.fromisoformat(checked) if checked else _EPOCH
        now = self.engine.clock()
        heard = bool(point.get("hinted")) or await self.state.hints_since(self.id, since=since) > 0
        point.update(checked_at=now.isoformat(), hinted=heard)
        return point, heard

    async def looked(self) -> None:
        """A daily scan job that did not read the ledger: hints arriving again clear the
        problem now, not at the next scan."""
        point, heard = await self._look()
        if heard and point.get("unannounced"):
            point["unannounced"] = 0
            await self._resolve()
        await self._save(point)

    async def scanned(self, scan: int, *, changes: int, first: bool) -> None:
        """The verdict of complete scan ``scan`` (once: a finish run again after a crash does
        not count it twice), which found ``changes`` stored claims changed or gone."""
        point, heard = await self._look()
        if point.get("scan") == scan:
            return
        streak = int(point.get("unannounced", 0))
        if heard:
            if streak:
                await self._resolve()
            streak = 0
        elif changes > 0 and not first:
            streak += 1
            if streak >= UNANNOUNCED_SCANS:
                await self._record(streak, changes)
        point.update(scan=scan, hinted=False, unannounced=streak)
        await self._save(point)

    async def _record(self, scans: int, changes: int) -> None:
        await self.engine.problems.record(
            installation_id=self.id,
            category="missing_data",
            code=UNANNOUNCED,
            subject="webhooks:economic",
            message=(
                f"The last {scans} scans of e-conomic found changes (the latest: {changes}) "
                "that no e-conomic webhook announced, so they reach the collector only with "
                "the daily scan, up to a day late. Paste the webhook URLs shown in onboarding "
                "into e-conomic (Settings → Webhooks) again, or, if the webhooks are set up "
                "through e-conomic's Webhooks API, check that its subscriptions still exist "
                "and point at this service. The problem clears itself once hints arrive."
            ),
            detail={"scans": scans, "changes": changes},
            now=self.engine.clock(),
        )

    async def _resolve(self) -> None:
        await self.engine.problems.resolve_open(self.id, UNANNOUNCED, now=self.engine.clock())

    async def _save(self, point: dict[str, Any]) -> None:
        await self.state.save(self.id, self.STREAM, checkpoint=point, now=self.engine.clock())
