"""The reconciliation report of one installation and one month (issue 12, item 5), pure.

    month = parse_month("2026-11")                      # `BadMonth` for anything else
    report = build(month, stored)                       # stored: `sync.store.reconciliation.read`
    text = to_csv(report)                               # one row per payment, then totals

**Which payments.** The collectors' payments (``source: collector``; the creditor's own money is
never posted, so never reconciled) whose own date ``paid_on`` falls in the month, whenever they
arrived. Every amount is in minor units of the payment's currency, and every total is per
currency: EUR and DKK are never added together.

**Posted.** A payment's voucher is posted when its outbox row is ``sent``; its amount is what
that voucher says (customer payments + finance lines, signs undone), compared with the
payment's. A payment with no sent voucher is a difference, with the row's state (``pending``,
``failed``, ``dead``, or ``missing``: no outbox row at all, e.g. refused before it was stored or
not processed yet) and its error.

**Booked**, decided from what the store knows, not read from the ledger: a voucher is booked
when one of our own bookings of the journal (outbox ``journal.book``, auto-booking) lists it in
its answer, or when every one of its remainder drops (`sync.store.outbox.OwnPaymentRecord`) is
marked booked (by our booking, or by a later re-read that found the voucher gone from the
drafts: the bookkeeper booked it). A voucher with no invoice line (interest or fees only) that
the bookkeeper booked cannot be told, and shows ``booked: null``. Not booked is no difference:
a draft waits for the bookkeeper unless the company books automatically.

**Write-offs** of the month are the proposals whose case closed in it (the voucher's own date),
with their approval and outbox state; the posted ones (outbox ``sent``) are totalled.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Set
from typing import Any, Literal

import msgspec

from sync.clients.economic_types import NewVoucher
from sync.collection_events import PaymentReceived
from sync.money import UnknownCurrency, to_text
from sync.redaction import scrub
from sync.store.reconciliation import Stored, VoucherRow, WriteOffRow, event_of
from sync.vouchers import CREDIT, RECEIVED

VoucherState = Literal["pending", "sent", "failed", "dead", "missing"]
_MONTH = re.compile(r"\A([0-9]{4})-(0[1-9]|1[0-2])\Z")


class BadMonth(ValueError):
    code = "invalid_parameter"


class Month(msgspec.Struct, frozen=True):
    year: int
    month: int

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last(self) -> dt.date:
        following = dt.date(self.year + self.month // 12, self.month % 12 + 1, 1)
        return following - dt.timedelta(days=1)

    def holds(self, day: dt.date) -> bool:
        return (day.year, day.month) == (self.year, self.month)


def parse_month(text: str | None) -> Month:
    found = _MONTH.match(text or "")
    if found is None or int(found.group(1)) < 1:
        raise BadMonth(f"month must be YYYY-MM, not {text!r}")
    return Month(int(found.group(1)), int(found.group(2)))


# -- the report ------------------------------------------------------------------------------


class PaymentLine(msgspec.Struct, frozen=True, kw_only=True):
    payment_id: str
    case_id: str
    paid_on: dt.date
    currency: str
    amount: int
    principal: int
    interest: int
    fees: int
    outbox_id: int | None
    voucher_state: VoucherState
    voucher_amount: int | None
    """What the posted voucher says (null until it is sent)."""
    voucher_numbers: list[str]
    """``<accounting year>/<number>`` of the voucher(s) e-conomic created."""
    booked: bool | None
    """Null when the store cannot tell (not posted, or a voucher without invoice lines)."""
    error: str | None


class Amounts(msgspec.Struct, frozen=True, kw_only=True):
    count: int = 0
    amount: int = 0


class Received(msgspec.Struct, frozen=True, kw_only=True):
    count: int
    amount: int
    principal: int
    interest: int
    fees: int


class WriteOffTotals(msgspec.Struct, frozen=True, kw_only=True):
    count: int
    principal: int
    net: int
    vat: int


class CurrencyTotals(msgspec.Struct, frozen=True, kw_only=True):
    currency: str
    received: Received
    posted: Amounts
    """Vouchers sent for these payments: what the vouchers say."""
    booked: Amounts
    not_posted: Amounts
    """Payments without a sent voucher."""
    written_off: WriteOffTotals
    """Write-offs of the month whose voucher is posted."""


class MissingVoucher(msgspec.Struct, frozen=True, kw_only=True):
    payment_id: str
    case_id: str
    paid_on: dt.date
    currency: str
    amount: int
    outbox_id: int | None
    state: VoucherState
    error: str | None


class AmountMismatch(msgspec.Struct, frozen=True, kw_only=True):
    payment_id: str
    currency: str
    amount: int
    voucher_amount: int
    difference: int
    """``voucher_amount - amount``."""


class WriteOffLine(msgspec.Struct, frozen=True, kw_only=True):
    case_id: str
    closed_on: dt.date
    currency: str
    principal: int
    net: int
    vat: int
    state: str
    """The proposal's: pending, approved, rejected."""
    outbox_state: Literal["pending", "sent", "failed", "dead"] | None
    error: str | None


