"""``/_sandbox/…``: controls for tests and the demo (not part of the real API, no auth).

Beyond the contract: ``agreement`` may be left out (the first seeded company is meant);
``POST /_sandbox/invoices`` also takes a list (a bulk import: one webhook per invoice);
``vat_rate`` is a percentage (25) or a fraction (0.25); ``PUT /_sandbox/customers/{n}`` creates
the customer when it does not exist (``CUSTOMER_CREATED``) and ``DELETE /_sandbox/customers/{n}``
deletes one without invoices (``CUSTOMER_DELETED``, else 400); each ``POST /_sandbox/faults``
replaces the whole fault setting and also takes ``retry_after`` (seconds sent with injected
429/503, default 1); ``POST /_sandbox/budget`` also takes ``window_seconds`` (default 86400);
``POST /_sandbox/grants/{agreement}`` issues a grant without the install page;
``PUT /_sandbox/roles {agreement, webhooks_api}`` sets whether the app's role opens the Webhooks
API (off: every Webhooks API call answers 403, the contract's "app role lacks access");
``GET /_sandbox/clock`` and ``GET /_sandbox/companies`` report state.

Amounts are read in the invoice's currency by its ISO 4217 exponent: ``unit_price`` in the new
invoice's ``currency`` (the customer's when absent), a payment's or credit note's ``amount`` in
the invoice's, rounded half-even to the currency's unit (``509.995`` DKK → ``510.00``, ``0.5``
ISK → ``0``). An unknown currency is a 400 in the platform's error shape; quantities round to
hundredths.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from aiohttp import web

from sandbox.economic import customers
from sandbox.economic.bodies import read_json, read_object
from sandbox.economic.errors import ApiError, field_error, not_found
from sandbox.economic.filters import parse_timestamp
from sandbox.economic.keys import DISPATCHER, STATE
from sandbox.economic.ledger import (
    book_invoice,
    credit_note,
    customer_event,
    daybook_event,
    invoice_event,
    pay,
)
from sandbox.economic.money import CURRENCIES, exchange_rate, hundredths, known, round_to_minor
from sandbox.economic.render import base_url, customer_doc, invoice_with_lines, respond
from sandbox.economic.state import Company, Faults, Invoice

TOPICS = ("invoice", "customer", "daybook")


def _company(request: web.Request, body: dict[str, Any]) -> Company:
    state = request.app[STATE]
    agreement = body.get("agreement") or next(a for a, c in state.companies.items() if not c.demo)
    if agreement not in state.companies:
        raise not_found("Agreement")
    return state.companies[agreement]


def _amount(body: dict[str, Any], currency: str, key: str = "amount") -> int:
    """``body[key]`` in minor units of ``currency``, rounded half-even at its unit."""
    value = body.get(key)
    if not isinstance(value, int | Decimal) or isinstance(value, bool):
        raise ApiError(400, f"{key} must be a number.", errors=field_error([key], "Not a number."))
    return round_to_minor(value, currency)


def _quantity(line: dict[str, Any]) -> int:
    value = line.get("quantity", 1)
    if not isinstance(value, int | Decimal) or isinstance(value, bool):
        raise ApiError(400, "quantity must be a number.")
    return hundredths(value)


def _date(value: Any, default: dt.date | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if isinstance(value, str) else default


async def advance_clock(request: web.Request) -> web.Response:
    days = (await read_object(request)).get("advance_days", 1)
    if not isinstance(days, int) or days < 0:
        raise ApiError(400, "advance_days must be a whole number of days, 0 or more.")
    today = await request.app[STATE].clock.advance(days)
    return respond({"today": today.isoformat()})


async def get_clock(request: web.Request) -> web.Response:
    return respond({"today": request.app[STATE].clock.today().isoformat()})


async def set_install(request: web.Request) -> web.Response:
    request.app[STATE].auto_approve = bool((await read_object(request)).get("auto_approve"))
    return respond({"auto_approve": request.app[STATE].auto_approve})


def _new_invoice(request: web.Request, spec: Any) -> tuple[Company, Invoice]:
    if not isinstance(spec, dict):
        raise ApiError(400, "Each invoice must be an object.")
    company, today = _company(request, spec), request.app[STATE].clock.today()
    number = spec.get("customer_number")
    if number not in company.customers:
        raise ApiError(400, "customer_number is not a customer of the agreement.")
    customer = company.customers[number]
    currency = spec.get("currency", customer.currency)
    if not known(currency):
        raise ApiError(
            400,
            f"currency must be one of {', '.join(CURRENCIES)}.",
            errors=field_error(["currency"], f"Unknown currency {currency!r}."),
        )
    lines = []
    for line in spec.get("lines") or [{"description": "Ydelse", "unit_price": Decimal(100)}]:
        if not isinstance(line, dict):
            raise ApiError(400, "Each line must be an object.")
        rate = Decimal(line.get("vat_rate", 25))
        lines.append(
            (
                str(line.get("description", "")),
                _quantity(line),
                _amount(line, currency, "unit_price"),
                int(rate * 100 if rate <= 1 else rate),
            )
        )
    invoice = book_invoice(
        company,
        customer_number=number,
        currency=currency,
        day=_date(spec.get("date"), today) or today,
        due=_date(spec.get("due_date"), None),
        lines=lines,
        rate=exchange_rate(currency, company.base_currency),
    )
    return company, invoice


async def create_invoices(request: web.Request) -> web.Response:
    body = await read_json(request)
    made = [_new_invoice(request, spec) for spec in (body if isinstance(body, list) else [body])]
    request.app[DISPATCHER].fire(invoice_event(c, i) for c, i in made)
    docs = [invoice_with_lines(c, i, base_url(request)) for c, i in made]
    return respond(docs if isinstance(body, list) else docs[0], status=201)


def _invoice(company: Company, request: web.Request) -> Invoice:
    raw = request.match_info["number"]
    invoice = company.invoices.get(int(raw)) if raw.isdigit() else None
    if invoice is None:
        raise not_found("Booked invoice")
    return invoice


async def direct_payment(request: web.Request) -> web.Response:
    body = await read_object(request)
    company = _company(request, body)
    invoice = _invoice(company, request)
    pay(company, invoice, _amount(body, invoice.currency))
    voucher, company.next_voucher = company.next_voucher, company.next_voucher + 1
    request.app[DISPATCHER].fire([daybook_event(company, 1, voucher, voucher)])
    return respond(invoice_with_lines(company, invoice, base_url(request)))


async def create_credit_note(request: web.Request) -> web.Response:
    body = await read_object(request)
    company = _company(request, body)
    original = _invoice(company, request)
    note = credit_note(
        company, original, _amount(body, original.currency), request.app[STATE].clock.today()
    )
    request.app[DISPATCHER].fire([invoice_event(company, note)])
    return respond(invoice_with_lines(company, note, base_url(request)), status=201)


async def change_customer(request: web.Request) -> web.Response:
    body = await read_object(request)
    company, now = _company(request, body), dt.datetime.now(dt.UTC)
    raw = request.match_info["number"]
    if not raw.isdigit():
        raise not_found("Customer")
    number = int(raw)
    existing = company.customers.get(number)
    fields = {k: v for k, v in body.items() if k != "agreement"}
    if existing is None:
        customer = customers.create(
            company, number, customers.changes(company, fields, whole=True), now
        )
    else:
        customer = existing
        customers.apply(customer, customers.changes(company, fields, whole=False), now)
    company.version += 1
    kind = "created" if existing is None else "updated"
    request.app[DISPATCHER].fire([customer_event(company, kind, number)])
    today = request.app[STATE].clock.today()
    return respond(customer_doc(company, customer, base_url(request), today))


async def delete_customer(request: web.Request) -> web.Response:
    """Delete a customer and fire ``CUSTOMER_DELETED``. Like e-conomic, which refuses to delete a
    customer with booked entries, a customer with invoices is refused (400)."""
    body = await read_object(request) if request.body_exists else {}
    if "agreement" in request.query and request.query["agreement"].isdigit():
        body.setdefault("agreement", int(request.query["agreement"]))
    company = _company(request, body)
    raw = request.match_info["number"]
    if not raw.isdigit() or int(raw) not in company.customers:
        raise not_found("Customer")
    number = int(raw)
    if any(invoice.customer == number for invoice in company.invoices.values()):
        raise ApiError(400, "The customer has booked entries and cannot be deleted.")
    del company.customers[number]
    company.version += 1
    request.app[DISPATCHER].fire([customer_event(company, "deleted", number)])
    return web.Response(status=204)


async def issue_grant(request: web.Request) -> web.Response:
    state, raw = request.app[STATE], request.match_info["agreement"]
    if not raw.isdigit() or int(raw) not in state.companies:
        raise not_found("Agreement")
    return respond({"token": state.issue_grant(int(raw))}, status=201)


async def revoke_grants(request: web.Request) -> web.Response:
    state, raw = request.app[STATE], request.match_info["agreement"]
    if not raw.isdigit() or int(raw) not in state.companies:
        raise not_found("Agreement")
    return respond({"revoked": state.revoke(int(raw))})


async def legacy_webhook(request: web.Request) -> web.Response:
    body = await read_object(request)
    company = _company(request, body)
    topic, url, method = body.get("topic"), body.get("url"), str(body.get("method", "POST")).upper()
    if topic not in TOPICS or not isinstance(url, str) or method not in ("GET", "POST"):
        raise ApiError(400, "topic must be invoice|customer|daybook, url a URL, method GET|POST.")
    company.legacy_webhooks[topic] = f"{method} {url}"
    return respond(
        {"agreement": company.agreement, "topic": topic, "url": url, "method": method}, status=201
    )


async def set_roles(request: web.Request) -> web.Response:
    body = await read_object(request)
    company = _company(request, body)
    allowed = body.get("webhooks_api", True)
    if not isinstance(allowed, bool):
        raise ApiError(400, "webhooks_api must be true or false.")
    company.webhooks_api = allowed
    return respond({"agreement": company.agreement, "webhooks_api": company.webhooks_api})


async def set_budget(request: web.Request) -> web.Response:
    body = await read_object(request)
    company = _company(request, body)
    budget = request.app[STATE].budget(company.agreement)
    budget.limit = int(body.get("limit", budget.limit))
    budget.window_seconds = float(body.get("window_seconds", budget.window_seconds))
    return respond(
        {
            "agreement": company.agreement,
            "limit": budget.limit,
            "window_seconds": budget.window_seconds,
            "used": len(budget.calls),
        }
    )


async def set_faults(request: web.Request) -> web.Response:
    body = await read_object(request)
    faults = Faults(
        status=int(body.get("status", 0)),
        rate=float(body.get("rate", 0)),
        latency_ms=int(body.get("latency_ms", 0)),
        drop_webhooks_rate=float(body.get("drop_webhooks_rate", 0)),
        retry_after=int(body.get("retry_after", 1)),
    )
    if not (0 <= faults.rate <= 1 and 0 <= faults.drop_webhooks_rate <= 1):
        raise ApiError(400, "rate and drop_webhooks_rate are between 0 and 1.")
    request.app[STATE].faults = faults
    return respond(
        {
            "status": faults.status,
            "rate": faults.rate,
            "latency_ms": faults.latency_ms,
            "drop_webhooks_rate": faults.drop_webhooks_rate,
            "retry_after": faults.retry_after,
        }
    )


async def list_calls(request: web.Request) -> web.Response:
    state, query = request.app[STATE], request.query
    agreement = int(query["agreement"]) if query.get("agreement", "").isdigit() else None
    since = parse_timestamp(query["since"]) if query.get("since") else None
    items = [
        {
            "agreement": c.agreement,
            "method": c.method,
            "path": c.path,
            "query": c.query,
            "status": c.status,
            "at": c.at.isoformat().replace("+00:00", "Z"),
        }
        for c in state.calls
        if (agreement is None or c.agreement == agreement) and (since is None or c.at >= since)
    ]
    return respond({"items": items})


async def list_companies(request: web.Request) -> web.Response:
    return respond(
        {
            "items": [
                {
                    "agreement": a,
                    "name": c.name,
                    "demo": c.demo,
                    "customers": len(c.customers),
                    "invoices": len(c.invoices),
                }
                for a, c in request.app[STATE].companies.items()
            ]
        }
    )


def setup_routes(app: web.Application) -> None:
    add = app.router
    add.add_post("/_sandbox/clock", advance_clock)
    add.add_get("/_sandbox/clock", get_clock)
    add.add_put("/_sandbox/install", set_install)
    add.add_post("/_sandbox/invoices", create_invoices)
    add.add_post("/_sandbox/invoices/{number}/payments", direct_payment)
    add.add_post("/_sandbox/invoices/{number}/credit-note", create_credit_note)
    add.add_put("/_sandbox/customers/{number}", change_customer)
    add.add_delete("/_sandbox/customers/{number}", delete_customer)
    add.add_post("/_sandbox/grants/{agreement}", issue_grant)
    add.add_post("/_sandbox/grants/{agreement}/revoke", revoke_grants)
    add.add_post("/_sandbox/legacy-webhooks", legacy_webhook)
    add.add_put("/_sandbox/roles", set_roles)
    add.add_post("/_sandbox/budget", set_budget)
    add.add_post("/_sandbox/faults", set_faults)
    add.add_get("/_sandbox/calls", list_calls)
    add.add_get("/_sandbox/companies", list_companies)
