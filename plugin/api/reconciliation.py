"""One company's reconciliation report: ``/api/v1/installations/{agreement}/reconciliation``.

    GET …/reconciliation?month=YYYY-MM   guest   the month's collector payments, their vouchers,
                                                 what is booked, the differences, the write-offs

JSON by default (`Reconciliation`, below); CSV (``text/csv``, one row per payment with its
voucher state, then the write-offs and the totals per currency, decimal amounts) when the
caller's ``Accept`` prefers ``text/csv``. A month missing or not ``YYYY-MM`` → 422. Guests read
it: it is the company's own bookkeeping, with no secret in it (errors are masked).
"""

from __future__ import annotations

from typing import Literal

import msgspec
from aiohttp import web

from plugin.api.auth import Member
from plugin.api.errors import Invalid
from plugin.api.registry import Api, Param, reply
from plugin.api.shapes import Day
from plugin.keys import DATABASE
from sync import reconciliation
from sync.store.reconciliation import read

MONTH = Param(
    name="month",
    location="query",
    description="The month, YYYY-MM: collectors' payments by their own date (paid_on)",
    schema={"type": "string", "pattern": "^(?!0000)[0-9]{4}-(0[1-9]|1[0-2])$"},
    required=True,
)
CSV = "text/csv"
JSON = "application/json"


# -- the report's shape (JSON) -------------------------------------------------------------

VoucherStateView = Literal["pending", "sent", "failed", "dead", "missing"]


class ReconciliationPayment(msgspec.Struct, frozen=True, kw_only=True):
    """One collector's payment of the month (by ``paid_on``) and its voucher. Minor units of
    ``currency``."""

    payment_id: str
    case_id: str
    paid_on: Day
    currency: str
    amount: int
    principal: int
    interest: int
    fees: int
    outbox_id: int | None
    voucher_state: VoucherStateView
    """The voucher's outbox state; ``missing``: no outbox item (refused before it was stored,
    or not processed yet)."""
    voucher_amount: int | None
    """What the posted voucher says; null until it is sent."""
    voucher_numbers: list[str]
    """``<accounting year>/<voucher number>`` in e-conomic."""
    booked: bool | None
    """Whether the journal was booked (by the app, or seen booked by the bookkeeper); null when
    that cannot be told (not posted, or a voucher with no invoice line)."""
    error: str | None
    """The platform's error while not sent, secrets masked."""


class ReconciliationCount(msgspec.Struct, frozen=True, kw_only=True):
    count: int
    amount: int


class ReconciliationReceived(msgspec.Struct, frozen=True, kw_only=True):
    count: int
    amount: int
    principal: int
    interest: int
    fees: int


class ReconciliationWrittenOff(msgspec.Struct, frozen=True, kw_only=True):
    count: int
    principal: int
    net: int
    vat: int


class ReconciliationTotals(msgspec.Struct, frozen=True, kw_only=True):
    """One currency's totals (never summed across currencies), minor units."""

    currency: str
    received: ReconciliationReceived
    posted: ReconciliationCount
    booked: ReconciliationCount
    not_posted: ReconciliationCount
    written_off: ReconciliationWrittenOff
    """The month's write-offs whose voucher is posted."""


class ReconciliationMissing(msgspec.Struct, frozen=True, kw_only=True):
    payment_id: str
    case_id: str
    paid_on: Day
    currency: str
    amount: int
    outbox_id: int | None
    state: VoucherStateView
    error: str | None


class ReconciliationMismatch(msgspec.Struct, frozen=True, kw_only=True):
    payment_id: str
    currency: str
    amount: int
    voucher_amount: int
    difference: int
    """``voucher_amount − amount``."""


class ReconciliationDifferences(msgspec.Struct, frozen=True, kw_only=True):
    without_voucher: list[ReconciliationMissing]
    amount_mismatch: list[ReconciliationMismatch]


class ReconciliationWriteOff(msgspec.Struct, frozen=True, kw_only=True):
    case_id: str
    closed_on: Day
    currency: str
    principal: int
    net: int
    vat: int
    state: Literal["pending", "approved", "rejected"]
    outbox_state: Literal["pending", "sent", "failed", "dead"] | None
    error: str | None


class Reconciliation(msgspec.Struct, frozen=True, kw_only=True):
    """A month's reconciliation (JSON; CSV with ``Accept: text/csv``)."""

    month: str
    first_day: Day
    last_day: Day
    totals: list[ReconciliationTotals]
    payments: list[ReconciliationPayment]
    differences: ReconciliationDifferences
    write_offs: list[ReconciliationWriteOff]


def wants_csv(accept: str) -> bool:
    """Whether ``Accept`` prefers CSV to JSON (by q, then by order; JSON when neither)."""
    best: tuple[float, int, str] | None = None
    for position, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        if media in (CSV, JSON, "application/*", "*/*") and quality > 0:
            kind = CSV if media == CSV else JSON
            if best is None or (quality, -position) > (best[0], best[1]):
                best = (quality, -position, kind)
    return best is not None and best[2] == CSV


async def show_reconciliation(request: web.Request, member: Member) -> web.StreamResponse:
    try:
        month = reconciliation.parse_month(request.query.get("month"))
    except reconciliation.BadMonth as exc:
        raise Invalid("invalid_parameter", str(exc)) from None
    installation = member.installation
    stored = await read(request.app[DATABASE], installation.id, installation.agreement_number)
    report = reconciliation.build(month, stored)
    if wants_csv(request.headers.get("Accept", "")):
        name = f"reconciliation-{installation.agreement_number}-{month}.csv"
        return web.Response(
            text=reconciliation.to_csv(report),
            content_type=CSV,
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return reply(msgspec.convert(msgspec.to_builtins(report), Reconciliation))


def add_routes(api: Api) -> None:
    api.member_route(
        "GET",
        "/installations/{agreement}/reconciliation",
        show_reconciliation,
        role="guest",
        summary="A month's reconciliation: collectors' payments, vouchers posted, booked, and the "
        "differences, per currency (JSON, or CSV with Accept: text/csv)",
        response=Reconciliation,
        params=(MONTH,),
    )
