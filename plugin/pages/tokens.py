"""One's personal API tokens, on a page.

    GET  /settings/tokens               one's tokens: name, created, last used (never the token)
    POST /settings/tokens               a new token (name), shown once with a curl example
    POST /settings/tokens/{id}/revoke   revoke one of one's own tokens

Only the token's hash is kept (`sync.store.api_tokens`), so the answer to a creation is the one
time it can be read. The page deals in one's own tokens only: the id of anybody else's token,
or of none, is 404 (the API also lets admins revoke their members' tokens; the page does not
list them, so it does not offer that). Creating and revoking share `plugin.api.tokens`, so both
ways land in the audit log alike.
"""

from __future__ import annotations

from aiohttp import web

from plugin.api.errors import NotFound
from plugin.api.tokens import MAX_NAME, issue_token, revoke_token, token_name
from plugin.api.values import path_number
from plugin.keys import CLOCK, DATABASE, SETTINGS
from plugin.pages.guard import Pages, Visitor, render
from sync.store.api_tokens import tokens_of


async def tokens_page(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    return await _page(request, visitor)


async def _page(
    request: web.Request,
    visitor: Visitor,
    *,
    new_token: str | None = None,
    message: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    found = await tokens_of(request.app[DATABASE], visitor.me.user.id)
    base = request.app[SETTINGS].public_url.rstrip("/")
    return await render(
        request,
        visitor,
        "tokens.html",
        {
            "tokens": found,
            "new_token": new_token,
            "api_url": f"{base}/api/v1/installations",
            "max_name": MAX_NAME,
            "message": message,
            "error": error,
        },
        status=status,
    )


async def create(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    name = token_name(visitor.form.get("name", ""))
    if name is None:
        return await _page(request, visitor, error="token_name_invalid", status=422)
    db, now = request.app[DATABASE], request.app[CLOCK]()
    _, token = await issue_token(db, visitor.me.user, name, now=now)
    return await _page(request, visitor, new_token=token)


async def revoke(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    token_id = path_number(request.match_info["token_id"]) or 0
    db = request.app[DATABASE]
    own = {t.id for t in await tokens_of(db, visitor.me.user.id)}
    if token_id not in own:
        raise NotFound("not_found", "no token of yours with that id")
    await revoke_token(db, visitor.me.user, token_id, now=request.app[CLOCK]())
    return await _page(request, visitor, message="token_revoked")


def add_pages(pages: Pages) -> None:
    pages.signed_in("GET", "/settings/tokens", tokens_page)
    pages.signed_in("POST", "/settings/tokens", create)
    pages.signed_in("POST", "/settings/tokens/{token_id}/revoke", revoke)
