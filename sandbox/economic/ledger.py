"""Bookkeeping rules of the simulated ledger: line and invoice totals, due dates, booking new
invoices, payments, credit notes and journal drafts. Operations mutate a ``Company`` and return
the webhook ``Event``s they cause; firing them is the caller's job."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sandbox.economic.money import convert, div_half_even, to_minor
from sandbox.economic.state import Company, Invoice, Line, PaymentTerms, Recipient


@dataclass(frozen=True, slots=True)
class Event:
    """One changed record: ``topic`` picks the legacy URL, ``event_type`` the Webhooks API one."""

    agreement: int
    topic: str  # invoice | customer | daybook
    event_type: str
    placeholders: dict[str, str]


def make_line(
    number: int,
    product: tuple[str, str, str, int, int],
    quantity: int,
    unit_price: int,
    vat_applies: bool,
) -> Line:
    code, description, unit, _, vat_rate = product
    total = div_half_even(quantity * unit_price, 100)
    return Line(
        number, description, quantity, unit, unit_price, total, code, vat_rate if vat_applies else 0
    )


def invoice_totals(lines: tuple[Line, ...]) -> tuple[int, int, int]:
    """(net, VAT, gross) in minor units; VAT rounded half-even once per invoice, to the
    currency's own unit (whole krónur for ISK)."""
    net = sum(line.total for line in lines)
    vat = div_half_even(sum(line.total * line.vat_rate for line in lines), 100)
    return net, vat, net + vat


def due_date(day: dt.date, terms: PaymentTerms) -> dt.date:
    if terms.kind == "invoiceMonth":
        next_month = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return next_month - dt.timedelta(days=1) + dt.timedelta(days=terms.days)
    return day + dt.timedelta(days=terms.days)


def invoice_event(company: Company, invoice: Invoice) -> Event:
    return Event(company.agreement, "invoice", "INVOICE_BOOKED", {"INVOICENO": str(invoice.number)})


def customer_event(company: Company, kind: str, new: int, old: int | None = None) -> Event:
    """``kind`` is ``created``, ``updated`` or ``deleted``."""
    return Event(
        company.agreement,
        "customer",
        f"CUSTOMER_{kind.upper()}",
        {"NEWNUMBER": str(new), "OLDNUMBER": str(new if old is None else old)},
    )


def daybook_event(company: Company, journal: int, first: int, last: int) -> Event:
    return Event(
        company.agreement,
        "daybook",
        "DAYBOOK_BOOKED",
        {"DAYBOOKNO": str(journal), "FROMSERIALNO": str(first), "TOSERIALNO": str(last)},
    )


def book_invoice(
    company: Company,
    *,
    customer_number: int,
    currency: str,
    day: dt.date,
    due: dt.date | None,
    lines: list[tuple[str, int, int, int]],
    rate: Decimal,
) -> Invoice:
    """Book a new invoice from (description, quantity hundredths, unit price in minor units of
    ``currency``, VAT %) lines."""
    customer = company.customers[customer_number]
    built = tuple(
        make_line(n, ("", description, "stk.", price, vat), quantity, price, True)
        for n, (description, quantity, price, vat) in enumerate(lines, start=1)
    )
    net, vat, gross = invoice_totals(built)
    terms = company.payment_terms[customer.payment_terms]
    invoice = Invoice(
        number=company.next_invoice_number(),
        customer=customer.number,
        date=day,
        due_date=due or due_date(day, terms),
        currency=currency,
        rate=rate,
        net=net,
        vat=vat,
        gross=gross,
        remainder=gross,
        payment_terms=terms.number,
        recipient=Recipient(
            customer.name,
            customer.address,
            customer.zip,
            customer.city,
            customer.country,
            customer.ean,
            customer.cvr,
            customer.vat_zone,
        ),
        lines=built,
        heading="Faktura",
    )
    company.add_invoice(invoice)
    return invoice


def credit_note(company: Company, original: Invoice, amount: int, day: dt.date) -> Invoice:
    """A credit note of ``amount`` (gross, positive) matched against ``original``."""
    line = Line(
        1, f"Kreditering af faktura {original.number}", -100, "stk.", amount, -amount, "", 0
    )
    original.remainder -= amount
    note = Invoice(
        number=company.next_invoice_number(),
        customer=original.customer,
        date=day,
        due_date=day,
        currency=original.currency,
        rate=original.rate,
        net=-amount,
        vat=0,
        gross=-amount,
        remainder=0,
        payment_terms=original.payment_terms,
        recipient=original.recipient,
        lines=(line,),
        heading=f"Kreditnota til faktura {original.number}",
        reference=str(original.number),
    )
    company.add_invoice(note)
    return note


def pay(company: Company, invoice: Invoice, amount: int, currency: str | None = None) -> None:
    """Money received against ``invoice`` (positive lowers the remainder); ``amount`` is in minor
    units of ``currency`` and converted to the invoice's currency at the fixed rates."""
    invoice.remainder -= convert(amount, currency or invoice.currency, invoice.currency)
    company.version += 1


def book_journal(company: Company, journal_number: int) -> tuple[list[dict[str, Any]], list[Event]]:
    """Book every draft voucher of a journal; customer payments lower invoice remainders."""
    journal = company.journals[journal_number]
    drafts, journal.drafts = journal.drafts, []
    for voucher in drafts:
        for entry in voucher["entries"].get("customerPayments", []):
            invoice = company.invoices.get(entry.get("customerInvoice", -1))
            if invoice is not None:
                code = entry["currency"]["code"]
                pay(company, invoice, to_minor(entry["amount"], code), code)
        company.booked_vouchers.append(voucher)
    company.version += 1
    if not drafts:
        return [], []
    numbers = [v["voucherNumber"] for v in drafts]
    return drafts, [daybook_event(company, journal_number, min(numbers), max(numbers))]
