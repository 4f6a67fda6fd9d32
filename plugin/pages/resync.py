"""Resync from the settings pages, with a live progress bar.

    GET  /settings/{agreement}/resync?job=   guest: the form (caseworkers and admins) and the
                                             recent resync jobs with their progress
    POST /settings/{agreement}/resync        caseworker: queue a resync of a scope

The job is `plugin.api.jobs.start_resync`'s, as ``POST /api/v1/…/resync`` queues it (the same
scope asked again while its job waits answers that job). Each bar is a ``<progress>`` the page
renders with the job's progress at that moment; the page's script then follows
``GET /api/v1/jobs/{id}`` with the session cookie until the job ends, so the bar moves without
a reload (and without the script, reloading the page shows the progress so far).
"""

from __future__ import annotations

from aiohttp import web

from plugin.api.errors import ApiError
from plugin.api.jobs import start_resync
from plugin.keys import QUEUE
from plugin.pages.guard import Pages, Visitor, render
from plugin.pages.texts import translator
from plugin.roles import allows

RESYNC_KINDS = frozenset(
    {"sync.bootstrap", "sync.customers", "sync.scan", "sync.events", "sync.invoice"}
)
SHOWN = 10
JOB_STATES = ("queued", "running", "succeeded", "failed", "parked", "dead")


async def resync_page(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    return await _page(request, visitor, error=None, status=200)


async def _page(
    request: web.Request, visitor: Visitor, *, error: str | None, status: int
) -> web.Response:
    jobs = await request.app[QUEUE].list(installation_id=visitor.installation.id, limit=200)
    recent = [j for j in jobs if j.kind in RESYNC_KINDS][:SHOWN]
    followed = request.query.get("job", "")
    t = translator(visitor.language)
    return await render(
        request,
        visitor,
        "resync.html",
        {
            "jobs": recent,
            "followed": int(followed) if followed.isdigit() else None,
            "can_resync": allows(visitor.role, "caseworker"),
            "job_states": {state: t(f"job_state_{state}") for state in JOB_STATES},
            "error": error,
        },
        status=status,
    )


async def resync_submit(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    member = visitor.company
    assert member is not None
    scope = visitor.form.get("scope", "all")
    if scope == "invoice":
        scope = f"invoice:{visitor.form.get('invoice', '').strip()}"
    try:
        job_id = await start_resync(request, member, scope)
    except ApiError as exc:
        return await _page(request, visitor, error=exc.detail, status=exc.status)
    raise web.HTTPSeeOther(f"/settings/{visitor.installation.agreement_number}/resync?job={job_id}")


def add_pages(pages: Pages) -> None:
    pages.member("GET", "/settings/{agreement}/resync", resync_page, role="guest")
    pages.member("POST", "/settings/{agreement}/resync", resync_submit, role="caseworker")
