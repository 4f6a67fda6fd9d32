"""A company's audit log: who did what, newest first, with a filter and a search.

    GET /settings/{agreement}/audit?action=&q=&cursor=   (guest)

``action`` is one of the actions the log holds (a select offers them), ``q`` searches the
actor, the action and the detail, ignoring case; 100 entries a page, with an "older" link
carrying the cursor (the id of the page's last entry) and the filters.

Guests may read it: DESIGN.md has guests read everything of their companies except secrets,
and no secret or token is ever written to the log (`sync.store.audit`), so it holds nothing to
hide from a member. It does name people (actors, invited e-mail addresses), as any member of the
company sees them at work anyway.
"""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from plugin.keys import DATABASE
from plugin.pages.guard import Pages, Visitor, render
from sync.store.audit import AuditLog

PAGE_SIZE = 100
MAX_QUERY = 200
MAX_CURSOR_DIGITS = 18


def _cursor(text: str) -> int:
    """The id to page below; 0 (the newest) for anything that is not one."""
    if not text.isascii() or not text.isdigit() or len(text) > MAX_CURSOR_DIGITS:
        return 0
    return int(text)


async def audit_page(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    log = AuditLog(request.app[DATABASE])
    installation = visitor.installation
    actions = await log.actions(installation.id)
    action = request.query.get("action", "")
    action = action if action in actions else ""
    query = request.query.get("q", "").strip()[:MAX_QUERY]
    cursor = _cursor(request.query.get("cursor", ""))
    entries, next_cursor = await log.search(
        installation.id, action=action, text=query, before=cursor, limit=PAGE_SIZE
    )
    filters = {k: v for k, v in (("action", action), ("q", query)) if v}
    older = None
    if next_cursor is not None:
        older = f"{request.path}?{urlencode({**filters, 'cursor': str(next_cursor)})}"
    return await render(
        request,
        visitor,
        "audit.html",
        {
            "entries": entries,
            "actions": actions,
            "action": action,
            "query": query,
            "older": older,
            "newest": f"{request.path}?{urlencode(filters)}" if cursor else None,
        },
    )


def add_pages(pages: Pages) -> None:
    pages.member("GET", "/settings/{agreement}/audit", audit_page, role="guest")
