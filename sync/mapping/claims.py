"""A booked e-conomic invoice (or credit note) → the collection platform's claim.

Amounts become integer minor units of the **invoice's** currency through `sync.money.to_minor`
(half-even from e-conomic's exact decimals); the remaining amount in the company's **base**
currency rides along in `ClaimDraft.remaining_base`, because the handover policy compares
``min_amount`` in base currency. A currency we hold no exponent for is `unknown_currency`, and
an invoice without a due date `missing_due_date`: no claim, never a guess.

- kind: ``credit_note`` when the gross amount is negative (amounts stay negative), else invoice.
- due_on: ``dueDate``; a credit note without one falls due on its own date.
- lines: e-conomic lines carry no VAT rate, so each line gets the invoice's rate
  (`vat_rate_of`: VAT / net × 100, to the nearest half percent; 0 without net). On an invoice
  with lines at different rates that is their average, the best the ledger lets us say.
- description: the notes heading; the PDF travels separately (``sync.document``).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

import msgspec

from sync.clients.collection_types import Claim, ClaimLine
from sync.clients.economic_types import BookedInvoice, InvoiceLine
from sync.mapping.problems import Mapped, MappingProblem
from sync.money import UnknownCurrency, to_minor, to_text


class ClaimDraft(msgspec.Struct, frozen=True, kw_only=True):
    """The claim to send, and what the policy needs beside it (never sent itself)."""

    claim: Claim
    customer_number: int
    remaining_base: int  # minor units of the company's base currency


def claim_of(invoice: BookedInvoice, *, base_currency: str) -> Mapped[ClaimDraft]:
    """The claim for ``invoice``, or None with the problem that stops it."""
    subject = f"invoice:{invoice.booked_invoice_number}"
    credit_note = invoice.gross_amount < 0
    due_on = invoice.due_date or (invoice.date if credit_note else None)
    if due_on is None:
        return Mapped(None, (_missing_due_date(invoice, subject),))
    try:
        claim = _claim(invoice, due_on=due_on, credit_note=credit_note)
        remaining_base = _remaining_base(invoice, claim, base_currency)
    except UnknownCurrency as exc:
        return Mapped(None, (_unknown_currency(invoice, subject, exc.currency),))
    draft = ClaimDraft(
        claim=claim,
        customer_number=invoice.customer.customer_number,
        remaining_base=remaining_base,
    )
    return Mapped(draft)


def vat_rate_of(net: int, vat: int) -> float:
    """The VAT percentage of these totals, to the nearest half percent (``25.0``, ``25.5``,
    ``12.0``); 0 when there is no net amount or the signs disagree."""
    if net == 0:
        return 0.0
    rate = Decimal(vat) * 100 / Decimal(net)
    halves = (rate * 2).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    return max(float(halves / 2), 0.0)


def _claim(invoice: BookedInvoice, *, due_on: dt.date, credit_note: bool) -> Claim:
    currency = invoice.currency.upper()
    net = to_minor(invoice.net_amount, currency)
    vat = to_minor(invoice.vat_amount, currency)
    rate = vat_rate_of(net, vat)
    heading = invoice.notes.heading.strip() if invoice.notes and invoice.notes.heading else ""
    return Claim(
        debtor_ref=str(invoice.customer.customer_number),
        kind="credit_note" if credit_note else "invoice",
        invoice_number=invoice.booked_invoice_number,
        issued_on=invoice.date,
        due_on=due_on,
        currency=currency,
        net_amount=net,
        vat_amount=vat,
        gross_amount=to_minor(invoice.gross_amount, currency),
        remaining_amount=to_minor(invoice.remainder, currency),
        description=heading or None,
        lines=tuple(_line(line, currency, rate) for line in invoice.lines) or None,
    )


def _line(line: InvoiceLine, currency: str, vat_rate: float) -> ClaimLine:
    return ClaimLine(
        number=line.line_number,
        description=line.description,
        quantity=format(Decimal(line.quantity), "f"),
        unit=(line.unit.name or "") if line.unit else "",
        unit_price=to_text(to_minor(line.unit_net_price, currency), currency),
        amount=to_minor(line.total_net_amount, currency),
        vat_rate=vat_rate,
    )


def _remaining_base(invoice: BookedInvoice, claim: Claim, base_currency: str) -> int:
    """In base currency; an invoice in the base currency is its own remainder (e-conomic may
    leave ``remainderInBaseCurrency`` out, which would read as 0)."""
    if claim.currency == base_currency.upper():
        return claim.remaining_amount
    return to_minor(invoice.remainder_in_base_currency, base_currency)


def _missing_due_date(invoice: BookedInvoice, subject: str) -> MappingProblem:
    return MappingProblem(
        code="missing_due_date",
        subject=subject,
        message=(
            f"Invoice {invoice.booked_invoice_number} has no due date: "
            "it cannot be judged overdue or sent to collection"
        ),
    )


def _unknown_currency(invoice: BookedInvoice, subject: str, currency: str) -> MappingProblem:
    return MappingProblem(
        code=UnknownCurrency.code,
        subject=subject,
        message=(
            f"Invoice {invoice.booked_invoice_number} involves the currency {currency!r}, whose "
            "minor unit we do not know: it is not sent to collection"
        ),
        detail={"currency": currency},
    )
