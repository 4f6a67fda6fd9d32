"""After our voucher is booked, the invoice's remainder is re-read (issue 12, item 1): after our
own booking (auto-booking) or after the day-book hint when the bookkeeper books; a booked
principal the remainder did not drop by becomes a problem saying what to do, and nothing is
reported to the collection platform. Re-reads are coalesced: one call for many invoices."""

from __future__ import annotations

import datetime as dt

from sync import schedules
from sync.store.problems import Problems
from tests.integration.sync.support import Company, a_customer
from tests.integration.sync.test_pushback import (
    JOURNAL,
    SETTINGS,
    TODAY,
    balances,
    book,
    collector_receives,
    handed_over,
    minor,
    pushed,
    run,
    running_company,
)


def reported(company: Company) -> list[object]:
    return [k for k in company.collection.state.payments if k[0] == company.account_id]


def invoice_reads(company: Company) -> list[str]:
    """The e-conomic calls that read booked invoices (single or listed), in order."""
    return [
        f"{c.path}?{c.query}"
        for c in company.economic.state.calls
        if c.agreement == company.agreement and c.path.startswith("/invoices/booked")
    ]


async def test_a_booked_payment_the_remainder_did_not_drop_by_is_a_problem(
    database_url: str,
) -> None:
    async with running_company(database_url, invoices=0, settings=SETTINGS) as company:
        customer = a_customer(company)
        due = TODAY - dt.timedelta(days=30)
        numbers = [await book(company, customer, due=due, amount=a) for a in ("500.00", "400.00")]
        case_id = await handed_over(company, *numbers)
        first, second = balances(company, case_id)
        fees = first.fees + first.interest + second.fees + second.interest
        event = await collector_receives(company, case_id, fees + first.principal + 10_000)
        await pushed(company, event)
        payments = company.ledger.journals[JOURNAL].drafts[0]["entries"]["customerPayments"]
        matched, unmatched = int(first.claim_ref), int(second.claim_ref)
        assert [p["customerInvoice"] for p in payments] == [matched, unmatched]
        # The bookkeeper takes the match to the second invoice off the entry, then books.
        gross = company.ledger.invoices[unmatched].remainder
        del payments[1]["customerInvoice"]
        _, economic, _ = await company.parts()
        await economic.book_journal(JOURNAL, idempotency_key="bookkeeper:1")
        assert company.ledger.invoices[unmatched].remainder == gross
        # The day-book hint: the remainders are re-read.
        done = await run(company, schedules.remainders(company.installation.id, company.agreement))
        assert done.state == "succeeded", done.last_error
        await company.settle()
        problems = await Problems(company.bridge.db).open(company.installation.id)
        (problem,) = [p for p in problems if p.code == "payment_unsettled"]
        assert problem.subject == f"invoice:{unmatched}"
        assert problem.detail["expected_drop"] == 10_000 and problem.detail["dropped"] == 0
        assert problem.detail["payments"] == [event["data"]["payment_id"]]
        assert f"invoice {unmatched}" in problem.message and "match" in problem.message
        # The settled one is no problem; neither is reported back as the creditor's money.
        assert reported(company) == []
        claims = {c.invoice_number: c for c in await company.claims()}
        assert claims[matched].remaining == 0
        assert claims[unmatched].remaining == gross
        # Checked once: another hint records nothing new.
        await run(company, schedules.remainders(company.installation.id, company.agreement))
        await company.settle()
        again = await Problems(company.bridge.db).open(company.installation.id)
        assert [(p.id, p.occurrences) for p in again if p.code == "payment_unsettled"] == [
            (problem.id, problem.occurrences)
        ]


async def test_auto_booked_payments_are_re_read_in_one_call_and_settle(database_url: str) -> None:
    settings = {**SETTINGS, "auto_book": True}
    async with running_company(database_url, invoices=0, settings=settings) as company:
        customer = a_customer(company)
        due = TODAY - dt.timedelta(days=30)
        numbers = [await book(company, customer, due=due, amount="300.00") for _ in range(3)]
        case_id = await handed_over(company, *numbers)
        owed = balances(company, case_id)
        fees = sum(b.fees + b.interest for b in owed)
        before = len(invoice_reads(company))
        # One payment over all three invoices: one booking, one listed read of the three.
        event = await collector_receives(company, case_id, fees + 2 * owed[0].principal + 5_000)
        await pushed(company, event)
        await company.settle()
        assert company.ledger.journals[JOURNAL].drafts == []
        reads = (invoice_reads(company))[before:]
        assert len(reads) == 1 and "$in" in reads[0], reads
        problems = await Problems(company.bridge.db).open(company.installation.id)
        assert [p for p in problems if p.code == "payment_unsettled"] == []
        assert reported(company) == []
        claims = {c.invoice_number: c for c in await company.claims()}
        assert [claims[n].remaining for n in numbers] == [0, 0, minor("375.00") - 5_000]
