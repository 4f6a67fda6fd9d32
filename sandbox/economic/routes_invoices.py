"""Booked invoices: the booked/unpaid/overdue/paid collections, one invoice with lines (JSON or
PDF by ``Accept: application/pdf``, or ``…/pdf``), and the totals checksums.

``unpaid`` means a remainder other than 0 (open credit notes included), ``overdue`` a positive
remainder whose due date is before the simulated today, ``paid`` a remainder of exactly 0. The
totals sum each invoice's amount in the base currency, each rounded to the base currency's unit
as the invoice documents show it, so a total equals the sum of the listed invoices' amounts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from aiohttp import web

from sandbox.economic.errors import not_found
from sandbox.economic.fields import invoice_fields
from sandbox.economic.gateway import COMPANY
from sandbox.economic.keys import SCANS, STATE
from sandbox.economic.money import scale, to_decimal
from sandbox.economic.paging import collection
from sandbox.economic.pdf import render_pdf
from sandbox.economic.render import base_url, invoice_doc, invoice_with_lines, respond
from sandbox.economic.state import Invoice

Selector = Callable[[Invoice, dt.date], bool]
SELECTORS: dict[str, Selector] = {
    "booked": lambda i, today: True,
    "unpaid": lambda i, today: i.remainder != 0,
    "overdue": lambda i, today: i.remainder > 0 and i.due_date < today,
    "paid": lambda i, today: i.remainder == 0,
    "not-due": lambda i, today: i.remainder != 0 and i.due_date >= today,
}
TOTALS = {
    "booked": "booked",
    "booked/paid": "paid",
    "booked/unpaid": "unpaid",
    "booked/unpaid/overdue": "overdue",
    "booked/unpaid/not-due": "not-due",
}


def listing(kind: str) -> Any:
    selector = SELECTORS[kind]

    async def handler(request: web.Request) -> web.Response:
        company, base = request[COMPANY], base_url(request)
        today = request.app[STATE].clock.today()

        def source() -> list[Invoice]:
            return [i for i in company.invoices.values() if selector(i, today)]

        return respond(
            collection(
                request,
                source,
                invoice_fields(company.base_currency),
                lambda i: invoice_doc(company, i, base),
                request.app[SCANS],
                ("invoices", kind, company.agreement, company.version, today),
            )
        )

    return handler


def _invoice(request: web.Request) -> Invoice:
    raw = request.match_info["number"]
    invoice = request[COMPANY].invoices.get(int(raw)) if raw.isdigit() else None
    if invoice is None:
        raise not_found("Booked invoice")
    return invoice


def _pdf(request: web.Request, invoice: Invoice) -> web.Response:
    return web.Response(body=render_pdf(request[COMPANY], invoice), content_type="application/pdf")


async def get_invoice(request: web.Request) -> web.Response:
    invoice = _invoice(request)
    if "application/pdf" in request.headers.get("Accept", ""):
        return _pdf(request, invoice)
    return respond(invoice_with_lines(request[COMPANY], invoice, base_url(request)))


async def get_pdf(request: web.Request) -> web.Response:
    return _pdf(request, _invoice(request))


def totals(kind: str, path: str) -> Any:
    selector = SELECTORS[kind]

    async def handler(request: web.Request) -> web.Response:
        today, company = request.app[STATE].clock.today(), request[COMPANY]
        chosen = [i for i in company.invoices.values() if selector(i, today)]
        home = company.base_currency

        def in_base(amount: Callable[[Invoice], int]) -> Any:
            return to_decimal(sum(scale(amount(i), i.rate, i.currency, home) for i in chosen), home)

        doc: dict[str, Any] = {
            "invoiceCount": len(chosen),
            "netAmountInBaseCurrency": in_base(lambda i: i.net),
            "grossRemainderInBaseCurrency": in_base(lambda i: i.remainder),
            "self": f"{base_url(request)}/invoices/totals/{path}",
        }
        if chosen:
            doc["oldestInvoiceDate"] = min(i.date for i in chosen).isoformat()
            doc["newestInvoiceDate"] = max(i.date for i in chosen).isoformat()
        return respond(doc)

    return handler


def setup_routes(app: web.Application) -> None:
    for kind in ("booked", "unpaid", "overdue", "paid"):
        app.router.add_get(f"/invoices/{kind}", listing(kind))
    app.router.add_get("/invoices/booked/{number}", get_invoice)
    app.router.add_get("/invoices/booked/{number}/pdf", get_pdf)
    for path, kind in TOTALS.items():
        app.router.add_get(f"/invoices/totals/{path}", totals(kind, path))
