"""Who is calling ``/api/v1``, and as what in which company.

Credentials, in this order:

1. ``Authorization: Bearer <token>``, a personal API token (`sync.store.api_tokens`). When the
   header is there it decides: a malformed header or a token we do not know is a 401, and a
   session cookie sent beside it is not looked at.
2. The session cookie of the settings pages (`plugin.sessions`). A method that can change
   something (anything but GET, HEAD, OPTIONS) must also carry the session's CSRF token in
   ``X-CSRF-Token``, or it is refused with 403: a cookie is sent by the browser on its own, a
   header only by our own pages' scripts.

Nothing at all → 401. Then, for a route about one company (``{agreement}`` in its path): a
company the caller is no member of answers 404 exactly as one that does not exist, so agreement
numbers cannot be probed; a member whose role is too low gets 403 (`require_role`).

The token is never logged and never part of an error; once it has proved valid it is
remembered for `sync.redaction.scrub`, so even a stray log line would show it masked.
"""

from __future__ import annotations

import hmac
from typing import Literal

import msgspec
from aiohttp import web

from plugin.api.errors import Forbidden, NotFound, Unauthenticated
from plugin.keys import CLOCK, DATABASE
from plugin.roles import allows
from plugin.sessions import SESSION_COOKIE, signed_in
from sync.redaction import remember_secrets
from sync.store.api_tokens import ApiTokens
from sync.store.installations import Installation, Installations
from sync.store.users import Role, User, Users

CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_AGREEMENT_DIGITS = 18  # agreement numbers are BIGINT; longer ones cannot exist


class Caller(msgspec.Struct, frozen=True, kw_only=True):
    user: User
    via: Literal["token", "session"]


class Member(msgspec.Struct, frozen=True, kw_only=True):
    """A caller inside one company they are a member of."""

    caller: Caller
    installation: Installation
    role: Role


def bearer_token(header: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None when malformed."""
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


def agreement_number(text: str) -> int | None:
    """The agreement number of a path segment; None for anything that cannot be one."""
    if not text.isascii() or not text.isdigit() or len(text) > MAX_AGREEMENT_DIGITS:
        return None
    return int(text)


def check_csrf(method: str, sent: str | None, expected: str) -> None:
    """Refuse (403) a cookie-authenticated call that can change something and does not carry
    the session's CSRF token."""
    if method in SAFE_METHODS:
        return
    if not hmac.compare_digest((sent or "").encode(), expected.encode()):
        raise Forbidden("csrf_failed", f"a cookie-authenticated call needs {CSRF_HEADER}")


def require_role(role: Role, needed: Role) -> None:
    """Refuse (403) a member whose role is below ``needed``."""
    if not allows(role, needed):
        raise Forbidden("role_required", f"this needs the {needed} role in the company")


async def authenticate(request: web.Request) -> Caller:
    header = request.headers.get("Authorization")
    if header is not None:
        return await _by_token(request, header)
    if request.cookies.get(SESSION_COOKIE):
        return await _by_session(request)
    raise Unauthenticated(
        "authentication_required", "send a personal API token as Authorization: Bearer <token>"
    )


async def _by_token(request: web.Request, header: str) -> Caller:
    token = bearer_token(header)
    found = await ApiTokens(request.app[DATABASE]).find(token) if token else None
    if token is None or found is None:
        raise Unauthenticated(
            "invalid_token", "the API token is malformed, unknown or revoked", token_presented=True
        )
    remember_secrets(token)
    await ApiTokens(request.app[DATABASE]).touch(found.id, now=request.app[CLOCK]())
    return Caller(user=found.user, via="token")


async def _by_session(request: web.Request) -> Caller:
    me = await signed_in(request)
    if me is None:
        raise Unauthenticated("invalid_session", "the session has expired; sign in again")
    check_csrf(request.method, request.headers.get(CSRF_HEADER), me.session.csrf_token)
    return Caller(user=me.user, via="session")


async def member(request: web.Request, caller: Caller, agreement: str, needed: Role) -> Member:
    """The caller as a member of the company of ``agreement`` with at least ``needed``."""
    db = request.app[DATABASE]
    number = agreement_number(agreement)
    installations = Installations(db)
    installation = await installations.get_by_agreement(number) if number is not None else None
    role = await Users(db).role_in(caller.user.id, installation.id) if installation else None
    if installation is None or role is None:
        raise NotFound("not_found", "no installation with that agreement number")
    require_role(role, needed)
    return Member(caller=caller, installation=installation, role=role)
