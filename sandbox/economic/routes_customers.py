"""``/customers``: the collection, one customer, and the whole-document ``PUT``."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from sandbox.economic import customers
from sandbox.economic.bodies import read_object
from sandbox.economic.errors import ApiError, not_found
from sandbox.economic.fields import CUSTOMER_FIELDS
from sandbox.economic.gateway import COMPANY
from sandbox.economic.keys import DISPATCHER, SCANS, STATE
from sandbox.economic.ledger import customer_event
from sandbox.economic.paging import collection
from sandbox.economic.render import base_url, customer_doc, respond
from sandbox.economic.state import Company, Customer


def _customer(company: Company, raw: str) -> Customer:
    customer = company.customers.get(int(raw)) if raw.isdigit() else None
    if customer is None:
        raise not_found("Customer")
    return customer


async def list_customers(request: web.Request) -> web.Response:
    company, base = request[COMPANY], base_url(request)
    today = request.app[STATE].clock.today()
    doc = collection(
        request,
        lambda: list(company.customers.values()),
        CUSTOMER_FIELDS,
        lambda c: customer_doc(company, c, base, today),
        request.app[SCANS],
        ("customers", company.agreement, company.version),
    )
    return respond(doc)


async def get_customer(request: web.Request) -> web.Response:
    company = request[COMPANY]
    customer = _customer(company, request.match_info["number"])
    today = request.app[STATE].clock.today()
    return respond(customer_doc(company, customer, base_url(request), today))


async def put_customer(request: web.Request) -> web.Response:
    company = request[COMPANY]
    customer = _customer(company, request.match_info["number"])
    doc = await read_object(request)
    if doc.get("customerNumber", customer.number) != customer.number:
        raise ApiError(
            400,
            "Validation error.",
            errors={
                "customerNumber": {
                    "errors": [
                        {
                            "propertyName": "customerNumber",
                            "errorMessage": "customerNumber must match the URL.",
                        }
                    ]
                }
            },
        )
    customers.apply(customer, customers.changes(company, doc, whole=True), dt.datetime.now(dt.UTC))
    company.version += 1
    request.app[DISPATCHER].fire([customer_event(company, "updated", customer.number)])
    today = request.app[STATE].clock.today()
    return respond(customer_doc(company, customer, base_url(request), today))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/customers", list_customers)
    app.router.add_get("/customers/{number}", get_customer)
    app.router.add_put("/customers/{number}", put_customer)
