"""Personal API tokens: ``GET /api/v1/tokens``, ``POST /api/v1/tokens``,
``DELETE /api/v1/tokens/{token_id}``.

A list shows the caller's own tokens (name and times, never the token: only its hash is kept).
``POST {name}`` makes a new one and answers it once, 201 — it cannot be shown again. A caller
revokes their own tokens, and an admin of a company those of its members; any other id, and
one that does not exist, is 404 (the same answer). Revoking the token the call itself carries
is allowed: the answer is the last thing it authenticates. Each creation and revocation is in the
audit log (by e-mail, without the token).
"""

from __future__ import annotations

import datetime as dt

import msgspec
from aiohttp import web

from plugin.api import shapes
from plugin.api.auth import Caller
from plugin.api.errors import Invalid, NotFound
from plugin.api.registry import Api, number_in_path, reply
from plugin.keys import CLOCK, DATABASE
from sync.store.api_tokens import ApiTokens, may_revoke, new_token, revoke, tokens_of
from sync.store.audit import AuditLog
from sync.store.db import Connection
from sync.store.users import User

MAX_NAME = 100
TOKEN_ID = number_in_path("token_id", "The token's id (from the list)")


async def list_tokens(request: web.Request, caller: Caller) -> web.Response:
    found = await tokens_of(request.app[DATABASE], caller.user.id)
    items = [shapes.TokenView(**msgspec.structs.asdict(t)) for t in found]
    return reply(shapes.TokenList(items=items))


async def create_token(request: web.Request, caller: Caller) -> web.Response:
    try:
        body = msgspec.json.decode(await request.read(), type=shapes.TokenRequest)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise Invalid("invalid_body", f"the body is not {{name}}: {exc}") from None
    name = token_name(body.name)
    if name is None:
        raise Invalid("invalid_body", f"name: 1 to {MAX_NAME} characters")
    now = request.app[CLOCK]()
    token_id, token = await issue_token(request.app[DATABASE], caller.user, name, now=now)
    return reply(shapes.NewToken(id=token_id, name=name, token=token, created_at=now), status=201)


async def delete_token(request: web.Request, caller: Caller) -> web.Response:
    text = request.match_info["token_id"]
    token_id = int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else 0
    db = request.app[DATABASE]
    if not token_id or not await may_revoke(db, caller.user.id, token_id):
        raise NotFound("not_found", "no token with that id")
    await revoke_token(db, caller.user, token_id, now=request.app[CLOCK]())
    return web.Response(status=204)


# Shared with the settings page for tokens (`plugin.pages.tokens`).


def token_name(raw: str) -> str | None:
    """The name a token is given, trimmed; None when empty, over `MAX_NAME` or holding a NUL
    (which PostgreSQL cannot store in text)."""
    name = raw.strip()
    return name if name and len(name) <= MAX_NAME and "\x00" not in name else None


async def issue_token(
    db: Connection, user: User, name: str, *, now: dt.datetime
) -> tuple[int, str]:
    """A new token for ``user``, recorded in the audit log (without the token): id and token."""
    token = new_token()
    token_id = await ApiTokens(db).create(user_id=user.id, token=token, name=name, now=now)
    await AuditLog(db).record(
        installation_id=None,
        actor=user.email,
        action="api_token.created",
        at=now,
        detail={"token_id": token_id, "name": name},
    )
    return token_id, token


async def revoke_token(db: Connection, user: User, token_id: int, *, now: dt.datetime) -> None:
    """Revoke a token ``user`` may revoke (checked by the caller), in the audit log."""
    await revoke(db, token_id)
    await AuditLog(db).record(
        installation_id=None,
        actor=user.email,
        action="api_token.revoked",
        at=now,
        detail={"token_id": token_id},
    )


def add_routes(api: Api) -> None:
    api.caller_route(
        "GET",
        "/tokens",
        list_tokens,
        summary="The caller's personal API tokens (names and times; never the tokens)",
        response=shapes.TokenList,
    )
    api.caller_route(
        "POST",
        "/tokens",
        create_token,
        summary="A new personal API token (body {name}), answered once with 201",
        response=shapes.NewToken,
        status=201,
        body=shapes.TokenRequest,
    )
    api.caller_route(
        "DELETE",
        "/tokens/{token_id}",
        delete_token,
        summary="Revoke a token: one's own, or (admins) one of a member of their companies",
        response=None,
        params=(TOKEN_ID,),
        status=204,
    )
