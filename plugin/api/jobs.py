"""Resync and jobs: ``POST /api/v1/installations/{agreement}/resync``, ``GET /api/v1/jobs/{id}``
and ``POST /api/v1/jobs/{id}/retry``.

A resync (caseworker) queues one job by its scope (DESIGN.md, Jobs) and answers 202
``{job_id}``; a body that leaves ``scope`` out means ``all``:

    scope          kind             payload               dedupe key (and serial key)
    all            sync.bootstrap                         bootstrap:<agreement>
    customers      sync.customers                         customers:<agreement>
    invoices       sync.scan        {"full": true}        scan:<agreement>
    events         sync.events                            events:<agreement>
    invoice:<n>    sync.invoice     {"invoice": n}        invoice:<agreement>:<n> (serial too)

Asked again while its job waits (queued, or failed and waiting out a backoff), the queue's
dedupe answers that job's id; while it runs, a new job is queued (the ledger may have changed
after it read). Every job is idempotent, so a resync of an unchanged ledger writes nothing to
the collection platform (fingerprints). A revoked or deleted installation is refused (409
``invalid_state``: its jobs could not run); a paused one's job waits for the resume. The audit
log names the caller. `resync_job` is shared with ``collectbridge resync``.

A job is shown only to members of its company (any role); anyone else, and a job of no company,
gets 404 as for an id that does not exist. Retry (admin of the job's company) runs a dead,
parked or failed job again now with a fresh count of attempts (`JobQueue.retry`); other states
→ 409 ``invalid_state``.
"""

from __future__ import annotations

import re

import msgspec
from aiohttp import web

from plugin.api import shapes
from plugin.api.auth import Caller, Member, require_role
from plugin.api.errors import Conflict, Invalid, NotFound
from plugin.api.registry import Api, number_in_path, reply
from plugin.api.values import as_utc
from plugin.keys import CLOCK, DATABASE, QUEUE
from sync import schedules
from sync.jobs import Job, NewJob
from sync.redaction import scrub
from sync.store.audit import AuditLog
from sync.store.installations import Installation, Installations
from sync.store.users import Role, Users

SCOPES = ("all", "customers", "invoices", "events", "invoice:<n>")
RETRYABLE = ("dead", "parked", "failed")
_INVOICE_SCOPE = re.compile(r"invoice:([1-9][0-9]{0,17})")
MAX_JOB_ID_DIGITS = 18

JOB_ID = number_in_path("job_id", "The job's id, as a 202 answered it")


class InvalidScope(ValueError):
    pass


def resync_job(installation: Installation, scope: str) -> NewJob:
    """The job a resync of ``scope`` queues (`sync.schedules`' constructors); `InvalidScope` for
    a scope there is none for."""
    inst, agreement = installation.id, installation.agreement_number
    if scope == "all":
        return schedules.bootstrap(inst, agreement)
    if scope == "customers":
        return schedules.customers(inst, agreement)
    if scope == "invoices":
        return schedules.scan(inst, agreement, full=True)
    if scope == "events":
        return NewJob(kind="sync.events", installation_id=inst, dedupe_key=f"events:{agreement}")
    match = _INVOICE_SCOPE.fullmatch(scope)
    if match is None:
        raise InvalidScope(f"scope must be one of {', '.join(SCOPES)} (n an invoice number)")
    return schedules.invoice(inst, agreement, int(match.group(1)))


def refuses_resync(installation: Installation) -> str | None:
    """Why an installation takes no resync now, or None."""
    if installation.status in ("revoked", "deleted"):
        return f"the installation is {installation.status}: its jobs cannot run"
    return None


def job_view(job: Job, agreement: int) -> shapes.JobView:
    run_at, created_at = as_utc(job.run_at), as_utc(job.created_at)
    assert run_at is not None and created_at is not None
    return shapes.JobView(
        id=job.id,
        kind=job.kind,
        state=job.state,
        progress=shapes.Progress(done=job.progress_done, total=job.progress_total),
        installation=agreement,
        attempts=job.attempts,
        last_error=scrub(job.last_error) if job.last_error is not None else None,
        error_code=job.error_code,
        run_at=run_at,
        created_at=created_at,
        started_at=as_utc(job.started_at),
        finished_at=as_utc(job.finished_at),
    )


