"""Validating draft vouchers posted to a journal; errors mirror the request's shape.

A body is one voucher object or a list of them. An entry's currency (the agreement's base
currency when absent) must be one the simulator knows, and its amount may have no more
decimals than that currency has (two for DKK, none for ISK: refused, not rounded); a
customer payment's ``customerInvoice`` must be a booked invoice of that customer; dates must
fall in the named accounting year; ``text`` is at most 250 characters; a journal restricted to
customer payments refuses finance vouchers.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sandbox.economic.errors import ApiError, field_error
from sandbox.economic.money import exponent, known, to_decimal, to_minor
from sandbox.economic.state import AccountingYear, Company, Journal

Path = list[str | int]
MAX_TEXT = 250


def _fail(path: Path, message: str) -> ApiError:
    return ApiError(400, "Validation error.", errors=field_error(path, message))


def _number(value: Any, key: str) -> int | None:
    inner = value.get(key) if isinstance(value, dict) else None
    return inner if isinstance(inner, int) and not isinstance(inner, bool) else None


def check_entry(
    company: Company,
    year: AccountingYear,
    entry: Any,
    path: Path,
    customer_payment: bool,
    journal: Journal,
) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise _fail(path, "An entry must be an object.")
    code = (
        entry.get("currency", {}).get("code", company.base_currency)
        if isinstance(entry.get("currency", {}), dict)
        else None
    )
    if not known(code):
        raise _fail([*path, "currency", "code"], "Unknown currency.")
    amount = entry.get("amount")
    if not isinstance(amount, int | Decimal) or isinstance(amount, bool) or amount == 0:
        raise _fail([*path, "amount"], "amount must be a non-zero number.")
    try:
        minor = to_minor(amount, code)
    except ValueError:
        message = f"amount can have at most {exponent(code)} decimals in {code}."
        raise _fail([*path, "amount"], message) from None
    try:
        day = dt.date.fromisoformat(str(entry.get("date")))
    except ValueError:
        raise _fail([*path, "date"], "date must be YYYY-MM-DD.") from None
    if not year.start <= day <= year.end:
        raise _fail([*path, "date"], f"date is outside accounting year {year.year}.")
    if len(str(entry.get("text", ""))) > MAX_TEXT:
        raise _fail([*path, "text"], "text can be at most 250 characters.")
    contra = _number(entry.get("contraAccount"), "accountNumber")
    if "contraAccount" in entry and contra not in company.accounts:
        raise _fail([*path, "contraAccount", "accountNumber"], "Unknown account.")
    if customer_payment:
        customer = _number(entry.get("customer"), "customerNumber")
        if customer not in company.customers:
            raise _fail([*path, "customer", "customerNumber"], "Unknown customer.")
        invoice = entry.get("customerInvoice")
        if invoice is not None and (
            not isinstance(invoice, int)
            or company.invoices.get(invoice) is None
            or company.invoices[invoice].customer != customer
        ):
            raise _fail([*path, "customerInvoice"], "No such booked invoice for this customer.")
    else:
        if _number(entry.get("account"), "accountNumber") not in company.accounts:
            raise _fail([*path, "account", "accountNumber"], "Unknown account.")
    stored = dict(entry)
    stored["amount"] = to_decimal(minor, code)
    stored["currency"] = {"code": code}
    if contra is None and journal.contra_account is not None:
        stored["contraAccount"] = {"accountNumber": journal.contra_account}
    return stored


def check_voucher(company: Company, journal: Journal, voucher: Any, path: Path) -> dict[str, Any]:
    if not isinstance(voucher, dict):
        raise _fail(path or ["voucher"], "A voucher must be an object.")
    year_id = (
        voucher.get("accountingYear", {}).get("year")
        if isinstance(voucher.get("accountingYear"), dict)
        else None
    )
    year = next((y for y in company.years if y.year == year_id), None)
    if year is None:
        raise _fail([*path, "accountingYear", "year"], "Unknown accounting year.")
    number = _number(voucher.get("journal"), "journalNumber")
    if "journal" in voucher and number != journal.number:
        raise _fail([*path, "journal", "journalNumber"], "journalNumber must match the URL.")
    entries = voucher.get("entries")
    if not isinstance(entries, dict) or not (
        entries.get("customerPayments") or entries.get("financeVouchers")
    ):
        raise _fail([*path, "entries"], "A voucher needs at least one entry.")
    if entries.get("financeVouchers") and journal.restricted_to == "customerPayment":
        raise _fail(
            [*path, "entries", "financeVouchers"], "This journal only accepts customer payments."
        )
    checked: dict[str, list[dict[str, Any]]] = {}
    for kind in ("customerPayments", "financeVouchers"):
        items = entries.get(kind, [])
        if not isinstance(items, list):
            raise _fail([*path, "entries", kind], f"{kind} must be a list.")
        checked[kind] = [
            check_entry(
                company,
                year,
                item,
                [*path, "entries", kind, i],
                kind == "customerPayments",
                journal,
            )
            for i, item in enumerate(items)
        ]
    return {
        "accountingYear": {"year": year.year},
        "journal": {"journalNumber": journal.number},
        "entries": {k: v for k, v in checked.items() if v},
        "_year": year,
    }
