"""Scans page by page against both simulators: rows that change between two pages, a scan cut
short (which never concludes that a claim is gone), and a resume at the last stored page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from sync.backfill import Backfill
from sync.errors import TransientError
from sync.money import to_decimal
from sync.store.sync_state import SyncState
from tests.integration.sync.support import Company, running_company

TODAY = dt.date(2026, 11, 23)
PAGE = 25


async def pay_in_full(company: Company, number: int) -> None:
    invoice = company.ledger.invoices[number]
    await company.economic_call(
        "POST",
        f"/_sandbox/invoices/{number}/payments",
        {"agreement": company.agreement, "amount": to_decimal(invoice.remainder, invoice.currency)},
    )


def overdue(company: Company) -> list[int]:
    return sorted(
        n
        for n, i in company.ledger.invoices.items()
        if i.gross > 0 and i.remainder > 0 and i.due_date < TODAY
    )


class Pages:
    """The progress callback of a scan: counts pages and runs ``on_page(n)`` after page n."""

    def __init__(self, on_page: Any = None) -> None:
        self.pages = 0
        self.on_page = on_page

    async def __call__(self, done: int, total: int | None = None) -> None:
        self.pages += 1
        if self.on_page is not None:
            await self.on_page(self.pages)


async def test_an_invoice_paid_between_two_pages_skips_nothing_after_it(database_url: str) -> None:
    async with running_company(database_url, invoices=150) as company:
        engine, ledger, _ = await company.parts()
        numbers = overdue(company)
        unpaid = sorted(n for n, i in company.ledger.invoices.items() if i.remainder != 0)
        first_page = unpaid[:PAGE]
        paid_now = first_page[0]  # leaves the unpaid list once page 1 was read

        async def pay(page: int) -> None:
            if page == 1:
                await pay_in_full(company, paid_now)

        await Backfill(engine, ledger, Pages(pay), page_size=PAGE).run()
        sent = set(company.platform_claims())
        # With offset paging the row after page 1 would move onto page 1 and be skipped.
        assert {str(n) for n in numbers if n != paid_now} <= sent
        assert len(sent) >= len(numbers) - 1


async def test_a_scan_cut_short_concludes_nothing_and_resumes_where_it_stopped(
    database_url: str,
) -> None:
    async with running_company(database_url, invoices=150) as company:
        engine, ledger, _ = await company.parts(attempts=1)
        await Backfill(engine, ledger, Pages(), page_size=PAGE).run()
        numbers = overdue(company)
        gone = numbers[0]
        await pay_in_full(company, gone)

        async def fail_after_one(page: int) -> None:
            # The scan reads a page ahead while it stores one: the fault set after page 1
            # fails page 3 for sure (page 2 may already be on its way).
            if page == 1:
                await company.economic_call(
                    "POST", "/_sandbox/faults", {"status": 503, "rate": 1.0}
                )

        with pytest.raises(TransientError):
            await Backfill(engine, ledger, Pages(fail_after_one), page_size=PAGE).run()
        point = (
            await SyncState(company.bridge.db).get(company.installation.id, "invoices")
        ).checkpoint
        assert point["phase"] == "invoices" and point["after"] > 0
        # Nothing was concluded from the partial scan: the paid invoice is still a claim.
        queued = await company.services.queue.list(installation_id=company.installation.id)
        assert [j for j in queued if j.kind == "sync.reconcile"] == []
        ours = {c.invoice_number: c for c in await company.claims()}
        assert ours[gone].state not in ("withdrawn", "closed")

        await company.economic_call("POST", "/_sandbox/faults", {"status": 0, "rate": 0})
        calls_before = len(
            (await company.economic_call("GET", f"/_sandbox/calls?agreement={company.agreement}"))[
                "items"
            ]
        )
        await Backfill(engine, ledger, Pages(), page_size=PAGE).run(restart=False)
        calls = (
            await company.economic_call("GET", f"/_sandbox/calls?agreement={company.agreement}")
        )["items"]
        pages = [c for c in calls[calls_before:] if c["path"] == "/invoices/unpaid"]
        first = pages[0]["query"]
        assert f"bookedInvoiceNumber$gt:{point['after']}" in first.replace("%24", "$").replace(
            "%3A", ":"
        )
        # The complete scan concludes: the paid invoice is reconciled (and so withdrawn).
        jobs = await company.services.queue.list(installation_id=company.installation.id)
        assert [j.payload for j in jobs if j.kind == "sync.reconcile"] == [{"invoice": gone}]
        await company.settle()
        assert company.platform_claims()[str(gone)].state == "closed"
