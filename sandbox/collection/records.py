"""Validation of debtor and claim bodies, pure: a body in, ``(normalized fields, errors)`` out.

Normalized fields hold every known key (absent optional ones as None) so "a PUT that changes
nothing" is a plain equality test. Unknown keys are ignored.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

KINDS = ("company", "person")
LANGUAGES = ("da", "en", "sv", "nb")
CHANNELS = ("eboks", "nemhandel", "ehf", "email", "sms", "letter")
CLAIM_KINDS = ("invoice", "credit_note")
Errors = list[dict[str, str]]


def _err(errors: Errors, field: str, message: str) -> None:
    errors.append({"field": field, "message": message})


def _text(body: dict[str, Any], name: str, errors: Errors, *, required: bool) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        _err(errors, name, "required non-empty string" if required else "must be a string")
        return None
    return value


def _money(body: dict[str, Any], name: str, errors: Errors) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        _err(errors, name, "an integer amount in minor units")
        return 0
    return value


def _date(body: dict[str, Any], name: str, errors: Errors) -> str | None:
    value = body.get(name)
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    _err(errors, name, "a date YYYY-MM-DD")
    return None


def debtor_fields(body: dict[str, Any]) -> tuple[dict[str, Any], Errors]:
    errors: Errors = []
    fields: dict[str, Any] = {"name": _text(body, "name", errors, required=True)}
    if body.get("kind") not in KINDS:
        _err(errors, "kind", "one of company, person")
    fields["kind"] = body.get("kind")
    for name in ("cvr", "ean", "email", "phone"):
        fields[name] = _text(body, name, errors, required=False)
    address = body.get("address")
    if not isinstance(address, dict):
        _err(errors, "address", "required object {street, zip, city, country}")
        address = {}
    fields["address"] = {}
    for part in ("street", "zip", "city", "country"):
        value = address.get(part)
        if not isinstance(value, str) or not value:
            _err(errors, f"address.{part}", "required string")
        fields["address"][part] = value
    if body.get("language") not in LANGUAGES:
        _err(errors, "language", "one of da, en, sv, nb")
    fields["language"] = body.get("language")
    channels = body.get("channels")
    if channels is not None and (
        not isinstance(channels, list) or any(c not in CHANNELS for c in channels)
    ):
        _err(errors, "channels", "a list of " + ", ".join(CHANNELS))
    fields["channels"] = channels
    return fields, errors


def claim_fields(body: dict[str, Any]) -> tuple[dict[str, Any], Errors]:
    errors: Errors = []
    fields: dict[str, Any] = {"debtor_ref": _text(body, "debtor_ref", errors, required=True)}
    kind = body.get("kind")
    if kind not in CLAIM_KINDS:
        _err(errors, "kind", "one of invoice, credit_note")
    fields["kind"] = kind
    number = body.get("invoice_number")
    if isinstance(number, bool) or not isinstance(number, int | str) or number == "":
        _err(errors, "invoice_number", "required")
    fields["invoice_number"] = number
    fields["issued_on"] = _date(body, "issued_on", errors)
    fields["due_on"] = _date(body, "due_on", errors)
    currency = body.get("currency")
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        _err(errors, "currency", "an ISO 4217 code")
    fields["currency"] = currency
    for name in ("net_amount", "vat_amount", "gross_amount", "remaining_amount"):
        fields[name] = _money(body, name, errors)
    _check_amounts(fields, errors)
    fields["description"] = _text(body, "description", errors, required=False)
    fields["source_url"] = _text(body, "source_url", errors, required=False)
    fields["lines"] = _lines(body.get("lines"), errors)
    return fields, errors


def _check_amounts(fields: dict[str, Any], errors: Errors) -> None:
    net, vat, gross, left = (
        fields[n] for n in ("net_amount", "vat_amount", "gross_amount", "remaining_amount")
    )
    if net + vat != gross:
        _err(errors, "gross_amount", "must equal net_amount + vat_amount")
    if fields["kind"] == "invoice" and not (gross >= 0 and 0 <= left <= gross):
        _err(errors, "remaining_amount", "an invoice has 0 <= remaining_amount <= gross_amount")
    if fields["kind"] == "credit_note" and not (gross <= 0 and gross <= left <= 0):
        _err(errors, "remaining_amount", "a credit note has negative amounts")


def _lines(lines: Any, errors: Errors) -> list[dict[str, Any]] | None:
    if lines is None:
        return None
    if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
        _err(errors, "lines", "a list of objects")
        return None
    for index, line in enumerate(lines):
        where = f"lines[{index}]"
        for name in ("quantity", "unit_price"):
            try:
                Decimal(line.get(name))
            except (InvalidOperation, TypeError):
                _err(errors, f"{where}.{name}", "a decimal as a string")
            if not isinstance(line.get(name), str):
                _err(errors, f"{where}.{name}", "a decimal as a string")
        amount = line.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int):
            _err(errors, f"{where}.amount", "an integer amount in minor units")
        rate = line.get("vat_rate")
        if isinstance(rate, bool) or not isinstance(rate, int | float):
            _err(errors, f"{where}.vat_rate", "a percentage")
    return lines
