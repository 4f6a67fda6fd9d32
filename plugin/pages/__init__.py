"""Server-rendered pages: the template environment (Jinja2, autoescaped, strict), the static
files (our stylesheet and script, and e-conomic's design tokens vendored under
``static/vendor``, never fetched at run time), the start page ``/`` and the ``/settings``
pages for people, each module adding its own to the one guarded table (`plugin.pages.guard`).

    accounts.py    sign-in, second factor, password reset, invitations, one's own account
    companies.py   the overview of one's companies, the switcher, a company's dashboard
"""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from plugin.pages import accounts, audit, claims, companies, company, members, resync, tokens
from plugin.pages.formats import setup_filters
from plugin.pages.guard import Pages

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


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", start)
    app.router.add_static("/static", STATIC, append_version=True)
    pages = Pages()
    for module in (accounts, companies, claims, resync, company, members, tokens, audit):
        module.add_pages(pages)
    pages.mount(app)
    app[PAGES] = pages
