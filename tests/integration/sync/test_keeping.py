"""Keeping the collection account right after the bootstrap, against both simulators: newly
overdue invoices, payments the creditor received directly, changed customers, the checksum that
spares a scan, and the full scan that runs whatever it says."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sync import schedules
from sync.money import to_decimal
from sync.store.problems import Problems
from sync.store.sync_state import SyncState
from tests.integration.sync.support import Company, running_company


async def bootstrapped(company: Company) -> None:
    job = await company.services.queue.enqueue(
        schedules.bootstrap(company.installation.id, company.agreement), now=company.bridge.clock()
    )
    await company.settle()
    assert (await company.job(job)).state == "succeeded"


async def run(company: Company, job: Any) -> None:
    job_id = await company.services.queue.enqueue(job, now=company.bridge.clock())
    await company.settle()
    found = await company.job(job_id)
    assert found.state == "succeeded", found.last_error


async def test_a_payment_before_handover_lowers_the_claim_and_a_full_payment_withdraws_it(
    database_url: str,
) -> None:
    async with running_company(database_url, invoices=80) as company:
        await bootstrapped(company)
        claims = company.platform_claims()
        ref, claim = next((r, c) for r, c in claims.items() if c.fields["kind"] == "invoice")
        remaining = claim.fields["remaining_amount"]
        number = int(ref)
        ledger_amount = company.ledger.invoices[number].remainder
        currency = company.ledger.invoices[number].currency
        assert remaining == ledger_amount
        # Part of it paid to the creditor directly: the claim follows the ledger.
        part = remaining // 3
        await company.economic_call(
            "POST",
            f"/_sandbox/invoices/{number}/payments",
            {"agreement": company.agreement, "amount": to_decimal(part, currency)},
        )
        await run(company, schedules.invoice(company.installation.id, company.agreement, number))
        after = company.platform_claims()[ref].fields["remaining_amount"]
        assert after == company.ledger.invoices[number].remainder
        # Paid in full: never handed over, withdrawn on the platform.
        await company.economic_call(
            "POST",
            f"/_sandbox/invoices/{number}/payments",
            {"agreement": company.agreement, "amount": to_decimal(after, currency)},
        )
        await run(company, schedules.invoice(company.installation.id, company.agreement, number))
        assert company.platform_claims()[ref].state == "closed"
        stored = {c.invoice_number: c for c in await company.claims()}
        assert stored[number].state == "withdrawn"


async def test_the_daily_scan_is_spared_while_the_checksum_holds(database_url: str) -> None:
    async with running_company(database_url, invoices=60) as company:
        await bootstrapped(company)
        before = len(
            (await company.economic_call("GET", f"/_sandbox/calls?agreement={company.agreement}"))[
                "items"
            ]
        )
        await run(company, schedules.scan(company.installation.id, company.agreement))
        calls = (
            await company.economic_call("GET", f"/_sandbox/calls?agreement={company.agreement}")
        )["items"]
        # Reference data is cached; the scan reads the checksum alone.
        assert [c["path"] for c in calls[before:]] == ["/invoices/totals/booked/unpaid/overdue"]
        await run(company, schedules.scan(company.installation.id, company.agreement, full=True))
        calls = (
            await company.economic_call("GET", f"/_sandbox/calls?agreement={company.agreement}")
        )["items"]
        assert any(c["path"] == "/invoices/unpaid" for c in calls[before:])


async def test_changed_customers_are_sent_once_equal_timestamps_included(database_url: str) -> None:
    async with running_company(database_url, invoices=80) as company:
        await bootstrapped(company)
        debtors = company.platform_debtors()
        first, second = sorted(debtors, key=int)[:2]
        versions = {ref: d.version for ref, d in debtors.items()}

        async def change(ref: str, email: str) -> None:
            await company.economic_call(
                "PUT",
                f"/_sandbox/customers/{ref}",
                {"agreement": company.agreement, "email": email},
            )

        await change(first, "betaling@eksempel.dk")
        await run(company, schedules.customers(company.installation.id, company.agreement))
        after = company.platform_debtors()
        assert after[first].fields["email"] == "betaling@eksempel.dk"
        assert {ref: d.version for ref, d in after.items() if ref != first} == {
            ref: v for ref, v in versions.items() if ref != first
        }, "unchanged customers are not sent again"
        cursor = (
            await SyncState(company.bridge.db).get(company.installation.id, "customers")
        ).cursor
        # A change stamped the same second as the cursor (e-conomic's stamps are whole
        # seconds) is still read: the filter is ≥ cursor − overlap, never > cursor.
        await change(second, "faktura@eksempel.dk")
        stamp = company.ledger.customers[int(second)].last_updated
        assert cursor is not None and stamp >= dt.datetime.fromisoformat(cursor) - dt.timedelta(
            seconds=1
        )
        await run(company, schedules.customers(company.installation.id, company.agreement))
        assert company.platform_debtors()[second].fields["email"] == "faktura@eksempel.dk"
        # Read again by the overlap, the first change costs nothing: its debtor is unchanged.
        assert company.platform_debtors()[first].version == after[first].version


async def test_a_customer_the_collector_cannot_reach_is_a_problem_until_fixed(
    database_url: str,
) -> None:
    async with running_company(database_url, invoices=80) as company:
        await bootstrapped(company)
        ref = sorted(company.platform_debtors(), key=int)[0]
        customer = company.ledger.customers[int(ref)]
        kept = {"address": customer.address, "email": customer.email}
        unreachable = {
            "agreement": company.agreement,
            "address": "",
            "email": "",
            "corporateIdentificationNumber": "",
            "ean": "",
            "mobilePhone": "",
            "telephoneAndFaxNumber": "",
        }
        await company.economic_call("PUT", f"/_sandbox/customers/{ref}", unreachable)
        await run(company, schedules.customers(company.installation.id, company.agreement))
        problems = await Problems(company.bridge.db).open(company.installation.id)
        found = [p for p in problems if p.subject == f"customer:{ref}"]
        assert [p.category for p in found] == ["missing_data"], problems
        assert f"Customer {ref}" in found[0].message
        # Fixed in e-conomic: sent again at the next sync, and the problem closes by itself.
        await company.economic_call(
            "PUT", f"/_sandbox/customers/{ref}", {"agreement": company.agreement, **kept}
        )
        await run(company, schedules.customers(company.installation.id, company.agreement))
        problems = await Problems(company.bridge.db).open(company.installation.id)
        assert [p for p in problems if p.subject == f"customer:{ref}"] == []
