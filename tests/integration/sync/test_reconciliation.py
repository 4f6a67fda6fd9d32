"""The reconciliation report (issue 12, item 5) against both simulators on both databases: a
month's collectors' payments (by their own date) against the vouchers posted through the outbox,
what is booked, and the differences; per currency, never summed across currencies; JSON and CSV
through ``/api/v1``."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from decimal import Decimal
from typing import Any

from sync import schedules
from sync.reconciliation import build, parse_month
from sync.store.reconciliation import read
from tests.integration.sync.support import Company, running_company
from tests.integration.sync.test_pushback import (
    ACCOUNTS,
    SETTINGS,
    TODAY,
    api,
    book,
    collector_receives,
    pushback_job,
    run,
    vouchers_of,
)

BOOKING = {**SETTINGS, "auto_book": True}


def reachable(company: Company, count: int) -> list[int]:
    """``count`` seeded DKK customers the collector can reach."""
    found = [
        int(number)
        for number, c in sorted(company.ledger.customers.items())
        if c.address and c.email and c.currency == "DKK"
    ]
    assert len(found) >= count, "too few reachable customers in the seed"
    return found[:count]


async def cases_of(company: Company, *invoices: int) -> dict[int, str]:
    """Bootstrap with the automatic policy; each invoice's case id."""
    done = await run(company, schedules.bootstrap(company.installation.id, company.agreement))
    assert done.state == "succeeded", done.last_error
    stored = {c.invoice_number: c for c in await company.claims()}
    assert all(stored[n].state == "in_collection" for n in invoices), stored
    return {n: str(stored[n].case_id) for n in invoices}


def split(event: dict[str, Any]) -> tuple[int, int, int, int]:
    data = event["data"]
    parts = data["allocations"]
    return (
        data["amount"],
        sum(a.get("principal", 0) for a in parts),
        sum(a.get("interest", 0) for a in parts),
        sum(a.get("fees", 0) for a in parts),
    )


async def reconciliation(
    company: Company, month: str, token: str, *, accept: str | None = None, agreement: int = 0
) -> tuple[int, str, str]:
    url = (
        f"{company.bridge.url}/api/v1/installations/{agreement or company.agreement}/"
        f"reconciliation?month={month}"
    )
    headers = {"Authorization": f"Bearer {token}"}
    if accept:
        headers["Accept"] = accept
    async with company.services.http.get(url, headers=headers) as r:
        return r.status, r.content_type, await r.text()


