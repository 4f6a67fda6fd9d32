"""Invoice PDFs to their claims (``sync.document``), within the e-conomic budget.

A PDF costs one e-conomic call, so PDFs do not travel with the claims: the bootstrap queues one
low-priority job per claim without its document, run at the bulk pace (`sync.budget`), and a
claim about to be handed over gets its PDF first, inside the handover (prompt pace). Sending is
an idempotent PUT; a claim that left collection meanwhile is skipped.
"""

from __future__ import annotations

from typing import Protocol

from sync import schedules
from sync.engine import Engine
from sync.jobs import NewJob

_ENDED = frozenset({"closed", "withdrawn"})


class PdfReader(Protocol):
    async def invoice_pdf(self, number: int) -> bytes: ...


class DocumentWriter(Protocol):
    async def put_claim_document(self, external_ref: str, pdf: bytes) -> None: ...


async def send_document(
    engine: Engine, ledger: PdfReader, platform: DocumentWriter, number: int
) -> bool:
    """Send the PDF of ``number`` unless it went already; whether it was sent now."""
    claim = await engine.claims.get(engine.installation.id, number)
    if claim is None or claim.state in _ENDED or claim.document_at is not None:
        return False
    if claim.pushed_fingerprint is None:
        return False  # not in the collection account (yet): the next sync queues it again
    pdf = await ledger.invoice_pdf(number)
    await platform.put_claim_document(str(number), pdf)
    await engine.claims.document_sent(engine.installation.id, number, now=engine.clock())
    return True


async def queue_missing_documents(engine: Engine) -> int:
    """One ``sync.document`` job per claim without its PDF; how many were queued. Queued in one
    batch, so the queue refreshes its statistics once, not once per thousand."""
    after, jobs = 0, list[NewJob]()
    while numbers := await engine.claims.without_document(engine.installation.id, after=after):
        jobs.extend(
            schedules.document(engine.installation.id, engine.agreement, n) for n in numbers
        )
        after = numbers[-1]
    if jobs:
        await engine.queue.enqueue_many(jobs, now=engine.clock())
    return len(jobs)
