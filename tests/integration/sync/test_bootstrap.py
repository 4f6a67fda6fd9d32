"""The bootstrap against both simulators over HTTP, on SQLite and PostgreSQL: exactly the
ledger's overdue invoices (and the open credit notes of their customers) become claims with the
ledger's remainders, only their customers become debtors, and a second run writes nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from tests.fixtures.conditions import eventually
from tests.integration.sync.support import Company, install, running_company

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


async def test_a_ten_thousand_invoice_bootstrap_is_exact_to_the_minor_unit(
    database_url: str,
) -> None:
    """Every claim's remaining equals the ledger's remainder, awkward decimals (1019.99, 0.07,
    0.29, 1.15, …) and EUR invoices included."""
    async with running_company(database_url, invoices=10_000) as company:
        job_id = await company.enqueue("sync.bootstrap", f"bootstrap:{company.agreement}")
        await company.settle(concurrency=4)
        job = await company.job(job_id)
        assert job.state == "succeeded", job.last_error
        expected = expected_claims(company)
        platform = company.platform_claims()
        assert {ref: c.fields["remaining_amount"] for ref, c in platform.items()} == expected
        currencies = {c.fields["currency"] for c in platform.values()}
        assert {"DKK", "EUR"} <= currencies
        ledger = company.ledger.invoices
        cents = {
            ledger[int(ref)].remainder % 100
            for ref in expected
            if ledger[int(ref)].currency != "ISK"
        }
        assert len(cents) > 50, "remainders with all sorts of øre and cents"
        for ref, claim in platform.items():
            invoice = ledger[int(ref)]
            assert claim.fields["gross_amount"] == invoice.gross
            assert claim.fields["net_amount"] == invoice.net
            assert claim.fields["vat_amount"] == invoice.vat


async def test_invoice_pdfs_follow_their_claims_within_the_budget(database_url: str) -> None:
    async with running_company(
        database_url, invoices=40, settings={"send_documents": True}
    ) as company:
        job_id = await company.enqueue("sync.bootstrap", f"bootstrap:{company.agreement}")
        await company.settle()
        assert (await company.job(job_id)).state == "succeeded"
        platform = company.platform_claims()
        invoices = [ref for ref, c in platform.items() if c.fields["kind"] == "invoice"]
        assert invoices
        for ref in invoices:
            document = platform[ref].document
            assert document is not None and document.startswith(b"%PDF-"), ref
        assert all(c.document_at is not None for c in await company.claims() if c.kind == "invoice")


async def test_a_429_storm_is_waited_out_never_hammered(database_url: str) -> None:
    async with running_company(database_url, invoices=60) as company:
        async with company.services.http.post(
            company.economic.url + "/_sandbox/faults",
            json={"status": 429, "rate": 0.4, "retry_after": 1},
        ) as r:
            assert r.status == 200
        job_id = await company.enqueue("sync.bootstrap", f"bootstrap:{company.agreement}")
        await company.settle()
        job = await company.job(job_id)
        if job.state == "failed":  # every in-call retry refused: the job waits and goes again
            company.bridge.clock.now = job.run_at
            await company.settle()
        assert (await company.job(job_id)).state == "succeeded"
        assert {
            ref: c.fields["remaining_amount"] for ref, c in company.platform_claims().items()
        } == (expected_claims(company))
        calls = [c for c in company.economic.state.calls if c.agreement == company.agreement]
        refused = [c for c in calls if c.status == 429]
        assert refused, "the storm refused some calls"
        for call in refused:
            again = [
                c
                for c in calls
                if (c.method, c.path, c.query) == (call.method, call.path, call.query)
                and c.at > call.at
            ]
            if again:
                waited = (again[0].at - call.at).total_seconds()
                assert waited >= 1.0, f"{call.path} asked again after {waited:.3f} s"


async def test_a_small_company_is_not_kept_waiting_by_a_huge_one(database_url: str) -> None:
    async with running_company(database_url, invoices=8000) as huge:
        demo = next(a for a, c in huge.economic.state.companies.items() if c.demo)
        small = await install(huge.bridge, huge.economic, huge.collection, demo)
        big_job = await huge.enqueue("sync.bootstrap", f"bootstrap:{huge.agreement}")
        small_job = await small.enqueue("sync.bootstrap", f"bootstrap:{small.agreement}")
        states: dict[int, str] = {}

        async def small_done() -> bool:
            states.update({j: (await huge.job(j)).state for j in (big_job, small_job)})
            return states[small_job] == "succeeded"

        settling = asyncio.create_task(huge.settle(concurrency=2))
        await eventually(small_done, within=60, step=0.005)
        # The huge company's backfill was queued first and runs for long; the small one's ran
        # beside it (one installation never takes every slot) and was done before it.
        assert states[big_job] == "running"
        await settling
        assert (await huge.job(big_job)).state == "succeeded"
        assert small.platform_claims() and huge.platform_claims()
