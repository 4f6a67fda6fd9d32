"""Collection money as e-conomic vouchers, pure (domain.md, "Booking what comes back").

    payment_voucher(payment, invoices=…, contra=…, accounts=…, booking=…) -> NewVoucher
    writeoff_voucher(lines, case_id=…, currency=…, accounts=…, booking=…) -> NewVoucher
    booking_on(day, years) -> Booking        the day itself, or the first open day after it
    reference(kind, id) / carries(texts, ref) our mark in every entry's text, found on read-back

A collector's payment is one voucher: the bank (the journal's contra account) is debited with
the whole amount; per allocation a customer payment credits the customer with the principal,
matched to the invoice (``customerInvoice``); finance lines credit the interest-income account
with the interest and the fee-income account with fees and compensation, with no VAT code. A
write-off credits the customer with the remaining principal, the net part against the loss
account and the VAT part against output VAT (VAT share = the invoice's VAT / its gross).

**Signs.** contracts/economic.md leaves them unverified against a live agreement, so they are
decided here and nowhere else: `RECEIVED` is the sign of a customer payment that credits the
customer (the simulator: a positive amount is money received, it lowers the remainder once the
journal is booked; its contra account is debited); `CREDIT` is the sign of a finance line that
credits its ``account`` (e-conomic's day-book convention: a positive amount debits the account
and credits the contra account). The client (`sync.clients.economic`) turns the minor units into
decimals and changes no sign.

Every entry's text is readable (what, which case, which invoice) and ends with our reference in
brackets (``[cb:pay_123]``), cut so the whole stays within e-conomic's 250 characters: reading
the journal back after the platform forgot the idempotency key (one hour) finds the voucher by
it. A payment dated in a closed accounting year (or before the first one) is booked on the first
open day after it, its own date kept in the text; a date no open year covers is refused with
what to do (`VoucherRefused`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

import msgspec

from sync.clients.economic_types import AccountingYear, CustomerPayment, FinanceEntry, NewVoucher
from sync.collection_events import PaymentReceived
from sync.company_settings import Accounts
from sync.errors import PermanentError

RECEIVED = 1  # a customer payment crediting the customer: lowers the invoice's remainder
CREDIT = -1  # a finance line crediting its account (income), its contra (the bank) debited
MAX_TEXT = 250
REFERENCE_PREFIX = "cb:"


class VoucherRefused(PermanentError):
    """What we would post cannot be built; ``code`` says why, the message what to do."""

    code = "voucher_refused"

    def __init__(self, code: str, message: str, *, detail: object = None) -> None:
        super().__init__(message, detail=detail, platform="economic")
        self.code = code


class InvoiceRef(msgspec.Struct, frozen=True, kw_only=True):
    """The ledger invoice behind a claim."""

    invoice_number: int
    customer_number: int


class Booking(msgspec.Struct, frozen=True, kw_only=True):
    """The day a voucher is dated, its accounting year, and the original day when it moved."""

    day: dt.date
    year: str
    moved_from: dt.date | None = None


class WriteOffLine(msgspec.Struct, frozen=True, kw_only=True):
    """One claim's remaining principal split into its net and VAT parts."""

    invoice_number: int
    customer_number: int
    principal: int
    net: int
    vat: int


# -- dates -----------------------------------------------------------------------------------


def booking_on(day: dt.date, years: Sequence[AccountingYear]) -> Booking:
    """``day`` when an open accounting year holds it; else the first day of the first open
    year after it (a closed year, or one before any the ledger has)."""
    holding = next((y for y in years if y.from_date <= day <= y.to_date), None)
    if holding is not None and not holding.closed:
        return Booking(day=day, year=holding.year)
    later = sorted((y for y in years if not y.closed and y.from_date > day), key=_start)
    if later:
        return Booking(day=later[0].from_date, year=later[0].year, moved_from=day)
    if holding is None and not any(y.to_date >= day for y in years):
        raise VoucherRefused(
            "accounting_year_missing",
            f"e-conomic has no accounting year for {day.isoformat()}: create it in e-conomic "
            "(Settings → Accounting years), then retry the job",
            detail={"date": day.isoformat()},
        )
    raise VoucherRefused(
        "accounting_year_closed",
        f"the accounting year of {day.isoformat()} is closed and no open year follows it: "
        "open (or create) the next accounting year in e-conomic, then retry the job",
        detail={"date": day.isoformat()},
    )


