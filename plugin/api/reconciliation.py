"""One company's reconciliation report: ``/api/v1/installations/{agreement}/reconciliation``.

    GET …/reconciliation?month=YYYY-MM   guest   the month's collector payments, their vouchers,
                                                 what is booked, the differences, the write-offs

JSON by default (`shapes.Reconciliation`); CSV (``text/csv``, one row per payment with its
voucher state, then the write-offs and the totals per currency, decimal amounts) when the
caller's ``Accept`` prefers ``text/csv``. A month missing or not ``YYYY-MM`` → 422. Guests read
it: it is the company's own bookkeeping, with no secret in it (errors are masked).
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from plugin.api import shapes
from plugin.api.auth import Member
from plugin.api.errors import Invalid
from plugin.api.registry import Api, Param, reply
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
    return reply(msgspec.convert(msgspec.to_builtins(report), shapes.Reconciliation))


def add_routes(api: Api) -> None:
    api.member_route(
        "GET",
        "/installations/{agreement}/reconciliation",
        show_reconciliation,
        role="guest",
        summary="A month's reconciliation: collectors' payments, vouchers posted, booked, and the "
        "differences, per currency (JSON, or CSV with Accept: text/csv)",
        response=shapes.Reconciliation,
        params=(MONTH,),
    )
