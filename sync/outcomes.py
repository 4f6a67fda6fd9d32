"""Case outcomes back into the books (issue 12): closed cases, write-offs after approval, barred
customers.

    (``case.closed`` itself — the claims ended, ``pushback.writeoff`` and ``pushback.barred``
    queued — is applied by `sync.inbox_processing` in the event's own transaction.)
    await WriteOffPushback(p).run(event)  the ``pushback.writeoff`` job: the proposal is stored
                                          (once per case); once an admin approved it, its voucher
                                          is posted through the outbox (`sync.pushback`)
    await bar_customer(p, customer, …)    the ``pushback.barred`` job: GET the whole customer
                                          document, set ``barred``, PUT it back (every other
                                          field as it was), through the outbox

A write-off credits each claim's remaining principal (as the collector wrote it off) to the
customer against the invoice: the net part against the loss account, the VAT part (the
invoice's VAT share, `sync.vouchers.vat_part`) against output VAT, as domain.md says: a confirmed
loss gets its VAT back. The voucher is dated the day the case closed (the first open day after
it when that year is closed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Protocol

import msgspec

from sync import schedules
from sync.clients.economic_types import Customer
from sync.collection_events import CaseClosed, case_closed, occurred_on
from sync.mapping import today_in_copenhagen
from sync.pushback import Pushback
from sync.store.claims import StoredClaim
from sync.store.outbox import NewOutboxItem, OutboxItem
from sync.store.writeoffs import StoredWriteOff, WriteOffs
from sync.vouchers import (
    InvoiceRef,
    VoucherRefused,
    WriteOffLine,
    booking_on,
    own_drops,
    reference,
    writeoff_line,
    writeoff_voucher,
)


def writeoff_key(agreement: int, case_id: str) -> str:
    return f"writeoff-voucher:{agreement}:{case_id}"


def _invoice_ref(ref: str) -> bool:
    """Whether a claim ref can be one of ours (an invoice number)."""
    return ref.isascii() and ref.isdigit() and len(ref) <= 18


class WriteOffPushback:
    def __init__(self, pushback: Pushback) -> None:
        self.pushback = pushback
        self.engine = pushback.engine
        self.store = WriteOffs(self.engine.db)
        self.id = self.engine.installation.id

    async def run(self, event: Mapping[str, Any]) -> str:
        """Propose the case's write-off, or post it once approved; what it is now."""
        closed = case_closed(event)
        if closed.reason != "written_off":
            return "not_written_off"
        proposal = await self.store.of_case(self.id, closed.case_id)
        if proposal is None:
            payload = await self.proposal(closed, event)
            proposal = await self.store.propose(
                self.id, closed.case_id, payload, now=self.engine.clock()
            )
        if proposal.state != "approved":
            return proposal.state
        key = writeoff_key(self.engine.agreement, closed.case_id)
        item = await self.pushback.outbox.by_key(key) or await self._open(proposal)
        await self.pushback.post(item)
        return "posted"

    async def proposal(self, closed: CaseClosed, event: Mapping[str, Any]) -> dict[str, Any]:
        """The write-off as an admin sees it before approving: per claim the principal, its
        net and VAT parts."""
        lines: list[WriteOffLine] = []
        currency = None
        for part in closed.write_offs:
            if part.principal <= 0:
                continue
            claim = await self._claim(part.claim_ref)
            currency = currency or claim.currency
            lines.append(
                writeoff_line(
                    InvoiceRef(
                        invoice_number=claim.invoice_number,
                        customer_number=claim.customer_number,
                    ),
                    part.principal,
                    vat=int(claim.document.get("vat_amount", 0)),
                    gross=int(claim.document.get("gross_amount", claim.gross_amount)),
                )
            )
        closed_on = occurred_on(event) or today_in_copenhagen(self.engine.clock())
        return {
            "case_id": closed.case_id,
            "currency": currency or self.engine.base_currency,
            "closed_on": closed_on.isoformat(),
            "principal": sum(x.principal for x in lines),
            "net": sum(x.net for x in lines),
            "vat": sum(x.vat for x in lines),
            "lines": msgspec.to_builtins(lines),
            "event": dict(event),
        }

    async def _claim(self, ref: str) -> StoredClaim:
        claim = await self.engine.claims.get(self.id, int(ref)) if _invoice_ref(ref) else None
        if claim is None:
            raise VoucherRefused(
                "unknown_claim",
                f"the collector wrote off claim {ref}, which we never sent: book the loss by "
                "hand in e-conomic",
                detail={"claim_ref": ref},
            )
        return claim

    async def _open(self, proposal: StoredWriteOff) -> OutboxItem:
        payload = proposal.payload
        lines = msgspec.convert(payload["lines"], list[WriteOffLine])
        closed_on = dt.date.fromisoformat(str(payload["closed_on"]))
        journal = self.pushback.journal()
        voucher = writeoff_voucher(
            lines,
            case_id=proposal.case_id,
            currency=str(payload["currency"]),
            accounts=self.engine.settings.accounts,
            booking=booking_on(closed_on, self.pushback.reference.accounting_years),
        )
        job = schedules.pushback_writeoff(
            self.id, self.engine.agreement, proposal.case_id, payload["event"]
        )
        new = NewOutboxItem(
            installation_id=self.id,
            platform="economic",
            operation="voucher.writeoff",
            idempotency_key=writeoff_key(self.engine.agreement, proposal.case_id),
            request={
                "journal_number": journal.journal_number,
                "reference": reference("writeoff", proposal.case_id),
                "case_id": proposal.case_id,
                "writeoff_id": proposal.id,
                "voucher": msgspec.to_builtins(voucher),
            },
            job=msgspec.to_builtins(job),
        )
        return await self.pushback.sender.open(new, own=own_drops(voucher))


class BarringLedger(Protocol):
    """What `bar_customer` needs of `sync.clients.economic.EconomicClient`."""

    async def set_barred(
        self, customer_number: int, barred: bool, *, idempotency_key: str
    ) -> Customer: ...


async def bar_customer(
    pushback: Pushback, ledger: BarringLedger, customer: int, *, job_id: int
) -> None:
    """The customer marked ``barred`` in e-conomic (GET, change, PUT back), once."""
    engine = pushback.engine
    job = schedules.pushback_barred(engine.installation.id, engine.agreement, customer)
    new = NewOutboxItem(
        installation_id=engine.installation.id,
        platform="economic",
        operation="customer.barred",
        idempotency_key=f"barred:{engine.agreement}:{customer}:{job_id}",
        request={"customer_number": customer, "barred": True},
        job=msgspec.to_builtins(job),
    )

    async def send(key: str) -> dict[str, Any]:
        changed = await ledger.set_barred(customer, True, idempotency_key=key)
        return {"customerNumber": changed.customer_number, "barred": changed.barred}

    await pushback.sender.deliver(new, send=send)