def _start(year: AccountingYear) -> dt.date:
    return year.from_date


# -- texts -----------------------------------------------------------------------------------


def reference(kind: str, ident: str) -> str:
    """Our mark in an entry's text: ``cb:pay_123`` for a payment, ``cb:writeoff:case_9``."""
    return (
        f"{REFERENCE_PREFIX}{ident}" if kind == "payment" else f"{REFERENCE_PREFIX}{kind}:{ident}"
    )


def entry_text(readable: str, ref: str) -> str:
    """``readable`` cut so that it and `` [ref]`` fit e-conomic's 250 characters."""
    mark = f" [{ref}]"[:MAX_TEXT]
    return readable[: MAX_TEXT - len(mark)].rstrip() + mark


def carries(texts: Iterable[str], ref: str) -> bool:
    """Whether a voucher read back is ours for ``ref`` (one of its entries bears the mark)."""
    mark = f"[{ref}]"[: MAX_TEXT - 1]
    return any(mark in text for text in texts)


def _moved(booking: Booking) -> str:
    return f", betalt {booking.moved_from.isoformat()}" if booking.moved_from else ""


# -- payments --------------------------------------------------------------------------------


def payment_voucher(
    payment: PaymentReceived,
    *,
    invoices: Mapping[str, InvoiceRef],
    contra: int,
    accounts: Accounts,
    booking: Booking,
) -> NewVoucher:
    """The voucher of a collector's payment (`VoucherRefused` when it cannot be built)."""
    _check_payment(payment, invoices, accounts)
    ref = reference("payment", payment.payment_id)
    moved = _moved(booking)
    payments, finance = [], []
    for part in payment.allocations:
        invoice = invoices[part.claim_ref]
        about = f"inkasso sag {payment.case_id}, faktura {invoice.invoice_number}{moved}"
        if part.principal:
            payments.append(
                CustomerPayment(
                    customer_number=invoice.customer_number,
                    invoice_number=invoice.invoice_number,
                    amount=RECEIVED * part.principal,
                    currency=payment.currency,
                    date=booking.day,
                    text=entry_text(f"Indbetaling {about}", ref),
                    contra_account=contra,
                )
            )
        for amount, account, what in (
            (part.interest, accounts.interest_income, "Renter"),
            (part.fees, accounts.fee_income, "Gebyrer"),
        ):
            if amount:
                assert account is not None  # _check_payment
                finance.append(
                    FinanceEntry(
                        account=account,
                        amount=CREDIT * amount,
                        currency=payment.currency,
                        date=booking.day,
                        text=entry_text(f"{what} {about}", ref),
                        contra_account=contra,
                    )
                )
    return NewVoucher(
        accounting_year=booking.year,
        customer_payments=tuple(payments),
        finance_vouchers=tuple(finance),
    )


