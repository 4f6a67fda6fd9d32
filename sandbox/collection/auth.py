"""Bearer tokens on /v1: who is calling, with which scopes.

Expired, unknown and revoked tokens all answer 401 ``invalid_token`` (``detail`` says which);
a missing scope answers 403 ``insufficient_scope``.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from sandbox.collection.problems import ApiError
from sandbox.collection.state import PARTNER_SCOPE, CollectionState


@dataclass(frozen=True)
class Principal:
    client_id: str
    account_id: str | None
    scope: tuple[str, ...]

    @property
    def bucket(self) -> str:
        return self.account_id or f"partner:{self.client_id}"


PRINCIPAL = web.RequestKey("principal", Principal)


def _unauthorized(detail: str) -> ApiError:
    return ApiError(
        401, "invalid_token", detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
    )


def authenticate(state: CollectionState, authorization: str | None) -> Principal:
    if not authorization or not authorization.startswith("Bearer "):
        raise _unauthorized("missing bearer token")
    token = state.access_tokens.get(authorization.removeprefix("Bearer ").strip())
    if token is None:
        raise _unauthorized("unknown token")
    if token.grant_id is not None and state.grants[token.grant_id].revoked:
        raise _unauthorized("grant revoked")
    if token.expires_at <= state.wall():
        raise _unauthorized("token expired")
    return Principal(token.client_id, token.account_id, token.scope)


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]


def require(request: web.Request, scope: str | None = None) -> str:
    """The calling account's id; 403 unless the token is an account token with ``scope``."""
    who = principal(request)
    if who.account_id is None:
        raise ApiError(403, "insufficient_scope", "an account token is required")
    if scope is not None and scope not in who.scope:
        raise ApiError(403, "insufficient_scope", f"the token lacks the scope {scope}")
    return who.account_id


def require_partner(request: web.Request) -> Principal:
    who = principal(request)
    if PARTNER_SCOPE not in who.scope:
        raise ApiError(403, "insufficient_scope", f"the token lacks the scope {PARTNER_SCOPE}")
    return who
