"""Handing claims over by policy, against both simulators on both databases: the boundary day of
``min_days_overdue``, the veto window, an approval in manual mode, and an invoice paid just
before its handover (never handed over: withdrawn instead)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sync import schedules
from sync.money import to_decimal
from tests.integration.sync.support import Company, a_customer, running_company

TODAY = dt.date(2026, 11, 23)


async def book(company: Company, customer: int, *, due: dt.date, amount: str) -> int:
    """An invoice booked in the ledger (one line, no VAT); its number."""
    document = await company.economic_call(
        "POST",
        "/_sandbox/invoices",
        {
            "agreement": company.agreement,
            "customer_number": customer,
            "currency": "DKK",
            "date": (due - dt.timedelta(days=14)).isoformat(),
            "due_date": due.isoformat(),
            "lines": [
                {
                    "description": "Konsulentbistand",
                    "quantity": 1,
                    "unit_price": Decimal(amount),
                    "vat_rate": 0,
                }
            ],
        },
    )
    return int(document["bookedInvoiceNumber"])


async def bootstrap(company: Company) -> None:
    job = await company.services.queue.enqueue(
        schedules.bootstrap(company.installation.id, company.agreement), now=company.bridge.clock()
    )
    await company.settle()
    assert (await company.job(job)).state == "succeeded"


AUTOMATIC = {"mode": "automatic", "min_days_overdue": 10, "min_amount": 0, "notice_days": 0}


async def test_automatic_handover_starts_on_the_boundary_day(database_url: str) -> None:
    async with running_company(
        database_url, invoices=40, settings={"policy": AUTOMATIC}
    ) as company:
        customer = a_customer(company)
        on_the_day = await book(
            company, customer, due=TODAY - dt.timedelta(days=10), amount="1019.99"
        )
        day_before = await book(company, customer, due=TODAY - dt.timedelta(days=9), amount="0.29")
        await bootstrap(company)
        claims = company.platform_claims()
        assert claims[str(on_the_day)].state == "in_collection"
        assert claims[str(day_before)].state == "monitoring"
        ours = {c.invoice_number: c for c in await company.claims()}
        assert ours[on_the_day].state == "in_collection" and ours[on_the_day].case_id
        assert ours[day_before].state == "monitoring"
        # The next day the second one reaches the boundary too.
        await company.advance(1)
        await company.services.queue.enqueue(
            schedules.scan(company.installation.id, company.agreement, full=True),
            now=company.bridge.clock(),
        )
        await company.settle()
        assert company.platform_claims()[str(day_before)].state == "in_collection"


async def test_an_invoice_paid_just_before_its_handover_is_withdrawn_not_handed_over(
    database_url: str,
) -> None:
    policy = {**AUTOMATIC, "notice_days": 3}
    async with running_company(database_url, invoices=40, settings={"policy": policy}) as company:
        customer = a_customer(company)
        number = await book(company, customer, due=TODAY - dt.timedelta(days=20), amount="1.15")
        await bootstrap(company)
        ours = {c.invoice_number: c for c in await company.claims()}
        assert ours[number].state == "scheduled"
        assert ours[number].handover_on == TODAY + dt.timedelta(days=3)
        await company.advance(3)
        # Paid to the creditor on the morning of the handover day, before the job runs.
        remainder = company.ledger.invoices[number].remainder
        await company.economic_call(
            "POST",
            f"/_sandbox/invoices/{number}/payments",
            {"agreement": company.agreement, "amount": to_decimal(remainder, "DKK")},
        )
        await company.services.queue.enqueue(
            schedules.handover(company.installation.id, company.agreement, number, reason="policy"),
            now=company.bridge.clock(),
        )
        await company.settle()
        platform = company.platform_claims()[str(number)]
        assert platform.state == "closed" and platform.case_id is None
        ours = {c.invoice_number: c for c in await company.claims()}
        assert ours[number].state == "withdrawn"


async def test_manual_mode_waits_for_approval_and_an_approval_hands_over(database_url: str) -> None:
    async with running_company(database_url, invoices=40) as company:
        customer = a_customer(company)
        number = await book(company, customer, due=TODAY - dt.timedelta(days=30), amount="150.00")
        await bootstrap(company)
        ours = {c.invoice_number: c for c in await company.claims()}
        assert ours[number].state == "awaiting_approval"
        assert company.platform_claims()[str(number)].state == "monitoring"
        await company.services.queue.enqueue(
            schedules.handover(
                company.installation.id, company.agreement, number, reason="approved"
            ),
            now=company.bridge.clock(),
        )
        await company.settle()
        assert company.platform_claims()[str(number)].state == "in_collection"
        # Handing over again is a no-op (idempotent), not a problem.
        again = await company.services.queue.enqueue(
            schedules.handover(
                company.installation.id, company.agreement, number, reason="approved"
            ),
            now=company.bridge.clock(),
        )
        await company.settle()
        assert (await company.job(again)).state == "succeeded"


async def test_money_the_creditor_received_during_collection_is_reported_once(
    database_url: str,
) -> None:
    async with running_company(
        database_url, invoices=40, settings={"policy": AUTOMATIC}
    ) as company:
        customer = a_customer(company)
        number = await book(company, customer, due=TODAY - dt.timedelta(days=30), amount="1019.99")
        await bootstrap(company)
        assert company.platform_claims()[str(number)].state == "in_collection"
        await company.economic_call(
            "POST",
            f"/_sandbox/invoices/{number}/payments",
            {"agreement": company.agreement, "amount": Decimal("400.00")},
        )
        for _ in range(2):  # the hint delivered twice, then the daily scan: reported once
            await company.services.queue.enqueue(
                schedules.invoice(company.installation.id, company.agreement, number),
                now=company.bridge.clock(),
            )
            await company.settle()
        await company.services.queue.enqueue(
            schedules.scan(company.installation.id, company.agreement, full=True),
            now=company.bridge.clock(),
        )
        await company.settle()
        reported = [
            p["record"]
            for (account, _), p in company.collection.state.payments.items()
            if account == company.account_id
        ]
        assert [(r["amount"], r["external_id"]) for r in reported] == [
            (40000, f"ledger:{company.agreement}:{number}:101999")
        ]
        ours = {c.invoice_number: c for c in await company.claims()}
        assert ours[number].remaining == 61999 and ours[number].state == "in_collection"


async def test_a_scheduled_claim_goes_on_its_day_though_the_ledger_did_not_move(
    database_url: str,
) -> None:
    policy = {**AUTOMATIC, "notice_days": 2}
    async with running_company(database_url, invoices=40, settings={"policy": policy}) as company:
        customer = a_customer(company)
        number = await book(company, customer, due=TODAY - dt.timedelta(days=20), amount="99.95")
        await bootstrap(company)
        assert company.platform_claims()[str(number)].state == "monitoring"
        for day in (1, 2):
            await company.advance(1)
            await company.services.queue.enqueue(
                schedules.scan(company.installation.id, company.agreement),
                now=company.bridge.clock(),
            )
            await company.settle()
            state = company.platform_claims()[str(number)].state
            assert state == ("monitoring" if day == 1 else "in_collection"), day