def _check_payment(
    payment: PaymentReceived, invoices: Mapping[str, InvoiceRef], accounts: Accounts
) -> None:
    detail = {"payment_id": payment.payment_id, "case_id": payment.case_id}
    if payment.source != "collector":
        raise VoucherRefused(
            "creditor_payment", "money the creditor received is in the ledger already"
        )
    unknown = sorted({a.claim_ref for a in payment.allocations} - set(invoices))
    if unknown:
        raise VoucherRefused(
            "unknown_claim",
            f"payment {payment.payment_id} is allocated to claims we never sent "
            f"({', '.join(unknown)}): book it by hand in e-conomic",
            detail={**detail, "claims": unknown},
        )
    allocated = sum(a.total for a in payment.allocations)
    if allocated != payment.amount or any(
        min(a.principal, a.interest, a.fees) < 0 for a in payment.allocations
    ):
        raise VoucherRefused(
            "allocation_mismatch",
            f"payment {payment.payment_id} of {payment.amount} is allocated {allocated}: ask "
            "the collector to correct it, or book it by hand in e-conomic",
            detail={**detail, "amount": payment.amount, "allocated": allocated},
        )
    if allocated <= 0:
        raise VoucherRefused("empty_payment", f"payment {payment.payment_id} is of nothing")
    missing = [
        name
        for name, needed, account in (
            (
                "interest_income",
                any(a.interest for a in payment.allocations),
                accounts.interest_income,
            ),
            ("fee_income", any(a.fees for a in payment.allocations), accounts.fee_income),
        )
        if needed and account is None
    ]
    if missing:
        raise VoucherRefused(
            "accounts_missing",
            f"map the {' and '.join(m.replace('_', ' ') + ' account' for m in missing)} in the "
            "company's onboarding, then retry the job",
            detail={**detail, "accounts": missing},
        )


def own_drops(voucher: NewVoucher) -> dict[int, int]:
    """How much the voucher lowers each invoice's remainder once booked."""
    drops: dict[int, int] = {}
    for p in voucher.customer_payments:
        if p.invoice_number is not None:
            drops[p.invoice_number] = drops.get(p.invoice_number, 0) + RECEIVED * p.amount
    return drops


# -- write-offs ------------------------------------------------------------------------------


def vat_part(principal: int, vat: int, gross: int) -> int:
    """The VAT in ``principal`` at the invoice's share (``vat / gross``), rounded half-even."""
    if gross <= 0 or vat <= 0:
        return 0
    quotient, rest = divmod(principal * vat, gross)
    if 2 * rest > gross or (2 * rest == gross and quotient % 2):
        quotient += 1
    return quotient


def writeoff_line(invoice: InvoiceRef, principal: int, *, vat: int, gross: int) -> WriteOffLine:
    tax = vat_part(principal, vat, gross)
    return WriteOffLine(
        invoice_number=invoice.invoice_number,
        customer_number=invoice.customer_number,
        principal=principal,
        net=principal - tax,
        vat=tax,
    )


def writeoff_voucher(
    lines: Sequence[WriteOffLine],
    *,
    case_id: str,
    currency: str,
    accounts: Accounts,
    booking: Booking,
) -> NewVoucher:
    """Each claim's remaining principal credited to the customer: the net part against the
    loss account, the VAT part against output VAT."""
    if accounts.loss is None or (accounts.output_vat is None and any(x.vat for x in lines)):
        raise VoucherRefused(
            "accounts_missing",
            "map the loss and output VAT accounts in the company's onboarding, then approve "
            "the write-off again",
            detail={"case_id": case_id},
        )
    ref = reference("writeoff", case_id)
    moved = _moved(booking)
    payments = []
    for line in lines:
        about = f"inkasso sag {case_id}, faktura {line.invoice_number}{moved}"
        for amount, contra, what in (
            (line.net, accounts.loss, "Tab"),
            (line.vat, accounts.output_vat, "Moms af tab"),
        ):
            if amount:
                assert contra is not None
                payments.append(
                    CustomerPayment(
                        customer_number=line.customer_number,
                        invoice_number=line.invoice_number,
                        amount=RECEIVED * amount,
                        currency=currency,
                        date=booking.day,
                        text=entry_text(f"{what} {about}", ref),
                        contra_account=contra,
                    )
                )
    if not payments:
        raise VoucherRefused("empty_writeoff", f"case {case_id} wrote nothing off")
    return NewVoucher(accounting_year=booking.year, customer_payments=tuple(payments))
