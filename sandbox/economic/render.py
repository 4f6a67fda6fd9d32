"""Records → the JSON documents e-conomic serves. Booleans appear only when true, absent values
are omitted (never ``null``), money is a number with its currency's decimals (``1019.99`` DKK,
``1500`` ISK; base-currency amounts with the base currency's), timestamps ISO 8601 UTC with ``Z``.

A customer's ``balance`` and ``dueAmount`` are in the customer's currency: invoices booked in
another currency count at the fixed rates (the contract is silent; the client must not rely on
more than "an amount in the customer's currency")."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from aiohttp import web

from sandbox.economic.money import convert, encode_json, quantity, scale, to_decimal
from sandbox.economic.state import Company, Customer, Invoice, Line

CUSTOMER_OPTIONAL = (
    ("email", "email"),
    ("corporateIdentificationNumber", "cvr"),
    ("ean", "ean"),
    ("publicEntryNumber", "public_entry_number"),
    ("address", "address"),
    ("zip", "zip"),
    ("city", "city"),
    ("country", "country"),
    ("telephoneAndFaxNumber", "phone"),
    ("mobilePhone", "mobile"),
)


def timestamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def balances(company: Company, customer: Customer, today: dt.date) -> tuple[int, int]:
    """(balance, dueAmount) in minor units of the customer's currency: open remainders, and
    those whose due date has passed."""
    balance = due = 0
    for number in company.by_customer.get(customer.number, ()):
        invoice = company.invoices[number]
        remainder = convert(invoice.remainder, invoice.currency, customer.currency)
        balance += remainder
        if invoice.due_date < today:
            due += remainder
    return balance, due


def customer_doc(company: Company, c: Customer, base: str, today: dt.date) -> dict[str, Any]:
    balance, due = balances(company, c, today)
    doc: dict[str, Any] = {"customerNumber": c.number, "name": c.name, "currency": c.currency}
    for key, attr in CUSTOMER_OPTIONAL:
        value = getattr(c, attr)
        if value is not None:
            doc[key] = value
    doc |= {
        "paymentTerms": {
            "paymentTermsNumber": c.payment_terms,
            "self": f"{base}/payment-terms/{c.payment_terms}",
        },
        "customerGroup": {
            "customerGroupNumber": c.group,
            "self": f"{base}/customer-groups/{c.group}",
        },
        "vatZone": {"vatZoneNumber": c.vat_zone, "self": f"{base}/vat-zones/{c.vat_zone}"},
        "balance": to_decimal(balance, c.currency),
        "dueAmount": to_decimal(due, c.currency),
        "lastUpdated": timestamp(c.last_updated),
        "self": f"{base}/customers/{c.number}",
    }
    if c.barred:
        doc["barred"] = True
    return doc


def invoice_doc(company: Company, inv: Invoice, base: str) -> dict[str, Any]:
    terms = company.payment_terms[inv.payment_terms]
    r = inv.recipient
    recipient: dict[str, Any] = {"name": r.name}
    for key, value in (
        ("address", r.address),
        ("zip", r.zip),
        ("city", r.city),
        ("country", r.country),
        ("ean", r.ean),
        ("cvr", r.cvr),
    ):
        if value is not None:
            recipient[key] = value
    recipient["vatZone"] = {"vatZoneNumber": r.vat_zone, "self": f"{base}/vat-zones/{r.vat_zone}"}
    self_url = f"{base}/invoices/booked/{inv.number}"
    cur, home = inv.currency, company.base_currency
    doc: dict[str, Any] = {
        "bookedInvoiceNumber": inv.number,
        "date": inv.date.isoformat(),
        "dueDate": inv.due_date.isoformat(),
        "currency": inv.currency,
        "exchangeRate": inv.rate,
        "netAmount": to_decimal(inv.net, cur),
        "netAmountInBaseCurrency": to_decimal(scale(inv.net, inv.rate, cur, home), home),
        "vatAmount": to_decimal(inv.vat, cur),
        "grossAmount": to_decimal(inv.gross, cur),
        "grossAmountInBaseCurrency": to_decimal(scale(inv.gross, inv.rate, cur, home), home),
        "roundingAmount": to_decimal(0, cur),
        "remainder": to_decimal(inv.remainder, cur),
        "customer": {"customerNumber": inv.customer, "self": f"{base}/customers/{inv.customer}"},
        "recipient": recipient,
        "paymentTerms": {
            "paymentTermsNumber": terms.number,
            "daysOfCredit": terms.days,
            "paymentTermsType": terms.kind,
            "name": terms.name,
            "self": f"{base}/payment-terms/{terms.number}",
        },
        "notes": {"heading": inv.heading},
        "layout": {"layoutNumber": 19, "self": f"{base}/layouts/19"},
        "pdf": {"download": f"{self_url}/pdf"},
        "self": self_url,
    }
    if inv.remainder:
        doc["remainderInBaseCurrency"] = to_decimal(scale(inv.remainder, inv.rate, cur, home), home)
    if inv.reference is not None:
        doc["references"] = {"other": inv.reference}
    return doc


def line_doc(line: Line, currency: str, base: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "lineNumber": line.number,
        "sortKey": line.number,
        "description": line.description,
        "quantity": quantity(line.quantity),
        "unit": {"name": line.unit},
        "unitNetPrice": to_decimal(line.unit_price, currency),
        "discountPercentage": Decimal("0.00"),
        "totalNetAmount": to_decimal(line.total, currency),
    }
    if line.product:
        doc["product"] = {"productNumber": line.product, "self": f"{base}/products/{line.product}"}
    return doc


def invoice_with_lines(company: Company, inv: Invoice, base: str) -> dict[str, Any]:
    lines = [line_doc(x, inv.currency, base) for x in inv.lines]
    return invoice_doc(company, inv, base) | {"lines": lines}


def respond(document: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=encode_json(document), content_type="application/json")


def base_url(request: web.Request) -> str:
    return str(request.url.origin())
