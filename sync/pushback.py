"""Push-back of collectors' payments: each ``payment.received`` becomes one draft voucher in the
app's journal, through the outbox, never twice (issue 12; domain.md "Booking what comes back").

    pushback = await Pushback.for_job(engine, ledger)
    await pushback.payment(event)        # the job ``pushback.payment``
    await pushback.post(item)            # any stored voucher row (write-offs: `sync.writeoffs`)
    await pushback.book_journal(journal) # the job ``pushback.book``
    await Rereads(engine, ledger, keeper, own).run()   # the job ``pushback.reread``

1. ``source: creditor`` is money the creditor received directly: the ledger has it already (we
   reported it from there), so it is never posted (no echo).
2. The outbox row is keyed ``voucher:<agreement>:<payment id>``. The first run builds the voucher
   (`sync.vouchers`: the claims by ``claim_ref`` = invoice number, the journal's contra account
   and the accounting years from the cached reference data) and stores it with the row and the
   remainder drops it will cause (`sync.own_payments`); a later run sends the stored request as
   it is, whatever changed since, so a retry is the same body under the same key.
3. It is sent with `OutboxSender`: a replay of e-conomic's first answer is the same voucher; a
   retry more than an hour after the first attempt first looks for a draft voucher carrying our
   reference (``[cb:<payment id>]`` in its texts). If none is there but one of our own bookings
   of the journal has run since (it books every draft, an orphan of ours included), whether it
   landed cannot be told from the drafts: the row goes dead with what to check.
4. With ``auto_book`` the journal's booking is queued (``pushback.book``, one job per journal:
   a stream of payments shares bookings). Booking books every draft, so it waits
   (`BookingDeferred`, transient; the payment's job too, for one sent before its own) while
   another voucher of ours in the journal was sent without its answer stored: booked unseen,
   that one could not be found on read-back. It is keyed
   ``book:<agreement>:<journal>:<newest voucher row of ours>``, and not sent again once a
   booking with that key was; our booked vouchers are recorded as booked.
5. Afterwards the remainders are re-read (``pushback.reread``, one job per installation,
   queued by our booking and by the day-book hint): the invoices with a booked drop of ours
   not yet checked, 200 a call. Each is reconciled from what was read (`sync.keeping`: the
   drop our own voucher caused is subtracted, `sync.own_payments`, so nothing is reported to
   the collection platform), and when the remainder dropped by less than the principal we
   booked the payment is unsettled: a problem (``payment_unsettled``) says what to do. Known
   limit: a drop a reconciliation subtracted before the re-read (an invoice hint in between)
   is taken as settled.

Nothing depends on the order events arrive in: the claims are ours from before the handover, so
a payment processed before its ``case.opened`` books the same voucher.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, Protocol

import msgspec

from sync import schedules
from sync.backfill import Reference, reference_data
from sync.clients.economic import MAX_IN
from sync.clients.economic_types import (
    BookedInvoice,
    BookingResult,
    DraftVoucher,
    Journal,
    NewVoucher,
    Posted,
)
from sync.collection_events import PaymentReceived, payment_received
from sync.engine import Engine
from sync.errors import TransientError
from sync.installation_queue import HOLDING
from sync.jobs import NewJob, enqueue_in
from sync.mapping import claim_of
from sync.money import to_decimal
from sync.outbox import OutboxSender, Send
from sync.own_payments import OutboxOwnPayments
from sync.store.db import Connection
from sync.store.installations import Installation
from sync.store.outbox import NewOutboxItem, Outbox, OutboxItem, OwnPaymentRecord
from sync.store.sync_state import SyncState
from sync.vouchers import (
    InvoiceRef,
    VoucherRefused,
    booking_on,
    carries,
    own_drops,
    payment_voucher,
    reference,
)


class VoucherLedger(Protocol):
    """What push-back needs of `sync.clients.economic.EconomicClient`."""

    async def post_voucher_once(
        self, journal_number: int, voucher: NewVoucher, *, idempotency_key: str
    ) -> Posted: ...

    def journal_vouchers(self, journal_number: int) -> AsyncIterator[DraftVoucher]: ...

    async def book_journal(self, journal_number: int, *, idempotency_key: str) -> BookingResult: ...


BOOKING_WAIT = 2.0


class BookingDeferred(TransientError):
    """Another voucher of ours in the journal is in flight: book after it (transient)."""

    code = "booking_deferred"


def payment_key(agreement: int, payment_id: str) -> str:
    return f"voucher:{agreement}:{payment_id}"


def booking_key(agreement: int, ref: str) -> str:
    """The booking after one of our vouchers (``ref``: its reference, `sync.vouchers.reference`)."""
    return f"book:{agreement}:{ref}"


class Pushback:
    def __init__(self, engine: Engine, ledger: VoucherLedger, reference: Reference) -> None:
        self.engine = engine
        self.ledger = ledger
        self.reference = reference
        self.outbox = Outbox(engine.db)
        self.sender = OutboxSender(self.outbox, clock=engine.clock)
        self.id = engine.installation.id
        self.agreement = engine.agreement

    @classmethod
    async def for_job(
        cls, engine: Engine, ledger: Any, *, reference: Reference | None = None
    ) -> Pushback:
        """With the installation's cached reference data (read again when a day old), or the
        ``reference`` the job read already."""
        found = reference or await reference_data(
            ledger, SyncState(engine.db), engine.installation.id, now=engine.clock()
        )
        return cls(engine, ledger, found)

    # -- payments -------------------------------------------------------------------------

    async def payment(self, event: Mapping[str, Any]) -> str:
        """Post a collector's payment (once); ``creditor`` payments are never posted."""
        payment = payment_received(event)
        if payment.source != "collector":
            return "not_posted"
        item = await self.outbox.by_key(payment_key(self.agreement, payment.payment_id))
        if item is None:
            new, own = await self.payment_row(payment, event)
            await self.post(new, own=own)
        else:
            await self.post(item)
        return "posted"

    async def post(
        self, item: NewOutboxItem | OutboxItem, *, own: Mapping[int, int] | None = None
    ) -> OutboxItem:
        """Send a voucher row (once; a new one stored first, with ``own``: the remainder drops
        of its voucher), remember the voucher, book when the company asks. Both are written in
        the commit that marks the row sent, so a run that finds it sent did them already."""
        answered: list[list[int]] = []  # the commit's look at our other vouchers in flight

        async def then(tx: Connection, sent: OutboxItem) -> None:
            answered.append(await self._answered(Outbox(tx), tx, sent))

        item = await self.sender.deliver(
            item, send=self.poster(item), find=self._find, then=then, own=own
        )
        journal = int(item.request["journal_number"])
        if not answered:  # sent before: by an earlier run, whose booking may have been deferred
            await self._remember_vouchers(self.outbox, item)
            if self.engine.settings.auto_book:
                await self.queue_booking(journal, but=item.id, since=item.first_attempt_at)
        elif answered[0]:
            # Most often other payments' jobs, their answers due any moment: look once more
            # before the job is deferred (`BookingDeferred`) and tried again.
            await self.queue_booking(journal, but=item.id, since=item.first_attempt_at)
        elif self.engine.settings.auto_book and _held(self.engine.installation):
            # As `sync.installation_queue` does: a held installation's new job waits (parked);
            # the claim passes over a held installation in any case.
            await self.engine.queue.park_installation(self.id, now=self.engine.clock())
        return item

    async def _answered(self, outbox: Outbox, tx: Connection, item: OutboxItem) -> list[int]:
        """In the commit marking ``item`` sent: its voucher remembered and, with auto-booking,
        the journal's booking queued; the ids of our other vouchers in flight that defer it."""
        await self._remember_vouchers(outbox, item)
        if not self.engine.settings.auto_book:
            return []
        journal = int(item.request["journal_number"])
        flying = await self._flying(outbox, journal, but=item.id, since=item.first_attempt_at)
        if not flying:
            now = self.engine.clock()
            job = booking_job(self.id, self.agreement, journal, now=now)
            await enqueue_in(tx, [job], now=now)
        return flying

    async def open_payment(self, payment: PaymentReceived, event: Mapping[str, Any]) -> OutboxItem:
        """Build the payment's voucher and store it in the outbox (nothing is sent)."""
        new, own = await self.payment_row(payment, event)
        return await self.sender.open(new, own=own)

    async def payment_row(
        self, payment: PaymentReceived, event: Mapping[str, Any]
    ) -> tuple[NewOutboxItem, dict[int, int]]:
        """The payment's voucher built into its outbox row, and the remainder drops it will
        cause (nothing is stored: `post` stores it before sending)."""
        journal = self.journal()
        voucher = payment_voucher(
            payment,
            invoices=await self._invoices([a.claim_ref for a in payment.allocations]),
            contra=_contra(journal),
            accounts=self.engine.settings.accounts,
            booking=booking_on(payment.paid_on, self.reference.accounting_years),
        )
        restricted = journal.settings.entry_type_restricted_to if journal.settings else None
        if voucher.finance_vouchers and restricted == "customerPayment":
            raise VoucherRefused(
                "journal_restricted",
                f"journal {journal.journal_number} takes customer payments only, and the "
                "interest and fees need finance lines: choose another journal for the app",
            )
        job = schedules.pushback_payment(
            self.id, self.agreement, payment.payment_id, payment.case_id, dict(event)
        )
        new = NewOutboxItem(
            installation_id=self.id,
            platform="economic",
            operation="voucher.payment",
            idempotency_key=payment_key(self.agreement, payment.payment_id),
            request={
                "journal_number": journal.journal_number,
                "reference": reference("payment", payment.payment_id),
                "payment_id": payment.payment_id,
                "case_id": payment.case_id,
                "voucher": msgspec.to_builtins(voucher),
            },
            job=msgspec.to_builtins(job),
        )
        return new, own_drops(voucher)

    def journal(self) -> Journal:
        """The app's journal as the reference data knows it (`VoucherRefused` when unset)."""
        number = self.engine.settings.journal_number
        if number is None:
            raise VoucherRefused(
                "journal_missing",
                "the company has no journal for the app: choose one in onboarding, then retry",
            )
        journal = next((j for j in self.reference.journals if j.journal_number == number), None)
        if journal is None:
            raise VoucherRefused(
                "journal_unknown",
                f"journal {number} is not among the company's journals in e-conomic: choose "
                "the app's journal again in onboarding, then retry",
                detail={"journal_number": number},
            )
        return journal

    async def _invoices(self, refs: list[str]) -> dict[str, InvoiceRef]:
        """The ledger invoice of each claim (claim ref = invoice number); unknown ones left out."""
        found: dict[str, InvoiceRef] = {}
        for ref in refs:
            claim = (
                await self.engine.claims.get(self.id, int(ref))
                if ref.isdigit() and len(ref) <= 18
                else None
            )
            if claim is not None:
                found[ref] = InvoiceRef(
                    invoice_number=claim.invoice_number, customer_number=claim.customer_number
                )
        return found

    def poster(self, item: NewOutboxItem | OutboxItem) -> Send:
        """The send step of a stored voucher row: POST it under the key it is given."""
        journal = int(item.request["journal_number"])
        voucher = msgspec.convert(item.request["voucher"], NewVoucher)

        async def send(key: str) -> dict[str, Any]:
            posted = await self.ledger.post_voucher_once(journal, voucher, idempotency_key=key)
            return {
                "vouchers": [
                    {"voucherNumber": v.voucher_number, "accountingYear": v.accounting_year.year}
                    for v in posted.vouchers
                ],
                "replayed": posted.replayed,
            }

        return send

    async def _find(self, item: OutboxItem) -> dict[str, Any] | None:
        """Our voucher among the journal's drafts, after the platform forgot the key."""
        journal = int(item.request["journal_number"])
        ref = str(item.request["reference"])
        async for voucher in self.ledger.journal_vouchers(journal):
            if carries(voucher.texts(), ref):
                year = voucher.accounting_year.year
                return {
                    "vouchers": [{"voucherNumber": voucher.voucher_number, "accountingYear": year}]
                }
        assert item.first_attempt_at is not None
        bookings = await self.outbox.sent_since(
            self.id, "journal.book", since=item.first_attempt_at
        )
        if any(int(b.request["journal_number"]) == journal for b in bookings):
            raise VoucherRefused(
                "voucher_unverifiable",
                f"an earlier attempt to post [{ref}] may have landed and been booked since: "
                f"look for a voucher with {ref} in its text in journal {journal} and the booked "
                "entries; if there is none, retry the outbox item",
                detail={"outbox_id": item.id, "reference": ref},
            )
        return None

    async def _remember_vouchers(self, outbox: Outbox, item: OutboxItem) -> None:
        for voucher in _vouchers(item.response):
            await outbox.set_voucher(
                item.id, accounting_year=voucher["accountingYear"], number=voucher["voucherNumber"]
            )

    # -- booking --------------------------------------------------------------------------

    async def queue_booking(
        self, journal: int, *, but: int | None = None, since: dt.datetime | None = None
    ) -> None:
        """The journal's booking queued (one per journal at a time: queued twins coalesce);
        `BookingDeferred` while a voucher of ours other than ``but`` first sent no later than
        ``since`` (``but``'s own first attempt: an orphan of a crashed run) is in flight there.
        Those sent after it are being sent by other payments' jobs now: the booking job
        itself waits for them, so the payment's job need not fail and retry."""
        await self._none_in_flight(journal, but=but, since=since)
        now = self.engine.clock()
        await self.engine.queue.enqueue(
            booking_job(self.id, self.agreement, journal, now=now), now=now
        )

    async def book_journal(self, journal: int) -> int:
        """The ``pushback.book`` job: book the journal (every draft in it, ours included) unless
        a booking since our newest voucher did; record ours as booked and queue the re-read of
        their invoices. How many of our vouchers it booked."""
        await self._none_in_flight(journal, but=None)
        through = await self.outbox.last_voucher_sent(self.id)
        if through is None:
            return 0
        key = booking_key(self.agreement, f"{journal}:{through}")
        done = await self.outbox.by_key(key)
        if done is not None and done.state == "sent":
            return 0  # booked after our newest voucher was in: nothing of ours is left
        new = NewOutboxItem(
            installation_id=self.id,
            platform="economic",
            operation="journal.book",
            idempotency_key=key,
            request={"journal_number": journal, "through": through},
            # A person's retry of this booking runs at once: no window.
            job=msgspec.to_builtins(
                msgspec.structs.replace(
                    booking_job(self.id, self.agreement, journal, now=self.engine.clock()),
                    run_at=None,
                )
            ),
        )

        async def send(key: str) -> dict[str, Any]:
            result = await self.ledger.book_journal(journal, idempotency_key=key)
            return {
                "booked": [
                    {"voucherNumber": v.voucher_number, "accountingYear": v.accounting_year}
                    for v in result.booked_vouchers
                ]
            }

        booked = await self.sender.deliver(new, send=send)
        vouchers = [(v["accountingYear"], v["voucherNumber"]) for v in booked.response["booked"]]
        await self.outbox.booked(self.id, vouchers, now=self.engine.clock())
        await self.engine.queue.enqueue(
            reread_job(self.id, self.agreement), now=self.engine.clock()
        )
        return len(vouchers)

    async def _none_in_flight(
        self, journal: int, *, but: int | None, since: dt.datetime | None = None
    ) -> None:
        """Booking books every draft: never while a voucher of ours whose answer we do not
        hold may be among them (booked unseen, it could not be found on read-back)."""
        flying = await self._flying(self.outbox, journal, but=but, since=since)
        if flying:
            raise _deferred(journal, flying)

    async def _flying(
        self, outbox: Outbox, journal: int, *, but: int | None, since: dt.datetime | None
    ) -> list[int]:
        """Our vouchers in ``journal`` other than ``but`` sent without their answer stored
        (first sent no later than ``since``, when given)."""
        return [
            item.id
            for item in await outbox.vouchers_in_flight(self.id)
            if item.id != but
            and int(item.request["journal_number"]) == journal
            and (since is None or item.first_attempt_at is None or item.first_attempt_at <= since)
        ]


