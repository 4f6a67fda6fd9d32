"""The inbox across the caller's companies: ``/api/v1/inbox``.

    GET  /inbox?state=&cursor=&limit=   any member   entries of the caller's companies, id order
    POST /inbox/{id}/replay             admin        a dead or rejected event processed again: 202

``?state=dead`` lists the dead letters: collection events whose processing failed for a bug.
A replay makes the event ``new`` again and queues its ``inbox.event`` job
(`sync.inbox_processing.replay`); its effects happen once, as for any event. An entry of a
company the caller is no member of is a 404, as one that does not exist; one in another state,
or an e-conomic hint (processed as it arrives), is a 409 ``invalid_state``. Errors are shown with
every known secret masked; every replay is audited.
"""

from __future__ import annotations

from aiohttp import web

from plugin.api import shapes
from plugin.api.auth import Caller, require_role
from plugin.api.errors import Conflict, NotFound
from plugin.api.paging import PAGING, page_of, page_request
from plugin.api.registry import Api, number_in_path, reply, state_in_query
from plugin.api.values import as_utc, one_of, path_number
from plugin.keys import CLOCK, DATABASE, QUEUE
from sync.inbox_processing import replay
from sync.redaction import scrub
from sync.store.audit import AuditLog
from sync.store.inbox import INBOX_STATES, REPLAYABLE, EntrySummary, Inbox, InboxState
from sync.store.installations import Installations
from sync.store.users import Role, Users

ENTRY = number_in_path("id", "The inbox entry's id")
STATE_FILTER = state_in_query(
    INBOX_STATES, "only entries in this state (dead: failed for a bug); default every state"
)


def entry_view(entry: EntrySummary) -> shapes.InboxEntryView:
    received = as_utc(entry.received_at)
    assert received is not None
    return shapes.InboxEntryView(
        id=entry.id,
        installation=entry.agreement_number,
        source=entry.source,
        topic=entry.topic,
        event_id=entry.event_id,
        state=entry.state,
        error=scrub(entry.error) if entry.error else None,
        received_at=received,
        processed_at=as_utc(entry.processed_at),
    )


def state_filter(text: str | None) -> InboxState | None:
    return one_of(text, INBOX_STATES)


async def list_inbox(request: web.Request, caller: Caller) -> web.Response:
    state = state_filter(request.query.get("state"))
    page = page_request(request.query)
    entries = await Inbox(request.app[DATABASE]).page(
        state=state, user_id=caller.user.id, after=page.after, limit=page.limit + 1
    )
    shown, next_cursor = page_of(entries, page, key=lambda row: row.id)
    return reply(
        shapes.InboxList(
            items=[entry_view(e) for e in shown],
            next_cursor=next_cursor,
        )
    )


async def _member_entry(request: web.Request, caller: Caller) -> tuple[EntrySummary, Role]:
    """The entry of the path and the caller's role in its company; 404 for anyone else."""
    db = request.app[DATABASE]
    number = path_number(request.match_info["id"])
    entry = await Inbox(db).get(number) if number is not None else None
    installation = (
        await Installations(db).get(entry.installation_id)
        if entry is not None and entry.installation_id is not None
        else None
    )
    role = await Users(db).role_in(caller.user.id, installation.id) if installation else None
    if entry is None or installation is None or role is None:
        raise NotFound("not_found", "no inbox entry with that id")
    summary = EntrySummary(
        id=entry.id,
        source=entry.source,
        installation_id=installation.id,
        agreement_number=installation.agreement_number,
        dedupe_key=entry.dedupe_key,
        topic=entry.topic,
        state=entry.state,
        error=entry.error,
        received_at=entry.received_at,
        processed_at=entry.processed_at,
    )
    return summary, role


async def replay_entry(request: web.Request, caller: Caller) -> web.Response:
    found, role = await _member_entry(request, caller)
    require_role(role, "admin")
    if found.source != "collection" or found.state not in REPLAYABLE:
        raise Conflict(
            "invalid_state",
            f"a {found.state} {found.source} entry cannot be replayed "
            "(only dead or rejected collection events)",
        )
    db, now = request.app[DATABASE], request.app[CLOCK]()
    job_id = await replay(db, request.app[QUEUE], found.id, now=now)
    if job_id is None:
        raise Conflict("invalid_state", "the entry changed meanwhile; read it and try again")
    await AuditLog(db).record(
        installation_id=found.installation_id,
        actor=caller.user.email,
        action="inbox.replayed",
        at=now,
        detail={"inbox_id": found.id, "before": found.state, "job_id": job_id},
    )
    after, _ = await _member_entry(request, caller)
    return reply(shapes.InboxReplayed(job_id=job_id, entry=entry_view(after)), status=202)


def add_routes(api: Api) -> None:
    api.caller_route(
        "GET",
        "/inbox",
        list_inbox,
        summary="Webhook deliveries and collection events of the caller's companies, in id "
        "order (state=dead: the dead letters)",
        response=shapes.InboxList,
        params=(STATE_FILTER, *PAGING),
    )
    api.caller_route(
        "POST",
        "/inbox/{id}/replay",
        replay_entry,
        summary="Process a dead or rejected collection event again (admin of its company): "
        "answered 202 with the job that processes it",
        response=shapes.InboxReplayed,
        params=(ENTRY,),
        status=202,
        conflicts=True,
    )