class Differences(msgspec.Struct, frozen=True, kw_only=True):
    without_voucher: list[MissingVoucher]
    amount_mismatch: list[AmountMismatch]


class Report(msgspec.Struct, frozen=True, kw_only=True):
    month: str
    first_day: dt.date
    last_day: dt.date
    totals: list[CurrencyTotals]
    """One per currency, by code; never summed across currencies."""
    payments: list[PaymentLine]
    differences: Differences
    write_offs: list[WriteOffLine]


def voucher_amount(voucher: NewVoucher) -> int:
    """A voucher's amount in the payment's terms: principal + interest + fees."""
    return sum(RECEIVED * p.amount for p in voucher.customer_payments) + sum(
        CREDIT * f.amount for f in voucher.finance_vouchers
    )


def _numbers(response: Any) -> list[str]:
    return [f"{year}/{number}" for year, number in _vouchers(response)]


def _vouchers(response: Any) -> list[tuple[str, int]]:
    if not isinstance(response, dict) or not isinstance(response.get("vouchers"), list):
        return []
    return [
        (str(v.get("accountingYear")), int(v["voucherNumber"]))
        for v in response["vouchers"]
        if isinstance(v, dict) and isinstance(v.get("voucherNumber"), int)
    ]


def _booked(row: VoucherRow, booked: Set[tuple[str, int]]) -> bool | None:
    """Booked: by one of our bookings (its answer lists the voucher), or every drop of it
    seen booked; not booked when it has drops; else (no invoice line) it cannot be told."""
    numbers = _vouchers(row.response)
    if numbers and all(n in booked for n in numbers):
        return True
    if row.drops:
        return row.drops_booked == row.drops
    return None


def _payment_line(
    payment: PaymentReceived, row: VoucherRow | None, booked_vouchers: Set[tuple[str, int]]
) -> PaymentLine:
    state: VoucherState = row.state if row is not None else "missing"
    amount = booked = None
    if row is not None and row.state == "sent":
        amount = voucher_amount(msgspec.convert(row.request["voucher"], NewVoucher))
        booked = _booked(row, booked_vouchers)
    return PaymentLine(
        payment_id=payment.payment_id,
        case_id=payment.case_id,
        paid_on=payment.paid_on,
        currency=payment.currency,
        amount=payment.amount,
        principal=sum(a.principal for a in payment.allocations),
        interest=sum(a.interest for a in payment.allocations),
        fees=sum(a.fees for a in payment.allocations),
        outbox_id=row.id if row is not None else None,
        voucher_state=state,
        voucher_amount=amount,
        voucher_numbers=_numbers(row.response) if row is not None and amount is not None else [],
        booked=booked,
        error=scrub(row.last_error)
        if row is not None and row.last_error and state != "sent"
        else None,
    )


def _writeoff_line(row: WriteOffRow) -> WriteOffLine | None:
    payload = row.payload
    try:
        closed_on = dt.date.fromisoformat(str(payload["closed_on"]))
    except (KeyError, ValueError):
        return None
    return WriteOffLine(
        case_id=row.subject,
        closed_on=closed_on,
        currency=str(payload.get("currency", "")),
        principal=int(payload.get("principal", 0)),
        net=int(payload.get("net", 0)),
        vat=int(payload.get("vat", 0)),
        state=row.state,
        outbox_state=row.outbox_state,
        error=scrub(row.last_error) if row.last_error and row.outbox_state != "sent" else None,
    )


def build(month: Month, stored: Stored) -> Report:
    """The month's report from what the store holds (`sync.store.reconciliation.read`)."""
    rows: dict[str, VoucherRow] = {}
    for row in stored.vouchers:
        payment_id = row.request.get("payment_id")
        if payment_id is None:
            found = event_of(row)
            payment_id = found.payment_id if found else None
        if payment_id is not None:
            rows.setdefault(str(payment_id), row)
    payments = sorted(
        (
            _payment_line(p, rows.get(p.payment_id), stored.booked)
            for p in stored.payments
            if p.source == "collector" and month.holds(p.paid_on)
        ),
        key=lambda line: (line.paid_on, line.currency, line.payment_id),
    )
    writeoffs = sorted(
        (
            w
            for w in (_writeoff_line(r) for r in stored.writeoffs)
            if w is not None and month.holds(w.closed_on)
        ),
        key=lambda w: (w.closed_on, w.case_id),
    )
    return Report(
        month=str(month),
        first_day=month.first,
        last_day=month.last,
        totals=_totals(payments, writeoffs),
        payments=payments,
        differences=Differences(
            without_voucher=[
                MissingVoucher(
                    payment_id=p.payment_id,
                    case_id=p.case_id,
                    paid_on=p.paid_on,
                    currency=p.currency,
                    amount=p.amount,
                    outbox_id=p.outbox_id,
                    state=p.voucher_state,
                    error=p.error,
                )
                for p in payments
                if p.voucher_state != "sent"
            ],
            amount_mismatch=[
                AmountMismatch(
                    payment_id=p.payment_id,
                    currency=p.currency,
                    amount=p.amount,
                    voucher_amount=p.voucher_amount,
                    difference=p.voucher_amount - p.amount,
                )
                for p in payments
                if p.voucher_amount is not None and p.voucher_amount != p.amount
            ],
        ),
        write_offs=writeoffs,
    )