async def test_a_month_reconciles_posted_refused_and_next_month_payments_per_currency(
    database_url: str,
) -> None:
    async with running_company(database_url, invoices=0, settings=BOOKING) as company:
        dkk_customer, eur_customer = reachable(company, 2)
        due = TODAY - dt.timedelta(days=30)
        dkk = await book(company, dkk_customer, due=due, amount="2000.00")
        eur = await book(company, eur_customer, due=due, amount="900.00", currency="EUR")
        cases = await cases_of(company, dkk, eur)
        assert cases[dkk] != cases[eur]

        posted = await collector_receives(company, cases[dkk], 30_000)
        assert (await run(company, pushback_job(company, posted))).state == "succeeded"
        in_euro = await collector_receives(company, cases[eur], 12_345)
        assert (await run(company, pushback_job(company, in_euro))).state == "succeeded"
        # The income accounts vanish from the ledger: it refuses the next voucher (dead).
        kept = {n: company.ledger.accounts.pop(n) for n in (1310, 1320)}
        await company.advance(3)
        refused = await collector_receives(company, cases[dkk], 20_000)
        assert split(refused)[2] + split(refused)[3] > 0  # interest or fees: a finance line
        assert (await run(company, pushback_job(company, refused))).state == "dead"
        company.ledger.accounts.update(kept)
        await company.advance(10)  # into December
        later = await collector_receives(company, cases[dkk], 10_000)
        assert (await run(company, pushback_job(company, later))).state == "succeeded"
        for event in (posted, in_euro, later):
            assert len(vouchers_of(company, event["data"]["payment_id"])) == 1
        november = {e["data"]["paid_on"][:7] for e in (posted, in_euro, refused)}
        assert november == {"2026-11"} and later["data"]["paid_on"][:7] == "2026-12"

        guest = await company.bridge.person("guest@example.com", [(company.installation, "guest")])
        status, body = await api(
            company, "GET", "reconciliation?month=2026-11", guest, shape="Reconciliation"
        )
        assert status == 200, body
        assert (body["month"], body["first_day"], body["last_day"]) == (
            "2026-11",
            "2026-11-01",
            "2026-11-30",
        )
        p_amount, p_principal, p_interest, p_fees = split(posted)
        r_amount, r_principal, r_interest, r_fees = split(refused)
        e_amount, e_principal, e_interest, e_fees = split(in_euro)
        totals = {t["currency"]: t for t in body["totals"]}
        assert list(totals) == ["DKK", "EUR"]
        assert totals["DKK"]["received"] == {
            "count": 2,
            "amount": p_amount + r_amount,
            "principal": p_principal + r_principal,
            "interest": p_interest + r_interest,
            "fees": p_fees + r_fees,
        }
        assert totals["DKK"]["posted"] == {"count": 1, "amount": p_amount}
        assert totals["DKK"]["booked"] == {"count": 1, "amount": p_amount}
        assert totals["DKK"]["not_posted"] == {"count": 1, "amount": r_amount}
        assert totals["EUR"]["received"] == {
            "count": 1,
            "amount": 12_345,
            "principal": e_principal,
            "interest": e_interest,
            "fees": e_fees,
        }
        assert e_amount == 12_345
        assert totals["EUR"]["posted"] == totals["EUR"]["booked"] == {"count": 1, "amount": 12_345}
        assert totals["EUR"]["not_posted"] == {"count": 0, "amount": 0}
        (missing,) = body["differences"]["without_voucher"]
        assert (missing["payment_id"], missing["state"], missing["amount"]) == (
            refused["data"]["payment_id"],
            "dead",
            r_amount,
        )
        assert missing["error"] and "Unknown account" in missing["error"]
        assert body["differences"]["amount_mismatch"] == []
        by_id = {p["payment_id"]: p for p in body["payments"]}
        assert set(by_id) == {e["data"]["payment_id"] for e in (posted, in_euro, refused)}
        first = by_id[posted["data"]["payment_id"]]
        assert (first["voucher_state"], first["voucher_amount"], first["booked"]) == (
            "sent",
            p_amount,
            True,
        )
        assert len(first["voucher_numbers"]) == 1
        assert body["write_offs"] == []

        # December holds the later payment alone.
        status, body = await api(company, "GET", "reconciliation?month=2026-12", guest)
        assert status == 200, body
        assert [p["payment_id"] for p in body["payments"]] == [later["data"]["payment_id"]]
        assert [(t["currency"], t["received"]["amount"]) for t in body["totals"]] == [
            ("DKK", 10_000)
        ]

        # CSV: a row per payment, then totals; decimal amounts by the currency's exponent.
        status, kind, text = await reconciliation(company, "2026-11", guest, accept="text/csv")
        assert (status, kind) == (200, "text/csv"), text
        rows = list(csv.DictReader(io.StringIO(text)))
        payments = {r["payment_id"]: r for r in rows if r["row"] == "payment"}
        assert payments[posted["data"]["payment_id"]]["amount"] == str(Decimal(p_amount).scaleb(-2))
        assert payments[in_euro["data"]["payment_id"]]["amount"] == "123.45"
        assert payments[in_euro["data"]["payment_id"]]["currency"] == "EUR"
        refused_row = payments[refused["data"]["payment_id"]]
        assert (refused_row["voucher_state"], refused_row["voucher_amount"]) == ("dead", "")
        received = {r["currency"]: r for r in rows if r["row"] == "received"}
        assert received["DKK"]["amount"] == str(Decimal(p_amount + r_amount).scaleb(-2))
        assert received["EUR"]["amount"] == "123.45" and received["EUR"]["count"] == "1"
        for row in rows:
            for column in ("amount", "principal", "interest", "fees", "voucher_amount"):
                if row[column]:
                    assert Decimal(row[column]).as_tuple().exponent == -2, row
        # JSON stays the default, also for a browser's Accept.
        status, kind, _ = await reconciliation(
            company, "2026-11", guest, accept="text/html,application/json;q=0.9,*/*;q=0.8"
        )
        assert (status, kind) == (200, "application/json")

        # Another company, or none, is not found; a bad month is refused.
        status, _, text = await reconciliation(company, "2026-11", guest, agreement=999_999)
        assert status == 404, text
        for bad in ("2026-13", "2026-1", "november", ""):
            status, kind, text = await reconciliation(company, bad, guest)
            assert (status, kind) == (422, "application/problem+json"), (bad, text)


async def test_two_hundred_random_payments_reconcile_to_the_ore(database_url: str) -> None:
    """Payments of random amounts over many invoices, DKK and EUR, through the real push-back:
    each month shows every payment posted and booked exactly once, with no difference."""
    rng = random.Random(12)
    async with running_company(database_url, invoices=0, settings=BOOKING) as company:
        customers = reachable(company, 6)
        due = TODAY - dt.timedelta(days=30)
        invoices = [
            await book(
                company,
                customers[i % len(customers)],
                due=due,
                amount=f"{rng.randint(50_000, 90_000)}.{rng.randint(0, 99):02d}",
                currency="EUR" if i % 3 == 0 else "DKK",
            )
            for i in range(len(customers))
        ]
        cases = sorted(set((await cases_of(company, *invoices)).values()))
        events: list[dict[str, Any]] = []
        for n in range(200):
            if n % 40 == 39:
                await company.advance(4)
            case_id = rng.choice(cases)
            event = await collector_receives(company, case_id, rng.randint(1, 25_000))
            events.append(event)
            assert (await run(company, pushback_job(company, event))).state == "succeeded"
        for event in events:
            assert len(vouchers_of(company, event["data"]["payment_id"])) == 1
        stored = await read(company.bridge.db, company.installation.id, company.agreement)
        months = sorted({e["data"]["paid_on"][:7] for e in events})
        seen: list[str] = []
        for text in months:
            report = build(parse_month(text), stored)
            assert report.differences.without_voucher == []
            assert report.differences.amount_mismatch == []
            for total in report.totals:
                mine = [
                    e
                    for e in events
                    if e["data"]["paid_on"][:7] == text and e["data"]["currency"] == total.currency
                ]
                expected = sum(e["data"]["amount"] for e in mine)
                assert total.received.count == total.posted.count == total.booked.count
                assert total.received.count == len(mine)
                assert total.received.amount == total.posted.amount == total.booked.amount
                assert total.received.amount == expected
                assert (
                    total.received.principal + total.received.interest + total.received.fees
                    == expected
                )
            seen += [p.payment_id for p in report.payments]
        assert sorted(seen) == sorted(e["data"]["payment_id"] for e in events)
        assert ACCOUNTS["interest_income"] == 1310
