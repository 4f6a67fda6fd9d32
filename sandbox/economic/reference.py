"""Reference data every seeded agreement starts with: payment terms, a Danish chart of accounts,
journals, accounting years, VAT zones and customer groups."""

from __future__ import annotations

import datetime as dt

from sandbox.economic.state import Account, AccountingYear, Journal, PaymentTerms

VAT_ZONES = (
    (1, "Domestic", True, True),
    (2, "EU", True, True),
    (3, "Abroad", True, True),
    (4, "Domestic exempt", True, False),
)
CUSTOMER_GROUPS = (
    (1, "Danske kunder"),
    (2, "Udenlandske kunder"),
    (3, "Private"),
    (4, "Offentlige"),
)


def standard_payment_terms() -> dict[int, PaymentTerms]:
    terms = (
        PaymentTerms(1, "Netto 8 dage", 8, "net"),
        PaymentTerms(2, "Netto 14 dage", 14, "net"),
        PaymentTerms(3, "Netto 30 dage", 30, "net"),
        PaymentTerms(4, "Løbende måned + 30 dage", 30, "invoiceMonth"),
        PaymentTerms(5, "Kontant", 0, "paidInCash"),
    )
    return {t.number: t for t in terms}


def chart_of_accounts() -> dict[int, Account]:
    accounts = (
        Account(1000, "Omsætning", "heading", "credit"),
        Account(1010, "Salg af varer/ydelser m/moms", "profitAndLoss", "credit", "U25"),
        Account(1020, "Salg af varer/ydelser u/moms", "profitAndLoss", "credit"),
        Account(1310, "Renteindtægter", "profitAndLoss", "credit"),
        Account(1320, "Gebyrindtægter", "profitAndLoss", "credit"),
        Account(2750, "Tab på debitorer", "profitAndLoss", "debit"),
        Account(5600, "Debitorer", "status", "debit"),
        Account(5810, "Kasse", "status", "debit"),
        Account(5820, "Bank", "status", "debit"),
        Account(5830, "Bank, inkasso", "status", "debit"),
        Account(7200, "Salgsmoms", "status", "credit"),
        Account(7210, "Købsmoms", "status", "debit"),
    )
    return {a.number: a for a in accounts}


def standard_journals() -> dict[int, Journal]:
    journals = (
        Journal(1, "Kassekladde", None),
        Journal(2, "Indbetalinger", 5820, "customerPayment"),
        Journal(3, "Inkasso", 5830),
    )
    return {j.number: j for j in journals}


def years_around(today: dt.date, *, broken: bool) -> list[AccountingYear]:
    """Last, current and next financial year: calendar years, or July–June when ``broken``."""
    if not broken:
        return [
            AccountingYear(str(y), dt.date(y, 1, 1), dt.date(y, 12, 31))
            for y in (today.year - 2, today.year - 1, today.year, today.year + 1)
        ]
    first = today.year if today.month >= 7 else today.year - 1
    return [
        AccountingYear(f"{y}/{y + 1}", dt.date(y, 7, 1), dt.date(y + 1, 6, 30))
        for y in (first - 2, first - 1, first, first + 1)
    ]