def _totals(payments: list[PaymentLine], writeoffs: list[WriteOffLine]) -> list[CurrencyTotals]:
    currencies = sorted({p.currency for p in payments} | {w.currency for w in writeoffs})
    totals = []
    for currency in currencies:
        mine = [p for p in payments if p.currency == currency]
        posted = [p for p in mine if p.voucher_amount is not None]
        booked = [p for p in posted if p.booked]
        waiting = [p for p in mine if p.voucher_state != "sent"]
        written = [w for w in writeoffs if w.currency == currency and w.outbox_state == "sent"]
        totals.append(
            CurrencyTotals(
                currency=currency,
                received=Received(
                    count=len(mine),
                    amount=sum(p.amount for p in mine),
                    principal=sum(p.principal for p in mine),
                    interest=sum(p.interest for p in mine),
                    fees=sum(p.fees for p in mine),
                ),
                posted=Amounts(
                    count=len(posted), amount=sum(p.voucher_amount or 0 for p in posted)
                ),
                booked=Amounts(
                    count=len(booked), amount=sum(p.voucher_amount or 0 for p in booked)
                ),
                not_posted=Amounts(count=len(waiting), amount=sum(p.amount for p in waiting)),
                written_off=WriteOffTotals(
                    count=len(written),
                    principal=sum(w.principal for w in written),
                    net=sum(w.net for w in written),
                    vat=sum(w.vat for w in written),
                ),
            )
        )
    return totals


# -- CSV -------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "row",
    "payment_id",
    "case_id",
    "date",
    "currency",
    "count",
    "amount",
    "principal",
    "interest",
    "fees",
    "voucher_state",
    "voucher_amount",
    "voucher_numbers",
    "booked",
    "error",
)


def _money(minor: int | None, currency: str) -> str:
    if minor is None:
        return ""
    try:
        return to_text(minor, currency)
    except UnknownCurrency:
        return f"{minor} (minor units)"


def _flag(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def csv_rows(report: Report) -> Iterable[dict[str, str]]:
    """``payment`` rows, then ``write_off`` rows, then per currency ``received``, ``posted``,
    ``booked``, ``not_posted`` and ``written_off`` totals; decimal amounts."""
    for p in report.payments:
        c = p.currency
        yield {
            "row": "payment",
            "payment_id": p.payment_id,
            "case_id": p.case_id,
            "date": p.paid_on.isoformat(),
            "currency": c,
            "count": "1",
            "amount": _money(p.amount, c),
            "principal": _money(p.principal, c),
            "interest": _money(p.interest, c),
            "fees": _money(p.fees, c),
            "voucher_state": p.voucher_state,
            "voucher_amount": _money(p.voucher_amount, c),
            "voucher_numbers": " ".join(p.voucher_numbers),
            "booked": _flag(p.booked),
            "error": p.error or "",
        }
    for w in report.write_offs:
        c = w.currency
        yield {
            "row": "write_off",
            "case_id": w.case_id,
            "date": w.closed_on.isoformat(),
            "currency": c,
            "count": "1",
            "amount": _money(w.principal, c),
            "principal": _money(w.principal, c),
            "voucher_state": w.outbox_state or w.state,
            "error": w.error or "",
        }
    for t in report.totals:
        c = t.currency
        r = t.received
        yield {
            "row": "received",
            "date": report.month,
            "currency": c,
            "count": str(r.count),
            "amount": _money(r.amount, c),
            "principal": _money(r.principal, c),
            "interest": _money(r.interest, c),
            "fees": _money(r.fees, c),
        }
        for name, amounts in (
            ("posted", t.posted),
            ("booked", t.booked),
            ("not_posted", t.not_posted),
        ):
            yield {
                "row": name,
                "date": report.month,
                "currency": c,
                "count": str(amounts.count),
                "amount": _money(amounts.amount, c),
            }
        yield {
            "row": "written_off",
            "date": report.month,
            "currency": c,
            "count": str(t.written_off.count),
            "amount": _money(t.written_off.principal, c),
            "principal": _money(t.written_off.principal, c),
        }


def to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, restval="", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(csv_rows(report))
    return out.getvalue()