# -- re-reading the remainders our bookings lowered ------------------------------------------


class RemainderLedger(Protocol):
    def invoices_numbered(self, numbers: Iterable[int]) -> AsyncIterator[BookedInvoice]: ...


class Reconciler(Protocol):
    """`sync.keeping.Keeper`'s reconciliation of one invoice (from the document read)."""

    async def reconcile(self, number: int, *, invoice: BookedInvoice | None = None) -> str: ...


class Rereads:
    """The ``pushback.reread`` job: the invoices whose remainder a booked voucher of ours
    lowered, re-read 200 a call for the whole installation (however many bookings queued it);
    each is reconciled from the document read (`sync.keeping`: our own drop subtracted, a
    creditor's reported), and a booked principal the remainder did not drop by becomes a
    problem (``payment_unsettled``) saying what to do. Without auto-booking the bookkeeper
    books: the journals' drafts are read first to learn which of ours left them."""

    def __init__(
        self,
        engine: Engine,
        ledger: RemainderLedger,
        keeper: Reconciler,
        own: OutboxOwnPayments,
    ) -> None:
        self.engine = engine
        self.ledger = ledger
        self.keeper = keeper
        self.own = own
        self.outbox = Outbox(engine.db)
        self.id = engine.installation.id

    async def run(self) -> int:
        """How many invoices were checked."""
        if not self.engine.settings.auto_book:
            await self.own.learn_booked(self.id)
        checked, after = 0, 0
        while numbers := await self.outbox.invoices_to_check(self.id, after=after, limit=MAX_IN):
            read = {
                i.booked_invoice_number: i async for i in self.ledger.invoices_numbered(numbers)
            }
            # Read after the documents, like each reconciliation's own read (`sync.own_payments`).
            records = await self.outbox.own_payments_of(self.id, numbers)
            done: list[OwnPaymentRecord] = []
            for number in numbers:
                checks = await self._check(number, read.get(number), records[number])
                if checks is not None:
                    checked += 1
                    done.extend(checks)
            # The page's drops marked checked at once: a run stopped before this checks them
            # again, which finds each settled (its claim's remaining moved on) or records the
            # same problem again.
            await self.outbox.checked(done, now=self.engine.clock())
            after = numbers[-1]
        return checked

    async def _check(
        self, number: int, invoice: BookedInvoice | None, records: list[OwnPaymentRecord]
    ) -> list[OwnPaymentRecord] | None:
        """Reconcile one invoice; the booked drops it checked (None: not checked now)."""
        if any(r.in_flight for r in records):
            return None  # the booking after that voucher queues this job again
        unchecked = [r for r in records if r.booked_at is not None and r.checked_at is None]
        claim = await self.engine.claims.get(self.id, number)
        if invoice is not None and claim is not None:
            mapped = claim_of(invoice, base_currency=self.engine.base_currency).value
            if mapped is not None:
                expected = sum(
                    r.amount
                    for r in records
                    if r.booked_at is not None and r.counted_from in (None, claim.remaining)
                )
                dropped = claim.remaining - mapped.claim.remaining_amount
                if dropped < expected:
                    await self._unsettled(claim.currency, number, unchecked, expected, dropped)
            self.own.already_read(self.id, number, records)
            try:
                await self.keeper.reconcile(number, invoice=invoice)
            finally:
                self.own.forget_read()
        return unchecked

    async def _unsettled(
        self,
        currency: str,
        number: int,
        records: list[OwnPaymentRecord],
        expected: int,
        dropped: int,
    ) -> None:
        vouchers = sorted({f"{r.accounting_year}/{r.voucher_number}" for r in records})
        items = [await self.outbox.get(r.outbox_id) for r in records]
        payments = sorted(
            {str(i.request.get("payment_id") or i.request["reference"]) for i in items if i}
        )
        journals = sorted({r.journal_number for r in records})
        await self.engine.problems.record(
            installation_id=self.id,
            category="ledger_refused",
            code="payment_unsettled",
            subject=f"invoice:{number}",
            message=(
                f"Our voucher {', '.join(vouchers)} in journal "
                f"{', '.join(map(str, journals))} was booked, but the remainder of invoice "
                f"{number} dropped by {to_decimal(max(dropped, 0), currency)} {currency} instead "
                f"of {to_decimal(expected, currency)} {currency}: the payment is not settled "
                f"against the invoice. In e-conomic, match the customer payment to invoice "
                f"{number} (or correct its customer), then the remainder is right again."
            ),
            detail={
                "invoice": number,
                "currency": currency,
                "expected_drop": expected,
                "dropped": dropped,
                "vouchers": vouchers,
                "payments": payments,
            },
            now=self.engine.clock(),
        )


