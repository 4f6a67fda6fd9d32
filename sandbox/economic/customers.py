"""Validating and applying customer documents. ``PUT /customers/{n}`` replaces the whole
document (absent optional fields are cleared, ``barred`` absent means false); the sandbox
control applies only the fields it is given."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sandbox.economic.errors import ApiError, field_error
from sandbox.economic.money import CURRENCIES, known
from sandbox.economic.reference import CUSTOMER_GROUPS, VAT_ZONES
from sandbox.economic.render import CUSTOMER_OPTIONAL
from sandbox.economic.state import Company, Customer

MAX_TEXT = 255
NESTED = (
    ("paymentTerms", "paymentTermsNumber", "payment_terms"),
    ("customerGroup", "customerGroupNumber", "group"),
    ("vatZone", "vatZoneNumber", "vat_zone"),
)


def _invalid(path: list[str | int], message: str) -> ApiError:
    return ApiError(400, "Validation error.", errors=field_error(path, message))


def _known(company: Company, key: str, number: int) -> bool:
    if key == "paymentTerms":
        return number in company.payment_terms
    pool = CUSTOMER_GROUPS if key == "customerGroup" else VAT_ZONES
    return any(entry[0] == number for entry in pool)


def changes(company: Company, doc: dict[str, Any], *, whole: bool) -> dict[str, Any]:
    """Attribute values to set from an API-shaped customer document (validated)."""
    out: dict[str, Any] = {}
    name = doc.get("name")
    if name is not None or whole:
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_TEXT:
            raise _invalid(["name"], "Name is required and at most 255 characters.")
        out["name"] = name
    currency = doc.get("currency")
    if currency is not None or whole:
        if not known(currency):
            raise _invalid(["currency"], f"Currency must be one of {', '.join(CURRENCIES)}.")
        out["currency"] = currency
    for key, number_key, attr in NESTED:
        if key not in doc and not whole:
            continue
        number = doc.get(key, {}).get(number_key) if isinstance(doc.get(key), dict) else None
        if not isinstance(number, int) or not _known(company, key, number):
            raise _invalid([key, number_key], f"A valid {number_key} is required.")
        out[attr] = number
    for key, attr in CUSTOMER_OPTIONAL:
        if key in doc or whole:
            value = doc.get(key)
            if value is not None and (not isinstance(value, str) or len(value) > MAX_TEXT):
                raise _invalid([key], f"{key} must be text of at most 255 characters.")
            out[attr] = value or None
    if "barred" in doc or whole:
        barred = doc.get("barred", False)
        if not isinstance(barred, bool):
            raise _invalid(["barred"], "barred must be true or false.")
        out["barred"] = barred
    return out


def apply(customer: Customer, values: dict[str, Any], now: dt.datetime) -> None:
    for attr, value in values.items():
        setattr(customer, attr, value)
    customer.last_updated = now.replace(microsecond=0)


def create(company: Company, number: int, values: dict[str, Any], now: dt.datetime) -> Customer:
    required = {"name", "currency", "payment_terms", "group", "vat_zone"}
    if missing := sorted(required - set(values)):
        raise ApiError(400, "Validation error.", errors=[f"Missing {', '.join(missing)}."])
    customer = Customer(number=number, last_updated=now.replace(microsecond=0), **values)
    company.customers[number] = customer
    return customer
