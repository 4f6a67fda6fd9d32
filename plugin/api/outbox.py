"""One company's outbox: ``/api/v1/installations/{agreement}/outbox``.

    GET  …/outbox?state=&cursor=&limit=   guest   every write to a platform, oldest first
    POST …/outbox/{id}/retry              admin   a failed or dead write sent again: 202

A retry sets the write pending again and queues the job that sends it (`sync.outbox.retry_item`):
a dead write (refused, or not verifiable after e-conomic forgot its key) goes under a new key
generation, so the platform does not replay its refusal. A write in another state → 409
``invalid_state``. Errors are shown with every known secret masked; every retry is audited.
"""

from __future__ import annotations

from aiohttp import web

from plugin.api import shapes
from plugin.api.auth import Member
from plugin.api.errors import Conflict, NotFound
from plugin.api.paging import PAGING, page_of, page_request
from plugin.api.registry import Api, number_in_path, reply, state_in_query
from plugin.api.values import as_utc, one_of, path_number
from plugin.keys import CLOCK, DATABASE, QUEUE
from sync.outbox import retry_item
from sync.redaction import scrub
from sync.store.audit import AuditLog
from sync.store.outbox import OUTBOX_STATES, Outbox, OutboxItem, OutboxState

ITEM = number_in_path("id", "The outbox item's id")
STATE_FILTER = state_in_query(OUTBOX_STATES, "only writes in this state (default: every state)")


def item_view(item: OutboxItem) -> shapes.OutboxItemView:
    created = as_utc(item.created_at)
    assert created is not None
    return shapes.OutboxItemView(
        id=item.id,
        platform=item.platform,
        operation=item.operation,
        idempotency_key=item.idempotency_key,
        state=item.state,
        attempts=item.attempts,
        last_error=scrub(item.last_error) if item.last_error else None,
        created_at=created,
        first_attempt_at=as_utc(item.first_attempt_at),
        sent_at=as_utc(item.sent_at),
    )


def state_filter(text: str | None) -> OutboxState | None:
    return one_of(text, OUTBOX_STATES)


async def list_outbox(request: web.Request, member: Member) -> web.Response:
    state = state_filter(request.query.get("state"))
    page = page_request(request.query)
    items = await Outbox(request.app[DATABASE]).list(
        installation_id=member.installation.id,
        state=state,
        after=page.after,
        limit=page.limit + 1,
    )
    shown, next_cursor = page_of(items, page, key=lambda row: row.id)
    return reply(
        shapes.OutboxList(
            items=[item_view(i) for i in shown],
            next_cursor=next_cursor,
        )
    )


async def retry_outbox_item(request: web.Request, member: Member) -> web.Response:
    outbox = Outbox(request.app[DATABASE])
    number = path_number(request.match_info["id"])
    found = await outbox.get(number) if number is not None else None
    if found is None or found.installation_id != member.installation.id:
        raise NotFound("not_found", "the company has no outbox item with that id")
    now = request.app[CLOCK]()
    retried = await retry_item(outbox, request.app[QUEUE], found.id, now=now)
    if retried is None:
        raise Conflict(
            "invalid_state", f"the write is {found.state}: only failed or dead ones are retried"
        )
    await AuditLog(request.app[DATABASE]).record(
        installation_id=member.installation.id,
        actor=member.caller.user.email,
        action="outbox.retried",
        at=now,
        detail={"outbox_id": found.id, "before": found.state, "job_id": retried.job_id},
    )
    return reply(
        shapes.OutboxRetried(job_id=retried.job_id, item=item_view(retried.item)), status=202
    )


def add_routes(api: Api) -> None:
    base = "/installations/{agreement}/outbox"
    api.member_route(
        "GET",
        base,
        list_outbox,
        role="guest",
        summary="The company's writes to either platform (vouchers, bookings, customer flags), "
        "oldest first",
        response=shapes.OutboxList,
        params=(STATE_FILTER, *PAGING),
    )
    api.member_route(
        "POST",
        f"{base}/{{id}}/retry",
        retry_outbox_item,
        role="admin",
        summary="Send a failed or dead write again: answered 202 with the job that sends it",
        response=shapes.OutboxRetried,
        params=(ITEM,),
        status=202,
        conflicts=True,
    )
