"""One company's write-offs: ``/api/v1/installations/{agreement}/write-offs``.

    GET  …/write-offs?state=&cursor=&limit=   guest   proposals of written-off cases, oldest first
    POST …/write-offs/{id}/approve            admin   approve one: 202, its voucher job queued

A written-off case becomes a proposal (`sync.outcomes`): per claim the remaining principal, its
net part (to the loss account) and its VAT part (to output VAT). Nothing is booked before an
admin approves; approving sets it ``approved`` (a compare-and-set on ``pending``) and queues
``pushback.writeoff`` (dedupe ``writeoff:<agreement>:<case id>``), which posts the voucher
through the outbox once (its state shows as ``outbox_state``). Approving an approved proposal
queues its job again (a voucher already posted is not posted twice) and answers the same; a
rejected one → 409 ``invalid_state``. Every approval is audited.
"""

from __future__ import annotations

import datetime as dt

import msgspec
from aiohttp import web

from plugin.api import shapes
from plugin.api.auth import Member
from plugin.api.errors import Conflict, NotFound
from plugin.api.paging import PAGING, page_of, page_request
from plugin.api.registry import Api, number_in_path, reply, state_in_query
from plugin.api.values import as_utc, one_of, path_number
from plugin.keys import CLOCK, DATABASE, QUEUE
from sync import schedules
from sync.outcomes import writeoff_key
from sync.store.audit import AuditLog
from sync.store.outbox import Outbox
from sync.store.writeoffs import WRITEOFF_STATES, StoredWriteOff, WriteOffs, WriteOffState

WRITE_OFF = number_in_path("id", "The write-off proposal's id")
STATE_FILTER = state_in_query(
    WRITEOFF_STATES, "only proposals in this state (default: every state)"
)


async def writeoff_view(
    request: web.Request, member: Member, found: StoredWriteOff
) -> shapes.WriteOffView:
    payload = found.payload
    agreement = member.installation.agreement_number
    item = await Outbox(request.app[DATABASE]).by_key(writeoff_key(agreement, found.case_id))
    return shapes.WriteOffView(
        id=found.id,
        case_id=found.case_id,
        state=found.state,
        currency=str(payload.get("currency", "")),
        closed_on=dt.date.fromisoformat(str(payload["closed_on"])),
        principal=int(payload.get("principal", 0)),
        net=int(payload.get("net", 0)),
        vat=int(payload.get("vat", 0)),
        lines=msgspec.convert(payload.get("lines", []), list[shapes.WriteOffLineView]),
        created_at=as_utc(found.created_at),
        decided_at=as_utc(found.decided_at) if found.decided_at else None,
        outbox_state=item.state if item is not None else None,
    )


def state_filter(text: str | None) -> WriteOffState | None:
    return one_of(text, WRITEOFF_STATES)


async def list_writeoffs(request: web.Request, member: Member) -> web.Response:
    state = state_filter(request.query.get("state"))
    page = page_request(request.query)
    found = await WriteOffs(request.app[DATABASE]).list(
        member.installation.id, state=state, after=page.after, limit=page.limit + 1
    )
    shown, next_cursor = page_of(found, page, key=lambda row: row.id)
    return reply(
        shapes.WriteOffList(
            items=[await writeoff_view(request, member, w) for w in shown],
            next_cursor=next_cursor,
        )
    )


async def _read(request: web.Request, member: Member) -> StoredWriteOff:
    number = path_number(request.match_info["id"]) or 0
    found = await WriteOffs(request.app[DATABASE]).get(member.installation.id, number)
    if found is None:
        raise NotFound("not_found", "the company has no write-off with that id")
    return found


async def approve_writeoff(request: web.Request, member: Member) -> web.Response:
    found = await _read(request, member)
    if found.state == "rejected":
        raise Conflict("invalid_state", "the write-off was rejected")
    now = request.app[CLOCK]()
    store = WriteOffs(request.app[DATABASE])
    if found.state == "pending":
        approved = await store.approve(
            member.installation.id, found.id, user_id=member.caller.user.id, now=now
        )
        if not approved:
            found = await _read(request, member)
            if found.state != "approved":
                raise Conflict("invalid_state", f"the write-off is {found.state}")
    job_id = await request.app[QUEUE].enqueue(
        schedules.pushback_writeoff(
            member.installation.id,
            member.installation.agreement_number,
            found.case_id,
            found.payload["event"],
        ),
        now=now,
    )
    await AuditLog(request.app[DATABASE]).record(
        installation_id=member.installation.id,
        actor=member.caller.user.email,
        action="writeoff.approved",
        at=now,
        detail={"writeoff_id": found.id, "case_id": found.case_id, "job_id": job_id},
    )
    current = await _read(request, member)
    return reply(
        shapes.WriteOffApproved(
            job_id=job_id, write_off=await writeoff_view(request, member, current)
        ),
        status=202,
    )


def add_routes(api: Api) -> None:
    base = "/installations/{agreement}/write-offs"
    api.member_route(
        "GET",
        base,
        list_writeoffs,
        role="guest",
        summary="The company's write-off proposals (written-off cases), oldest first",
        response=shapes.WriteOffList,
        params=(STATE_FILTER, *PAGING),
    )
    api.member_route(
        "POST",
        f"{base}/{{id}}/approve",
        approve_writeoff,
        role="admin",
        summary="Approve a write-off: answered 202 with the job that books its voucher",
        response=shapes.WriteOffApproved,
        params=(WRITE_OFF,),
        status=202,
        conflicts=True,
    )
