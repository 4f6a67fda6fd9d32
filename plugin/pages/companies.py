"""The companies a person looks after, and one company's dashboard.

    GET  /settings                every company of the person: status, problems, in collection
    POST /settings/add-company    "add a client company": the install of the next agreement
    GET  /settings/switch?q=      the switcher: straight to the one company that matches
    GET  /settings/{agreement}    the dashboard (guest)

The dashboard shows both connections, the last successful sync per stream and its lag, the
e-conomic calls of the last 24 hours against the platform's 50,000, the open problems grouped
by kind with what to do, claims per state, and the overdue amounts by age as an inline SVG bar
chart per currency (no script, no image fetched).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from plugin.api.installations import view_for
from plugin.install import add_client_company
from plugin.keys import CLOCK, DATABASE, SETTINGS
from plugin.notices import digest
from plugin.pages.advice import advice_for
from plugin.pages.guard import Pages, Visitor, companies_of, forms_may_go_on_to, render
from plugin.roles import allows
from sync.mapping import today_in_copenhagen
from sync.store.dashboards import AGING_BUCKETS, Dashboards
from sync.store.notices import Notices
from sync.store.overviews import Overviews
from sync.store.problems import Problems

ECONOMIC_FAIR_USE = 50_000
NOTICES_SHOWN = 10
OVERVIEW_LIMIT = 500


async def overview(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    db, now = request.app[DATABASE], request.app[CLOCK]()
    user_id = visitor.me.user.id
    found, _ = await Overviews(db).page(user_id, after=0, limit=OVERVIEW_LIMIT, now=now)
    query = request.query.get("q", "").strip().lower()
    if query:
        found = [
            o
            for o in found
            if _matches(query, o.installation.company_name, o.installation.agreement_number)
        ]
    dashboards = Dashboards(db)
    response = await render(
        request,
        visitor,
        "overview.html",
        {
            "overviews": found,
            "problems": await dashboards.open_problems(user_id),
            "in_collection": await dashboards.in_collection(user_id),
            "query": request.query.get("q", ""),
        },
    )
    # "Add a client company" posts a form answered with a redirect to e-conomic's grant page.
    install_url = request.app[SETTINGS].economic_install_url
    response.headers["Content-Security-Policy"] = forms_may_go_on_to(install_url)
    return response


def _matches(query: str, name: str, agreement: int) -> bool:
    return query in name.lower() or query == str(agreement) or str(agreement).startswith(query)


async def switch(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    query = request.query.get("q", "").strip()
    companies = await companies_of(request, visitor.me.user.id)
    hits = [c for c in companies if _matches(query.lower(), c["name"], c["agreement"])]
    exact = [c for c in hits if str(c["agreement"]) == query]
    if len(exact) == 1 or len(hits) == 1:
        raise web.HTTPSeeOther(f"/settings/{(exact or hits)[0]['agreement']}")
    raise web.HTTPSeeOther(f"/settings?q={query}" if query else "/settings")


async def dashboard(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    db, now = request.app[DATABASE], request.app[CLOCK]()
    installation = visitor.installation
    view = await view_for(request, visitor.me.user.id, installation, visitor.role)
    dashboards = Dashboards(db)
    problems = await Problems(db).open(installation.id)
    grouped: dict[str, list[Any]] = {}
    for problem in problems:
        grouped.setdefault(problem.code, []).append(problem)
    aging = await dashboards.aging(installation.id, today=today_in_copenhagen(now))
    public = request.app[SETTINGS].public_url
    notices = []
    for notice in await Notices(db).unread(installation.id, limit=NOTICES_SHOWN):
        subject, text = digest(
            installation, notice.items, language=visitor.language, public_url=public
        )
        notices.append(
            {
                "id": notice.id,
                "subject": subject,
                "text": text,
                "at": notice.created_at,
                "mailed": notice.mail_state,
            }
        )
    return await render(
        request,
        visitor,
        "dashboard.html",
        {
            "view": view,
            "problem_groups": [
                {"code": code, "problems": items, "advice": advice_for(code, visitor.language)}
                for code, items in sorted(grouped.items())
            ],
            "states": await dashboards.claim_states(installation.id),
            "aging": [{"currency": c, "bars": _bars(v)} for c, v in aging.items()],
            "buckets": AGING_BUCKETS,
            "fair_use": ECONOMIC_FAIR_USE,
            "notices": notices,
            "can_mark_read": allows(visitor.role, "caseworker"),
        },
    )


async def mark_read(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    text = request.match_info["id"]
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise web.HTTPNotFound()
    now = request.app[CLOCK]()
    marked = await Notices(request.app[DATABASE]).mark_read(
        visitor.installation.id, int(text), by=visitor.me.user.email, now=now
    )
    if not marked:
        raise web.HTTPNotFound()
    raise web.HTTPSeeOther(f"/settings/{visitor.installation.agreement_number}#notices-heading")


def _bars(values: list[int]) -> list[dict[str, Any]]:
    """The bars of one currency's aging chart: height in percent of the largest bucket."""
    top = max(values) or 1
    return [
        {"bucket": AGING_BUCKETS[i], "minor": v, "height": round(100 * v / top)}
        for i, v in enumerate(values)
    ]


async def add_company(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    """ "Add a client company": on to e-conomic's grant page for the next agreement, the install
    recorded as this person's, so that it joins their companies when it comes back."""
    return await add_client_company(request, visitor.me.user.id)


def add_pages(pages: Pages) -> None:
    pages.signed_in("GET", "/settings", overview)
    pages.signed_in("POST", "/settings/add-company", add_company)
    pages.signed_in("GET", "/settings/switch", switch)
    pages.member("GET", "/settings/{agreement}", dashboard, role="guest")
    pages.member("POST", "/settings/{agreement}/notices/{id}/read", mark_read, role="caseworker")