class _ResyncBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    scope: str = "all"


async def resync(request: web.Request, member: Member) -> web.Response:
    raw = await request.read()
    try:
        body = msgspec.json.decode(raw, type=_ResyncBody) if raw.strip() else _ResyncBody()
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise Invalid("invalid_body", 'the body is {"scope": "' + "|".join(SCOPES) + '"}') from None
    job_id = await start_resync(request, member, body.scope)
    return reply(shapes.JobAccepted(job_id=job_id), status=202)


async def start_resync(request: web.Request, member: Member, scope: str) -> int:
    """Queue the resync of ``scope`` (the API's and the pages' alike): its job id."""
    try:
        job = resync_job(member.installation, scope)
    except InvalidScope as exc:
        raise Invalid("invalid_scope", str(exc)) from None
    refused = refuses_resync(member.installation)
    if refused is not None:
        raise Conflict("invalid_state", refused)
    now = request.app[CLOCK]()
    job_id = await request.app[QUEUE].enqueue(job, now=now)
    await AuditLog(request.app[DATABASE]).record(
        installation_id=member.installation.id,
        actor=member.caller.user.email,
        action="installation.resync",
        at=now,
        detail={"scope": scope, "job_id": job_id},
    )
    return job_id


async def _member_job(request: web.Request, caller: Caller, needed: Role) -> tuple[Job, int]:
    """The job of the path and its company's agreement number, for a member of that company
    with ``needed``; 404 for anyone else, 403 for a member whose role is too low."""
    text = request.match_info["job_id"]
    digits = text.isascii() and text.isdigit() and len(text) <= MAX_JOB_ID_DIGITS
    number = int(text) if digits else None
    db = request.app[DATABASE]
    job = await request.app[QUEUE].get(number) if number else None
    installation = (
        await Installations(db).get(job.installation_id)
        if job is not None and job.installation_id is not None
        else None
    )
    role = await Users(db).role_in(caller.user.id, installation.id) if installation else None
    if job is None or installation is None or role is None:
        raise NotFound("not_found", "no job with that id")
    require_role(role, needed)
    return job, installation.agreement_number


async def show_job(request: web.Request, caller: Caller) -> web.Response:
    job, agreement = await _member_job(request, caller, "guest")
    return reply(job_view(job, agreement))


async def retry_job(request: web.Request, caller: Caller) -> web.Response:
    job, agreement = await _member_job(request, caller, "admin")
    if job.state not in RETRYABLE:
        raise Conflict(
            "invalid_state", f"a {job.state} job cannot be retried (only dead, parked or failed)"
        )
    now = request.app[CLOCK]()
    queue = request.app[QUEUE]
    if not await queue.retry(job.id, now=now):
        raise Conflict("invalid_state", "the job changed meanwhile; read it and try again")
    await AuditLog(request.app[DATABASE]).record(
        installation_id=job.installation_id,
        actor=caller.user.email,
        action="job.retried",
        at=now,
        detail={"job_id": job.id, "kind": job.kind, "state": job.state},
    )
    after = await queue.get(job.id)
    assert after is not None
    return reply(job_view(after, agreement))


def add_routes(api: Api) -> None:
    api.member_route(
        "POST",
        "/installations/{agreement}/resync",
        resync,
        role="caseworker",
        summary="Resync a scope (body {scope: all|customers|invoices|events|invoice:<n>}): "
        "answered 202 with the job's id",
        response=shapes.JobAccepted,
        status=202,
        conflicts=True,
        body=shapes.ResyncRequest,
        body_required=False,
    )
    api.caller_route(
        "GET",
        "/jobs/{job_id}",
        show_job,
        summary="One job of the caller's companies: state, progress, attempts, last error",
        response=shapes.JobView,
        params=(JOB_ID,),
    )
    api.caller_route(
        "POST",
        "/jobs/{job_id}/retry",
        retry_job,
        summary="Run a dead, parked or failed job again now (admin of its company)",
        response=shapes.JobView,
        params=(JOB_ID,),
        conflicts=True,
    )
