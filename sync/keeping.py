"""Keeping the collection account right after the bootstrap: the steady-state jobs.

    sync.customers   every 15 min: customers changed since the cursor (``lastUpdated ≥ cursor −
                     5 min``); equal timestamps are re-read by the overlap and cost nothing, as
                     an unchanged debtor is never sent (fingerprints). The cursor becomes the
                     latest ``lastUpdated`` e-conomic reported, never our own clock.
    sync.customer    one customer (a hint): re-sent when it has claims; renumbered (``old`` ≠
                     new) → its claims and debtor move to the new number; deleted → its claims
                     not yet in collection are withdrawn, the others become a problem.
    sync.invoice     one invoice (a hint or a resync): newly overdue → a claim; changed → sent;
                     paid → reconciled.
    sync.remainders  after a day-book hint: the overdue totals checksum (one call); a scan only
                     when it moved (the contract has no read of entries by serial number).
    sync.scan        daily: the reading skipped while the checksum is unchanged (the policy
                     still runs: claims reach their day with no change in the ledger); weekly
                     (or ``full``):
                     a full scan of the unpaid invoices whatever it says, as changes can
                     cancel out and the overdue totals leave out open credit notes.
    sync.reconcile   one invoice whose remainder moved or that left the unpaid list: before
                     handover the claim follows the ledger (withdrawn when paid in full);
                     in collection, a drop we did not cause is reported as a creditor payment
                     with a stable ``external_id``, so a retry never reports it twice.

Drops our own vouchers cause (push-back) are subtracted through `OwnPayments`: the jobs get
`sync.own_payments.OutboxOwnPayments`, which reads them from the outbox (no echo).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any, Literal, Protocol

import msgspec

from sync import schedules
from sync.backfill import Announcements, Backfill, Progress, checksum
from sync.clients.collection_types import CreditorPayment
from sync.clients.economic_types import BookedInvoice, Customer, InvoiceTotals
from sync.engine import Engine
from sync.errors import ConflictError, NotFoundError
from sync.mapping import claim_of, is_open_credit_note, is_overdue, today_in_copenhagen
from sync.mapping.fingerprints import fingerprint
from sync.store.claims import ClaimRecord, StoredClaim
from sync.store.sync_state import SyncState

OVERLAP = dt.timedelta(minutes=5)
BATCH = 500
_ENDED = frozenset({"closed", "withdrawn"})


class Ledger(Protocol):
    def customers(
        self, *, updated_since: dt.datetime | None = None, page_size: int = 1000
    ) -> AsyncIterator[Customer]: ...

    async def customer(self, customer_number: int) -> Customer: ...

    async def invoice(self, number: int) -> BookedInvoice: ...

    async def overdue_totals(self) -> InvoiceTotals: ...


class Platform(Protocol):
    async def withdraw(self, external_ref: str, *, reason: Any, idempotency_key: str) -> None: ...

    async def report_payment(
        self, external_ref: str, payment: CreditorPayment, *, idempotency_key: str
    ) -> Any: ...


class OwnPayments(Protocol):
    """How much of an invoice's remainder drop our own vouchers caused (push-back)."""

    async def booked_since(self, installation_id: int, invoice_number: int, since: int) -> int: ...


class NoOwnPayments:
    async def booked_since(self, installation_id: int, invoice_number: int, since: int) -> int:
        return 0