BOOKING_WINDOW = dt.timedelta(seconds=2)


def booking_job(installation_id: int, agreement: int, journal: int, *, now: dt.datetime) -> NewJob:
    """The booking of the app's journal: one at a time, below the payments it follows, and
    `BOOKING_WINDOW` after the voucher that asked for it, so that a stream of payments shares
    bookings even when the worker is woken at once (the embedded worker is: a queued twin
    absorbs every later request and keeps its time)."""
    return NewJob(
        kind="pushback.book",
        installation_id=installation_id,
        payload={"journal_number": journal},
        dedupe_key=f"book:{agreement}:{journal}",
        serial_key=f"journal:{agreement}:{journal}",
        priority=-1,
        run_at=now + BOOKING_WINDOW,
    )


def reread_job(installation_id: int, agreement: int) -> NewJob:
    """The re-read of the remainders our booked vouchers lowered, one per installation."""
    return NewJob(
        kind="pushback.reread",
        installation_id=installation_id,
        payload={},
        dedupe_key=f"reread:{agreement}",
        serial_key=f"reread:{agreement}",
        priority=-1,
    )


def _held(installation: object) -> bool:
    """Whether the installation (as the job read it) is paused, revoked or deleted."""
    return isinstance(installation, Installation) and installation.status in HOLDING


def _deferred(journal: int, flying: list[int]) -> BookingDeferred:
    return BookingDeferred(
        f"journal {journal} is booked once vouchers {flying} are answered",
        retry_after=BOOKING_WAIT,
        detail={"outbox_ids": flying},
        platform="economic",
    )


def _contra(journal: Journal) -> int:
    contra = journal.settings.contra_accounts if journal.settings else None
    account = contra.customer_payments if contra else None
    if account is None:
        raise VoucherRefused(
            "journal_without_contra",
            f"journal {journal.journal_number} has no contra account for customer payments: "
            "set the bank account as its contra account in e-conomic, then retry",
            detail={"journal_number": journal.journal_number},
        )
    return account.account_number


def _vouchers(response: Any) -> list[dict[str, Any]]:
    if not isinstance(response, dict):
        return []
    found = response.get("vouchers")
    return [v for v in found if isinstance(v, dict)] if isinstance(found, list) else []
