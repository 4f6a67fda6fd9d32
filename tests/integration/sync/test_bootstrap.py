"""The bootstrap against both simulators over HTTP, on SQLite and PostgreSQL: exactly the
ledger's overdue invoices (and the open credit notes of their customers) become claims with the
ledger's remainders, only their customers become debtors, and a second run writes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.integration.sync.support import Company, running_company

TODAY = dt.date(2026, 11, 23)


def expected_claims(company: Company) -> dict[str, int]:
    """Invoice number → remaining, straight from the simulator's ledger."""
    invoices = company.ledger.invoices.values()
    overdue = {
        i.number: i for i in invoices if i.gross > 0 and i.remainder != 0 and i.due_date < TODAY
    }
    customers = {i.customer for i in overdue.values()}
    credit_notes = {
        i.number: i
        for i in invoices
        if i.gross < 0 and i.remainder != 0 and i.customer in customers
    }
    return {str(n): i.remainder for n, i in {**overdue, **credit_notes}.items()}


async def collection_writes(company: Company) -> list[dict[str, Any]]:
    answer = await company.collection.control("GET", "/_sandbox/calls")
    return [c for c in answer["items"] if c["path"].startswith("/v1/") and c["method"] != "GET"]


async def test_bootstrap_sends_exactly_the_overdue_claims_and_their_debtors(
    database_url: str,
) -> None:
    async with running_company(database_url, invoices=160) as company:
        job_id = await company.enqueue("sync.bootstrap", f"bootstrap:{company.agreement}")
        await company.settle()
        job = await company.job(job_id)
        assert job.state == "succeeded", job.last_error
        assert job.progress_total is not None and job.progress_done == job.progress_total

        expected = expected_claims(company)
        platform = company.platform_claims()
        assert expected, "the seed has overdue invoices"
        assert {ref: c.fields["remaining_amount"] for ref, c in platform.items()} == expected
        customers = {str(company.ledger.invoices[int(ref)].customer) for ref in expected}
        assert set(company.platform_debtors()) == customers

        # Nothing changed in the ledger: a second run reads, but writes nothing.
        writes = len(await collection_writes(company))
        before = {ref: c.version for ref, c in platform.items()}
        again = await company.enqueue("sync.bootstrap", f"bootstrap:{company.agreement}")
        await company.settle()
        assert (await company.job(again)).state == "succeeded"
        assert {ref: c.version for ref, c in company.platform_claims().items()} == before
        assert (await collection_writes(company))[writes:] == []