class Keeper:
    def __init__(
        self,
        engine: Engine,
        ledger: Ledger,
        platform: Platform | None,
        *,
        own: OwnPayments | None = None,
    ) -> None:
        self.engine = engine
        self.ledger = ledger
        self.platform = platform
        self.own = own or NoOwnPayments()
        self.state = SyncState(engine.db)
        self.id = engine.installation.id
        self.agreement = engine.agreement

    def _today(self) -> dt.date:
        return today_in_copenhagen(self.engine.clock())

    # -- customers ------------------------------------------------------------------------

    async def changed_customers(self) -> int:
        """The incremental customer sync; how many debtors were sent."""
        stream = await self.state.get(self.id, "customers")
        if stream.cursor is None:
            return 0  # the bootstrap has not reached its end yet: it reads every customer
        cursor = dt.datetime.fromisoformat(stream.cursor)
        wanted = await self.engine.claims.customers_with_claims(self.id)
        pushed = await self.engine.customers.pushed_fingerprints(self.id)
        latest, batch, sent = cursor, [], 0
        async for customer in self.ledger.customers(updated_since=cursor - OVERLAP):
            if customer.last_updated is not None and customer.last_updated > latest:
                latest = customer.last_updated
            if customer.customer_number in wanted:
                batch.append(customer)
            if len(batch) >= BATCH:
                sent += await self.engine.send_debtors(batch, pushed=pushed)
                batch = []
        sent += await self.engine.send_debtors(batch, pushed=pushed)
        now = self.engine.clock()
        await self.state.save(
            self.id, "customers", checkpoint={}, cursor=latest.isoformat(), now=now
        )
        await self.state.succeeded(self.id, "customers", complete=False, now=now)
        return sent

    async def one_customer(self, number: int, *, old: int | None = None) -> str:
        if old is not None and old != number:
            return await self._renumbered(old, number)
        try:
            customer = await self.ledger.customer(number)
        except NotFoundError:
            return await self._deleted(number)
        if number not in await self.engine.claims.customers_with_claims(self.id):
            return "no_claims"
        pushed = await self.engine.customers.pushed_fingerprints(self.id)
        sent = await self.engine.send_debtors([customer], pushed=pushed)
        await self.engine.send_claims()
        return "sent" if sent else "unchanged"

    async def _renumbered(self, old: int, new: int) -> str:
        """The debtor and the claims move to the new number; claims already in collection
        cannot change their debtor on the platform, so they stay there and a person hears."""
        claims = await self.engine.claims.of_customer(self.id, old)
        if not claims:
            return "no_claims"
        now = self.engine.clock()
        moved = [_with_customer(c, new) for c in claims]
        await self.engine.claims.record(self.id, moved, scan=claims[0].seen_scan, now=now)
        await self.engine.customers.forget(self.id, old)
        locked = [c.invoice_number for c in claims if c.state == "in_collection"]
        if locked:
            await self.engine.problems.record(
                installation_id=self.id,
                category="missing_data",
                code="customer_renumbered_in_collection",
                subject=f"customer:{new}",
                message=(
                    f"Customer {old} is now customer {new} in e-conomic, but invoices "
                    f"{', '.join(map(str, locked))} are already with the collector under the "
                    "old number. Nothing is lost; tell the collector if they should be moved."
                ),
                detail={"old": old, "new": new, "invoices": locked},
                now=now,
            )
        customer = await self.ledger.customer(new)
        pushed = await self.engine.customers.pushed_fingerprints(self.id)
        await self.engine.send_debtors([customer], pushed=pushed)
        await self.engine.send_claims()
        return "renumbered"

    async def _deleted(self, number: int) -> str:
        claims = [
            c
            for c in await self.engine.claims.of_customer(self.id, number)
            if c.state not in _ENDED
        ]
        locked = []
        for claim in claims:
            if claim.state == "in_collection":
                locked.append(claim.invoice_number)
            else:
                await self._withdraw(claim, reason="sent_in_error")
        if locked:
            await self.engine.problems.record(
                installation_id=self.id,
                category="missing_data",
                code="customer_deleted_in_collection",
                subject=f"customer:{number}",
                message=(
                    f"Customer {number} was deleted in e-conomic while invoices "
                    f"{', '.join(map(str, locked))} are with the collector. Withdraw them from "
                    "the settings if they should not be collected."
                ),
                detail={"invoices": locked},
                now=self.engine.clock(),
            )
        return "deleted"

    # -- invoices -------------------------------------------------------------------------

    async def one_invoice(self, number: int) -> str:
        claim = await self.engine.claims.get(self.id, number)
        try:
            invoice = await self.ledger.invoice(number)
        except NotFoundError:
            return "unknown"
        customer = invoice.customer.customer_number
        today = self._today()
        wanted = is_overdue(invoice, today=today) or (
            is_open_credit_note(invoice)
            and customer in await self.engine.claims.customers_with_claims(self.id)
        )
        if not wanted:
            if claim is not None and claim.state not in _ENDED:
                return await self.reconcile(number, invoice=invoice)
            return "not_a_claim"
        if claim is not None and claim.state == "in_collection":
            return await self.reconcile(number, invoice=invoice)
        records = await self.engine.claim_records([invoice])
        scan = claim.seen_scan if claim is not None else 0
        await self.engine.claims.record(self.id, records, scan=scan, now=self.engine.clock())
        pushed = await self.engine.customers.pushed_fingerprints(self.id)
        if pushed.get(customer) is None:
            await self.engine.send_debtors([await self.ledger.customer(customer)], pushed=pushed)
        await self.engine.send_claims()
        stored = await self.engine.claims.get(self.id, number)
        if stored is not None:
            await self.engine.decide_claims([stored], today=today)
        return "claim"

    async def remainders(self) -> bool:
        """After a day-book hint: whether the overdue totals moved (then a scan is queued)."""
        totals = checksum(await self.ledger.overdue_totals())
        stream = await self.state.get(self.id, "remainders")
        if stream.checkpoint.get("totals") == totals:
            return False
        await self.state.save(
            self.id, "remainders", checkpoint={"totals": totals}, now=self.engine.clock()
        )
        await self.engine.queue.enqueue(
            schedules.scan(self.id, self.agreement), now=self.engine.clock()
        )
        return True

    async def scan(
        self, progress: Progress, *, full: bool = False
    ) -> Literal["skipped", "scanned"]:
        now = self.engine.clock()
        totals = checksum(await self.ledger.overdue_totals())
        stream = await self.state.get(self.id, "scan")
        invoices = await self.state.get(self.id, "invoices")
        stale = (
            invoices.last_complete_scan_at is None
            or now - invoices.last_complete_scan_at >= schedules.FULL_SCAN_EVERY
        )
        if not full and not stale and stream.checkpoint.get("totals") == totals:
            # The ledger did not move, but the calendar did: claims reach their handover day
            # (or the policy's thresholds) without any change in e-conomic.
            await self.engine.apply_policy(today=self._today())
            await self.state.succeeded(self.id, "invoices", complete=False, now=now)
            await Announcements(self.engine).looked()
            return "skipped"
        await Backfill(self.engine, self.ledger, progress).run()  # type: ignore[arg-type]
        return "scanned"

    # -- reconcile ------------------------------------------------------------------------

    async def reconcile(self, number: int, *, invoice: BookedInvoice | None = None) -> str:
        claim = await self.engine.claims.get(self.id, number)
        if claim is None or claim.state in _ENDED or claim.kind != "invoice":
            return "nothing"
        if invoice is None:
            try:
                invoice = await self.ledger.invoice(number)
            except NotFoundError:
                return "unknown"
        mapped = claim_of(invoice, base_currency=self.engine.base_currency)
        await self.engine.record_problems(mapped.problems)
        if mapped.value is None:
            return "unmapped"
        current = mapped.value.claim
        if claim.state == "in_collection":
            return await self._report_drop(claim, current.remaining_amount)
        if current.remaining_amount <= 0:
            await self._withdraw(claim, reason="paid_to_creditor")
            return "withdrawn"
        record = _record(claim, current, mapped.value.remaining_base)
        await self.engine.claims.record(
            self.id, [record], scan=claim.seen_scan, now=self.engine.clock()
        )
        await self.engine.send_claims()
        return "updated"

    async def _report_drop(self, claim: StoredClaim, remaining: int) -> str:
        """Money the creditor received directly while the claim is in collection."""
        own = await self.own.booked_since(self.id, claim.invoice_number, claim.remaining)
        drop = claim.remaining - remaining - own
        now = self.engine.clock()
        if drop > 0 and self.platform is not None:
            external_id = f"ledger:{self.agreement}:{claim.invoice_number}:{claim.remaining}"
            payment = CreditorPayment(
                external_id=external_id,
                kind="payment",
                amount=drop,
                paid_on=self._today(),
                note="Received by the creditor directly (seen in e-conomic)",
            )
            try:
                await self.platform.report_payment(
                    str(claim.invoice_number), payment, idempotency_key=external_id
                )
            except ConflictError:
                pass  # the same external id with another body: already reported
        if remaining != claim.remaining:
            changed = msgspec.structs.replace(claim, remaining=remaining)
            await self.engine.claims.record(
                self.id,
                [_record(changed, None, claim.remaining_base)],
                scan=claim.seen_scan,
                now=now,
            )
        return "reported" if drop > 0 else "unchanged"

    async def _withdraw(self, claim: StoredClaim, *, reason: Any) -> None:
        if claim.pushed_fingerprint is not None and self.platform is not None:
            await self.platform.withdraw(
                str(claim.invoice_number),
                reason=reason,
                idempotency_key=f"withdraw:{self.agreement}:{claim.invoice_number}",
            )
        await self.engine.claims.change_state(claim, state="withdrawn", now=self.engine.clock())


def _record(claim: StoredClaim, current: Any, remaining_base: int) -> ClaimRecord:
    """The claim row to store: from the ledger's current claim document, or (``current`` None)
    the stored one with its remaining amount updated."""
    if current is not None:
        document = msgspec.to_builtins(current)
    else:
        document = {**claim.document, "remaining_amount": claim.remaining}
    return ClaimRecord(
        invoice_number=claim.invoice_number,
        customer_number=claim.customer_number,
        kind=claim.kind,
        currency=claim.currency,
        gross_amount=claim.gross_amount,
        remaining=document["remaining_amount"],
        remaining_base=remaining_base,
        issued_on=claim.issued_on,
        due_date=claim.due_date,
        document=document,
        fingerprint=fingerprint(document),
    )


def _with_customer(claim: StoredClaim, customer: int) -> ClaimRecord:
    document = {**claim.document, "debtor_ref": str(customer)}
    return msgspec.structs.replace(
        _record(claim, None, claim.remaining_base),
        customer_number=customer,
        document=document,
        fingerprint=fingerprint(document),
    )
