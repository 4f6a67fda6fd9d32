"""Handing one claim over to collection (``handover.claim``), idempotent and paid-proof.

Right before the handover the invoice is read again from the ledger (one call): a claim whose
remainder is 0 by now is withdrawn on the platform (``paid_to_creditor``) and never handed over;
a changed remainder is sent first, so the case starts from what is really owed. The handover
is preceded by the invoice's PDF when it has not gone yet. The handover
itself carries ``Idempotency-Key: handover:<agreement>:<invoice>``: a retry after a crash is a
replay, and a claim the platform already holds in a case (409) is success, not a problem.

Who may ask: the policy (``reason: policy``: the decision is taken again with today's facts, so
a hold, a dispute or a policy change since the job was queued wins), or an admin's approval
(``reason: approved``: anything but a held, disputed or closed claim goes). A handover the
platform takes without opening a case (``case_id`` null: the debtor has no usable channel)
leaves the claim where it was and records a problem.
"""

from __future__ import annotations

from typing import Literal, Protocol

import msgspec

from sync.clients.collection_types import Claim, HandoverResult, UpsertResult
from sync.clients.economic_types import BookedInvoice
from sync.documents import send_document
from sync.engine import Engine, facts_of
from sync.errors import ConflictError, ValidationError
from sync.mapping import claim_of, fingerprint, today_in_copenhagen
from sync.policy import decide
from sync.store.claims import ClaimRecord, StoredClaim

Outcome = Literal["handed_over", "already", "paid", "not_eligible", "unknown", "refused", "no_case"]
_CLOSED = frozenset({"in_collection", "closed", "withdrawn"})


class InvoiceReader(Protocol):
    async def invoice(self, number: int) -> BookedInvoice: ...

    async def invoice_pdf(self, number: int) -> bytes: ...


class ClaimWriter(Protocol):
    async def put_claim(self, external_ref: str, claim: Claim) -> UpsertResult: ...

    async def put_claim_document(self, external_ref: str, pdf: bytes) -> None: ...

    async def handover(
        self,
        external_ref: str,
        *,
        start_step: Literal["reminder_1", "collection_notice"],
        idempotency_key: str,
        note: str | None = None,
    ) -> HandoverResult: ...

    async def withdraw(
        self,
        external_ref: str,
        *,
        reason: Literal["paid_to_creditor", "credited", "disputed", "sent_in_error"],
        idempotency_key: str,
    ) -> None: ...


class Handover:
    def __init__(self, engine: Engine, ledger: InvoiceReader, collection: ClaimWriter) -> None:
        self.engine = engine
        self.ledger = ledger
        self.collection = collection

    async def run(self, invoice_number: int, *, reason: str) -> Outcome:
        engine = self.engine
        claim = await engine.claims.get(engine.installation.id, invoice_number)
        if claim is None:
            return "unknown"
        if claim.state in _CLOSED:
            return "already"
        if not self._may_go(claim, reason):
            return "not_eligible"
        invoice = await self.ledger.invoice(invoice_number)
        mapped = claim_of(invoice, base_currency=engine.base_currency)
        await engine.record_problems(mapped.problems)
        if mapped.value is None:
            return "refused"
        if mapped.value.claim.remaining_amount == 0:
            await self._withdraw_paid(claim)
            return "paid"
        await self._send_current(claim, mapped.value.claim, mapped.value.remaining_base)
        if claim.document_at is None and engine.settings.send_documents:
            # The debtor recognises the invoice by its PDF.
            await send_document(engine, self.ledger, self.collection, invoice_number)
        return await self._hand_over(claim)

    def _may_go(self, claim: StoredClaim, reason: str) -> bool:
        if reason == "approved":
            return claim.kind == "invoice" and not claim.held and not claim.disputed
        today = today_in_copenhagen(self.engine.clock())
        return decide(facts_of(claim), self.engine.settings.policy, today=today).hand_over

    async def _withdraw_paid(self, claim: StoredClaim) -> None:
        engine = self.engine
        ref = str(claim.invoice_number)
        if claim.pushed_fingerprint is not None:
            await self.collection.withdraw(
                ref,
                reason="paid_to_creditor",
                idempotency_key=f"withdraw:{engine.agreement}:{claim.invoice_number}",
            )
        await engine.claims.change_state(claim, state="withdrawn", now=engine.clock())

    async def _send_current(self, claim: StoredClaim, current: Claim, remaining_base: int) -> None:
        """The claim as the ledger has it now, recorded and sent when it changed."""
        engine = self.engine
        print_ = fingerprint(current)
        if print_ == claim.pushed_fingerprint:
            return
        record = ClaimRecord(
            invoice_number=claim.invoice_number,
            customer_number=claim.customer_number,
            kind=current.kind,
            currency=current.currency,
            gross_amount=current.gross_amount,
            remaining=current.remaining_amount,
            remaining_base=remaining_base,
            issued_on=current.issued_on,
            due_date=current.due_on,
            document=msgspec.to_builtins(current),
            fingerprint=print_,
        )
        now = engine.clock()
        await engine.claims.record(engine.installation.id, [record], scan=claim.seen_scan, now=now)

        async def put() -> str | None:
            answer = await self.collection.put_claim(str(claim.invoice_number), current)
            return answer.id

        # Under the push lease: never overtaken by another job's older send of the claim.
        await engine.send_claim(claim.invoice_number, print_, put)

    async def _hand_over(self, claim: StoredClaim) -> Outcome:
        engine = self.engine
        try:
            result = await self.collection.handover(
                str(claim.invoice_number),
                start_step=engine.settings.policy.start_step,
                idempotency_key=f"handover:{engine.agreement}:{claim.invoice_number}",
            )
        except ConflictError:
            case_id = None  # already in a case: the platform's events tell which
        except ValidationError as exc:
            await self._problem(claim, "handover_refused", exc.message, detail=exc.detail)
            return "refused"
        else:
            case_id = result.case_id
            if case_id is None:
                await self._problem(
                    claim,
                    "handover_without_case",
                    "The collection platform took the claim but opened no case: the debtor "
                    "has no channel it can reach (no address, e-mail or e-invoice identifier). "
                    "Add one to the customer in e-conomic and approve the claim again.",
                )
                return "no_case"
        await engine.claims.handed_over(
            engine.installation.id, claim.invoice_number, case_id=case_id, now=engine.clock()
        )
        await engine.clear_problems([f"handover:{claim.invoice_number}"])
        return "handed_over"

    async def _problem(
        self, claim: StoredClaim, code: str, message: str, *, detail: object = None
    ) -> None:
        await self.engine.problems.record(
            installation_id=self.engine.installation.id,
            category="rejected_by_collector",
            code=code,
            subject=f"handover:{claim.invoice_number}",
            message=f"Invoice {claim.invoice_number}: {message}",
            detail={"detail": detail} if detail is not None else {},
            now=self.engine.clock(),
        )
