"""Server-rendered pages: the template environment (Jinja2, autoescaped, strict), the static
files (our stylesheet and script, and e-conomic's design tokens vendored under
``static/vendor``, never fetched at run time), the start page ``/`` and the ``/settings``
pages for people, each module adding its own to the one guarded table (`plugin.pages.guard`).

    accounts.py     sign-in, second factor, password reset, invitations, one's own account
    companies.py    the overview of one's companies, the switcher, a company's dashboard
    claims.py       the claims, one invoice's journey and actions, approvals, a debtor's data
    resync.py       resync with its progress
    bookkeeping.py  the month's reconciliation, the writes to e-conomic and their retry
    company.py      the company's settings, pause, resume, disconnect
    members.py      users, roles and invitations
    tokens.py       one's personal API tokens
    audit.py        the audit log
"""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from plugin.pages import (
    accounts,
    audit,
    bookkeeping,
    claims,
    companies,
    company,
    members,
    resync,
    tokens,
)
from plugin.pages.formats import setup_filters
from plugin.pages.guard import NO_STORE, Pages

TEMPLATES = Path(__file__).parent.parent / "templates"
STATIC = Path(__file__).parent.parent / "static"
PAGES = web.AppKey("pages", Pages)


def setup_templates(app: web.Application) -> None:
    environment = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    setup_filters(environment)


@aiohttp_jinja2.template("start.html")
async def start(request: web.Request) -> dict[str, object]:
    return {}


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every HTML page (the start page, the install and onboarding pages, error pages) gets the
    settings pages' security headers, unless it set its own (onboarding widens form-action)."""
    if response.content_type == "text/html":
        for name, value in NO_STORE.items():
            response.headers.setdefault(name, value)


def setup_routes(app: web.Application) -> None:
    app.on_response_prepare.append(_security_headers)
    app.router.add_get("/", start)
    app.router.add_static("/static", STATIC, append_version=True)
    pages = Pages()
    modules = (accounts, companies, claims, resync, bookkeeping, company, members, tokens, audit)
    for module in modules:
        module.add_pages(pages)
    pages.mount(app)
    app[PAGES] = pages
