"""Signing people in: a server-side session (`sync.store.sessions`) behind an HttpOnly cookie.

A sign-in always opens a new session and ends the one the browser came with, so a session id
planted before sign-in (fixation) is worth nothing afterwards. The cookie is HttpOnly and
SameSite=Lax, and Secure whenever ``COLLECTBRIDGE_PUBLIC_URL`` is https.
"""

from __future__ import annotations

import datetime as dt
import secrets

import msgspec
from aiohttp import web

from plugin.keys import CLOCK, DATABASE
from plugin.settings import Settings
from sync.store.db import Connection
from sync.store.sessions import Session, Sessions
from sync.store.users import User, Users

SESSION_COOKIE = "collectbridge_session"
SESSION_LIFETIME = dt.timedelta(hours=12)
SECOND_FACTOR_WINDOW = dt.timedelta(minutes=10)


class SignedIn(msgspec.Struct, frozen=True, kw_only=True):
    user: User
    session: Session


def secure_cookies(settings: Settings) -> bool:
    return settings.public_url.startswith("https://")


async def open_session(
    conn: Connection,
    *,
    user_id: int,
    now: dt.datetime,
    replacing: str | None,
    verified: bool = True,
) -> str:
    """Start a session for ``user_id`` (ending ``replacing``, the browser's old one); its token.
    An unverified session waits for the second factor and signs nobody in meanwhile."""
    sessions = Sessions(conn)
    if replacing:
        await sessions.delete(replacing)
    token = secrets.token_urlsafe(32)
    await sessions.create(
        token=token,
        user_id=user_id,
        csrf_token=secrets.token_urlsafe(32),
        now=now,
        expires_at=now + (SESSION_LIFETIME if verified else SECOND_FACTOR_WINDOW),
        verified=verified,
    )
    return token


def set_session_cookie(response: web.StreamResponse, token: str, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="Lax",
        secure=secure_cookies(settings),
    )


async def signed_in(request: web.Request) -> SignedIn | None:
    """Who the request's session cookie signs in, or None (no cookie, unknown, expired, or
    still waiting for its second factor)."""
    found = await session_of(request)
    return found if found is not None and found.session.verified else None


async def session_of(request: web.Request) -> SignedIn | None:
    """The session of the request's cookie, verified or not (the second-factor step)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    db = request.app[DATABASE]
    session = await Sessions(db).get(token, now=request.app[CLOCK]())
    user = await Users(db).get(session.user_id) if session else None
    return SignedIn(user=user, session=session) if session and user else None
