"""What went back into the books: the month's reconciliation and the writes to e-conomic.

    GET  /settings/{agreement}/bookkeeping?month=YYYY-MM      guest: the month's collector
                                                              payments, vouchers posted and
                                                              booked, write-offs, differences
    GET  /settings/{agreement}/bookkeeping.csv?month=YYYY-MM  guest: the same as CSV
    POST /settings/{agreement}/outbox/{id}/retry              admin: a failed or dead write again

The report is `sync.reconciliation`'s, as ``GET /api/v1/…/reconciliation`` answers it; amounts
per currency, never summed across currencies. The writes listed are the outbox's (pending,
failed, dead); a retry goes through the API's own `retry_outbox_item`.
"""

from __future__ import annotations

from aiohttp import web

from plugin.api.errors import ApiError
from plugin.api.outbox import retry_outbox_item
from plugin.keys import CLOCK, DATABASE
from plugin.pages.guard import Pages, Visitor, render
from plugin.roles import allows
from sync import reconciliation
from sync.mapping import today_in_copenhagen
from sync.store.outbox import Outbox, OutboxState
from sync.store.reconciliation import read

OPEN_WRITES: tuple[OutboxState, ...] = ("failed", "dead", "pending")


def _month(request: web.Request) -> reconciliation.Month:
    text = request.query.get("month")
    if not text:
        today = today_in_copenhagen(request.app[CLOCK]())
        text = f"{today.year:04d}-{today.month:02d}"
    try:
        return reconciliation.parse_month(text)
    except reconciliation.BadMonth:
        raise web.HTTPUnprocessableEntity(text="month is YYYY-MM") from None


async def _report(request: web.Request, visitor: Visitor) -> reconciliation.Report:
    installation = visitor.installation
    stored = await read(request.app[DATABASE], installation.id, installation.agreement_number)
    return reconciliation.build(_month(request), stored)


async def bookkeeping(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    return await _page(request, visitor, error=None, status=200)


async def _page(
    request: web.Request, visitor: Visitor, *, error: str | None, status: int
) -> web.Response:
    outbox = Outbox(request.app[DATABASE])
    writes = []
    for state in OPEN_WRITES:
        writes += await outbox.list(installation_id=visitor.installation.id, state=state, limit=100)
    return await render(
        request,
        visitor,
        "bookkeeping.html",
        {
            "report": await _report(request, visitor),
            "writes": writes,
            "can_retry": allows(visitor.role, "admin"),
            "error": error,
        },
        status=status,
    )


async def bookkeeping_csv(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    report = await _report(request, visitor)
    name = f"reconciliation-{visitor.installation.agreement_number}-{report.month}.csv"
    return web.Response(
        text=reconciliation.to_csv(report),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


async def retry_write(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    member = visitor.company
    assert member is not None
    try:
        await retry_outbox_item(request, member)
    except ApiError as exc:
        return await _page(request, visitor, error=exc.detail, status=exc.status)
    raise web.HTTPSeeOther(
        f"/settings/{visitor.installation.agreement_number}/bookkeeping?retried={request.match_info['id']}"
    )


def add_pages(pages: Pages) -> None:
    pages.member("GET", "/settings/{agreement}/bookkeeping", bookkeeping, role="guest")
    pages.member("GET", "/settings/{agreement}/bookkeeping.csv", bookkeeping_csv, role="guest")
    pages.member("POST", "/settings/{agreement}/outbox/{id}/retry", retry_write, role="admin")
