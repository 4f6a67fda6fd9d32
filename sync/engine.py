"""The sync engine's shared steps for one installation: record claims, send debtors and claims,
apply the handover policy. The jobs (`sync.backfill`, `sync.keeping`, `sync.handover`) sequence
these; the mapping and the policy stay pure (`sync.mapping`, `sync.policy`).

What is sent is decided by fingerprints: a debtor or claim goes to the collection platform only
when the hash of its document differs from the hash of what the platform last accepted, so an
unchanged ledger writes nothing. Batches of at most 500 go through the platform's batch upserts
with an idempotency key derived from what they change: each item's fingerprint, the one the
platform held before and, for claims, when the claim was last recorded (a retry of the same
batch after a crash is a replay; a batch whose content changed meanwhile is a new key, never a
refused reuse; and a claim changed and changed back within the platform's 24 h of keys is a
new key, not a replay of the first send that the platform would answer without applying it).
Refused items become problems (`rejected_by_collector`) with the platform's reason and are
cleared when the item is accepted later; a claim the platform holds as handed over (409
``claim_locked``) is left to reconciliation, which reports the change as a payment.

One company's claims are sent by one job at a time (the store's lease ``claims-push:<id>``,
across processes). The platform has no conditional write: a claim takes whatever arrives last.
Jobs of different invoices run side by side and each sends every claim waiting, so without it
a send held up by a retry could land after a newer one of the same claim, which the newer
send's job had already marked as the platform's: the account would keep the older remainder.
Under the lease the claims are read, sent and marked before the next sender reads them; a mark
is written only while the lease is still held (checked in its transaction).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import msgspec

from sync import schedules
from sync.clients.collection_types import BatchItemResult, Claim, Debtor
from sync.clients.economic_types import BookedInvoice, Customer
from sync.company_settings import CompanySettings
from sync.errors import TransientError
from sync.jobs import JobQueue
from sync.mapping import claim_of, debtor_of, fingerprint
from sync.mapping.problems import MappingProblem
from sync.policy import ClaimFacts, decide
from sync.store.claims import (
    ClaimRecord,
    Claims,
    ClaimStanding,
    ClaimState,
    CustomerRecord,
    Customers,
    StoredClaim,
    Unsent,
)
from sync.store.db import Connection, Database
from sync.store.leases import Held, Leases
from sync.store.problems import Problems

BATCH = 500
PUSH_LEASE_TTL = 30.0  # seconds; renewed every third while a send runs
PUSH_WAIT = 60.0  # seconds a job waits for another's send of its company's claims, then retries
Clock = Callable[[], dt.datetime]


class CollectionWriter(Protocol):
    """What the engine needs of `sync.clients.collection.CollectionClient`."""

    async def upsert_debtors(
        self, items: Sequence[tuple[str, Debtor]], *, idempotency_key: str
    ) -> list[BatchItemResult]: ...

    async def upsert_claims(
        self, items: Sequence[tuple[str, Claim]], *, idempotency_key: str
    ) -> list[BatchItemResult]: ...


class Installation(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def agreement_number(self) -> int: ...


def batch_key(kind: str, agreement: int, items: Iterable[tuple[str, str]]) -> str:
    """An idempotency key naming exactly this send: ``kind:agreement:<hash of refs and
    versions>``, a version the fingerprint sent and what it replaces (`Engine._send_batch`)."""
    digest = hashlib.sha256()
    for ref, print_ in items:
        digest.update(f"{ref}={print_};".encode())
    return f"{kind}:{agreement}:{digest.hexdigest()[:32]}"


class _LeaseLost(TransientError):
    """The push lease passed to another sender while claims were on their way (the job is
    retried)."""

    def __init__(self) -> None:
        super().__init__("the claims push lease was lost while claims were sent")


class Engine:
    """One installation's sync steps over the store and the collection platform."""

    def __init__(
        self,
        db: Database,
        installation: Installation,
        settings: CompanySettings,
        *,
        collection: CollectionWriter | None,
        queue: JobQueue,
        clock: Clock,
        base_currency: str,
    ) -> None:
        self.db = db
        self.installation = installation
        self.settings = settings
        self.collection = collection
        self.queue = queue
        self.clock = clock
        self.base_currency = base_currency
        self.claims = Claims(db)
        self.customers = Customers(db)
        self.problems = Problems(db)
        self._open_subjects: set[str] | None = None

    @property
    def agreement(self) -> int:
        return self.installation.agreement_number

    # -- ledger records in ----------------------------------------------------------------

    async def claim_records(self, invoices: Iterable[BookedInvoice]) -> list[ClaimRecord]:
        """Map invoices to claim records; an invoice that cannot be mapped is a problem."""
        records: list[ClaimRecord] = []
        cleared: list[str] = []
        for invoice in invoices:
            mapped = claim_of(invoice, base_currency=self.base_currency)
            await self.record_problems(mapped.problems)
            if mapped.ok:
                cleared.append(f"invoice:{invoice.booked_invoice_number}")
            if mapped.value is None:
                continue
            draft = mapped.value
            document = msgspec.to_builtins(draft.claim)
            records.append(
                ClaimRecord(
                    invoice_number=invoice.booked_invoice_number,
                    customer_number=invoice.customer.customer_number,
                    kind=draft.claim.kind,
                    currency=draft.claim.currency,
                    gross_amount=draft.claim.gross_amount,
                    remaining=draft.claim.remaining_amount,
                    remaining_base=draft.remaining_base,
                    issued_on=draft.claim.issued_on,
                    due_date=draft.claim.due_on,
                    document=document,
                    fingerprint=fingerprint(draft.claim),
                )
            )
        await self.clear_problems(cleared)
        return records

    async def clear_problems(self, subjects: Iterable[str]) -> None:
        """Problems about these records are solved: they went through this time."""
        if self._open_subjects is None:
            self._open_subjects = await self.problems.open_subjects(self.installation.id)
        solved = [s for s in subjects if s in self._open_subjects]
        await self.problems.resolve_subjects(self.installation.id, solved, now=self.clock())
        self._open_subjects.difference_update(solved)

    async def record_problems(self, problems: Iterable[MappingProblem]) -> None:
        for problem in problems:
            if self._open_subjects is not None:
                self._open_subjects.add(problem.subject)
            await self.problems.record(
                installation_id=self.installation.id,
                category=problem.category,
                code=problem.code,
                subject=problem.subject,
                message=problem.message,
                detail=problem.detail,
                now=self.clock(),
            )

    # -- debtors out ----------------------------------------------------------------------

    async def send_debtors(
        self, customers: Iterable[Customer], *, pushed: dict[int, str | None]
    ) -> int:
        """Record and send the debtors of ``customers`` whose document changed; ``pushed``
        (customer number → fingerprint the platform holds) is updated. How many were sent."""
        records: list[CustomerRecord] = []
        changed: list[tuple[str, Debtor, str]] = []
        was: dict[int, str] = {}  # the version each debtor sent replaces (the key)
        cleared: list[str] = []
        for customer in customers:
            mapped = debtor_of(customer, self.settings)
            await self.record_problems(mapped.problems)
            if mapped.ok:
                cleared.append(f"customer:{customer.customer_number}")
            print_ = fingerprint(mapped.value) if mapped.value is not None else None
            records.append(
                CustomerRecord(
                    customer_number=customer.customer_number,
                    customer_group=(
                        customer.customer_group.customer_group_number
                        if customer.customer_group
                        else None
                    ),
                    barred=customer.barred,
                    fingerprint=print_,
                    last_updated=customer.last_updated,
                    problem=mapped.problems[0].code if mapped.problems else None,
                )
            )
            if mapped.value is not None and print_ != pushed.get(customer.customer_number):
                changed.append((str(customer.customer_number), mapped.value, print_ or ""))
                stamp = customer.last_updated and customer.last_updated.isoformat()
                was[customer.customer_number] = f"{pushed.get(customer.customer_number)}@{stamp}"
        # Each batch is on its way while the store records the customers (or marks the batch
        # before): the platform's time and ours overlap.
        batches = iter([changed[start : start + BATCH] for start in range(0, len(changed), BATCH)])
        posting = self._post_debtors(next(batches, None), was)
        try:
            await self.customers.record(self.installation.id, records, now=self.clock())
            await self.clear_problems(cleared)
            while posting is not None:
                accepted = await posting
                posting = self._post_debtors(next(batches, None), was)
                await self.customers.mark_pushed(
                    self.installation.id,
                    [(int(ref), print_, cid) for ref, print_, cid in accepted],
                    now=self.clock(),
                )
                pushed.update({int(ref): print_ for ref, print_, _ in accepted})
        except BaseException:
            if posting is not None:
                posting.cancel()
                await asyncio.gather(posting, return_exceptions=True)
            raise
        return len(changed)

    def _post_debtors(
        self, chunk: Sequence[tuple[str, Debtor, str]] | None, was: Mapping[int, str]
    ) -> asyncio.Task[list[tuple[str, str, str | None]]] | None:
        if chunk is None:
            return None
        upsert = self._require_collection().upsert_debtors
        return asyncio.create_task(self._send_batch("debtors", chunk, upsert, was))

    # -- claims out -----------------------------------------------------------------------

    async def send_claims(
        self,
        progress: Callable[[int], Awaitable[None]] | None = None,
        *,
        pushed: Callable[[list[Unsent]], Awaitable[None]] | None = None,
    ) -> int:
        """Send every claim whose document changed and whose debtor the platform has;
        ``pushed`` hears of each batch's claims the platform took, once they are marked.

        While a batch is on its way the store marks the one before as sent and reads the next,
        so the platform's time and ours overlap. A batch the process dies with before it was
        marked goes again on the next run: the same key, a replay, unless a claim of it was
        recorded again meanwhile (then a new key for the same content, which changes nothing).

        All under the company's push lease (the module's docstring). A sender that finds it
        lost (it stalled past it, and another sender may have sent since) marks nothing more:
        once it has the lease again, every sender in between has marked what it sent, and the
        claims it had on their way are marked unsure, so the next send sends them again after
        whatever landed; then a `TransientError` (the job is retried)."""
        in_doubt: set[int] = set()
        try:
            async with self._pushing() as held:
                return await self._send_claims(held, in_doubt, progress, pushed)
        except _LeaseLost:
            await self._unsure(in_doubt)
            raise

    async def send_claim(
        self, number: int, print_: str, put: Callable[[], Awaitable[str | None]]
    ) -> None:
        """One claim sent by ``put`` (which returns the platform's id for it) under the push
        lease and marked as `send_claims` marks a batch: the handover's send of a claim as the
        ledger has it now."""
        try:
            async with self._pushing() as held:
                collection_id = await put()
                await self._marked([], [(str(number), print_, collection_id)], None, held)
        except _LeaseLost:
            await self._unsure({number})
            raise

    def _pushing(self) -> AbstractAsyncContextManager[Held]:
        """The company's claims push lease (the module's docstring): waited for on the pool,
        renewed on the reserved connections."""
        name = f"claims-push:{self.installation.id}"
        return Leases(self.db).hold(
            name,
            ttl=PUSH_LEASE_TTL,
            wait=PUSH_WAIT,
            clock=self.clock,
            renewals=self.db.reserved(),
        )

    async def _unsure(self, in_doubt: set[int]) -> None:
        """After a lost lease, once it is ours again (every sender in between has marked what it
        sent): the claims we had on their way go again with the next send."""
        if not in_doubt:
            return
        async with self._pushing():
            await self.claims.mark_unsure(self.installation.id, in_doubt, now=self.clock())

    async def _send_claims(
        self,
        held: Held,
        in_doubt: set[int],
        progress: Callable[[int], Awaitable[None]] | None,
        pushed: Callable[[list[Unsent]], Awaitable[None]] | None,
    ) -> int:
        """`send_claims` holding the lease; ``in_doubt`` keeps the claims sent and not marked."""
        sent, sending = 0, await self.claims.to_push(self.installation.id, limit=BATCH)
        taken: list[tuple[str, str, str | None]] = []
        before: list[Unsent] = []
        while sending:
            if held.lost:
                raise _LeaseLost
            in_doubt.update(u.invoice_number for u in sending)
            posting = asyncio.create_task(self._post_claims(sending))
            try:
                await self._marked(before, taken, pushed, held)
                in_doubt.difference_update(u.invoice_number for u in before)
                following = await self.claims.to_push(
                    self.installation.id, after=sending[-1].invoice_number, limit=BATCH
                )
                taken = await posting
            except BaseException:
                posting.cancel()
                await asyncio.gather(posting, return_exceptions=True)
                raise
            sent += len(sending)
            if progress is not None:
                await progress(len(sending))
            sending, before = following, sending
        await self._marked(before, taken, pushed, held)
        return sent

    async def _marked(
        self,
        batch: Sequence[Unsent],
        accepted: Sequence[tuple[str, str, str | None]],
        pushed: Callable[[list[Unsent]], Awaitable[None]] | None,
        held: Held,
    ) -> None:
        """Mark what the platform took, fenced by the push lease (`_LeaseLost` when it is no
        longer held: nothing marked)."""
        if not accepted:
            return
        marks = [(int(ref), print_, cid) for ref, print_, cid in accepted]

        async def mark(tx: Connection) -> bool:
            if not await Leases(tx).holds(held.name, held.holder, now=self.clock()):
                return False
            await Claims(tx).mark_pushed(self.installation.id, marks, now=self.clock())
            return True

        if not await self.db.atomically(mark):
            held.lost = True
            raise _LeaseLost
        if pushed is not None:
            took = {ref for ref, _, _ in accepted}
            await pushed([u for u in batch if str(u.invoice_number) in took])

    async def _post_claims(self, unsent: Sequence[Unsent]) -> list[tuple[str, str, str | None]]:
        chunk = [
            (str(u.invoice_number), msgspec.convert(u.document, Claim), u.fingerprint)
            for u in unsent
        ]
        was = {
            u.invoice_number: f"{u.pushed_fingerprint}@{u.updated_at and u.updated_at.isoformat()}"
            for u in unsent
        }
        upsert = self._require_collection().upsert_claims
        return await self._send_batch("claims", chunk, upsert, was)

    async def _send_batch(
        self,
        kind: str,
        chunk: Sequence[tuple[str, Any, str]],
        upsert: Callable[..., Awaitable[list[BatchItemResult]]],
        was: Mapping[int, str],
    ) -> list[tuple[str, str, str | None]]:
        """Post one batch; ``(ref, fingerprint, platform id)`` of the items the platform took.
        ``was``: by number, the version each item replaces (in the key)."""
        versions = ((ref, f"{print_}<{was.get(int(ref))}") for ref, _, print_ in chunk)
        key = batch_key(kind, self.agreement, versions)
        results = await upsert([(ref, item) for ref, item, _ in chunk], idempotency_key=key)
        prints = {ref: print_ for ref, _, print_ in chunk}
        accepted: list[tuple[str, str, str | None]] = []
        for result in results:
            ref = result.external_ref
            if ref is None or ref not in prints:
                continue
            if result.status in (200, 201):
                accepted.append((ref, prints[ref], result.id))
            else:
                await self._refused(kind, ref, result)
        await self.clear_problems(f"{kind[:-1]}:{ref}" for ref, _, _ in accepted)
        return accepted

    async def _refused(self, kind: str, ref: str, result: BatchItemResult) -> None:
        error = result.error
        code = error.code if error and error.code else f"http_{result.status}"
        if kind == "claims" and code == "claim_locked":
            # Handed over: the platform takes changes as payments; reconciliation reports them.
            await self.enqueue_reconcile([int(ref)])
            return
        noun = "debtor" if kind == "debtors" else "claim"
        if self._open_subjects is not None:
            self._open_subjects.add(f"{noun}:{ref}")
        detail = (error.detail or error.title) if error else ""
        await self.problems.record(
            installation_id=self.installation.id,
            category="rejected_by_collector",
            code=f"{noun}_rejected",
            subject=f"{noun}:{ref}",
            message=(
                f"The collection platform refused {noun} {ref} ({code}): {detail}. "
                "Correct it in e-conomic; it is sent again by the next sync."
            ),
            detail={"status": result.status, "code": code},
            now=self.clock(),
        )
        if kind == "claims":
            await self.claims.set_problem(self.installation.id, int(ref), code, now=self.clock())

    def _require_collection(self) -> CollectionWriter:
        if self.collection is None:
            raise RuntimeError("no collection client: the installation has no collection account")
        return self.collection

    # -- handover policy ------------------------------------------------------------------

    async def apply_policy(self, *, today: dt.date) -> int:
        """Decide every open claim's next state; hand-overs due now become jobs. How many."""
        after, due = 0, 0
        while True:
            page = await self.claims.standings_after(self.installation.id, after=after)
            if not page:
                return due
            due += await self.decide_claims(page, today=today)
            after = page[-1].invoice_number

    async def decide_claims(
        self, claims: Sequence[StoredClaim | ClaimStanding], *, today: dt.date
    ) -> int:
        """The policy's decision for these claims, stored; how many go to collection now."""
        changes, handovers = [], []
        for claim in claims:
            decision = decide(facts_of(claim), self.settings.policy, today=today)
            # A claim is in collection only once the platform took it: until the handover
            # job has done so, it is scheduled for today.
            state = "scheduled" if decision.hand_over else decision.state
            target = (state, decision.announced_on, decision.handover_on)
            if target != (claim.state, claim.announced_on, claim.handover_on):
                changes.append((claim.invoice_number, *target))
            if decision.hand_over:
                handovers.append(claim.invoice_number)
        await self.claims.set_states(self.installation.id, changes, now=self.clock())
        await self.enqueue_handovers(handovers)
        return len(handovers)

    def first_decisions(
        self, records: Sequence[ClaimRecord], *, today: dt.date
    ) -> list[ClaimRecord]:
        """``records`` with the policy's decision for a claim met for the first time, which the
        store keeps only when the row is new: a bootstrap then writes each claim's state with
        the claim instead of once more in the policy pass. What is not known yet of the customer
        (its group, barred) is the policy pass's, which decides again with it; nothing is handed
        over before that pass (it queues the handovers)."""
        policy, decided = self.settings.policy, []
        for record in records:
            facts = ClaimFacts(
                kind=record.kind,
                due_date=record.due_date,
                remaining=record.remaining,
                remaining_base=record.remaining_base,
            )
            decision = decide(facts, policy, today=today)
            state: ClaimState = "scheduled" if decision.hand_over else decision.state
            decided.append(
                msgspec.structs.replace(
                    record,
                    state=state,
                    announced_on=decision.announced_on,
                    handover_on=decision.handover_on,
                )
            )
        return decided

    async def enqueue_handovers(self, invoices: Iterable[int], *, reason: str = "policy") -> None:
        jobs = [
            schedules.handover(self.installation.id, self.agreement, n, reason=reason)
            for n in invoices
        ]
        if jobs:
            await self.queue.enqueue_many(jobs, now=self.clock())

    async def enqueue_reconcile(self, invoices: Iterable[int]) -> None:
        jobs = [schedules.reconcile(self.installation.id, self.agreement, n) for n in invoices]
        if jobs:
            await self.queue.enqueue_many(jobs, now=self.clock())


def facts_of(claim: StoredClaim | ClaimStanding) -> ClaimFacts:
    return ClaimFacts(
        kind=claim.kind,
        state=claim.state,
        due_date=claim.due_date,
        remaining=claim.remaining,
        remaining_base=claim.remaining_base,
        customer_group=claim.customer_group,
        customer_barred=claim.customer_barred,
        disputed=claim.disputed,
        held=claim.held,
        proposed=claim.proposed,
        announced_on=claim.announced_on,
    )
