"""Signing in and out, the second factor, password resets, invitations and one's own account.

    GET|POST /settings/login                  e-mail and password (public)
    GET|POST /settings/login/code             the TOTP code, when the account has one
    POST     /settings/logout                 ends the session
    GET|POST /settings/password/forgot        asks for a reset link (public)
    GET|POST /settings/password/reset/{token} a new password by an expiring link (public)
    GET|POST /settings/invite/{token}         accept an invitation (public)
    GET      /settings/language/{language}    the language of the pages (public)
    GET|POST /settings/account                name, language, password, second factor

The sign-in form carries a token bound to a cookie of its own (the browser has no session to
bind it to yet), so another site cannot sign a browser in to an account of its choosing.
Failed attempts are counted per e-mail and per client address over 15 minutes (5 and 30
allowed; behind reverse proxies the address is X-Forwarded-For's, as many hops from the right
as ``COLLECTBRIDGE_FORWARDED_HOPS`` says: `client_address`); past that the form answers 429
whatever the password, so guessing is slow even across many addresses or many accounts.
Every successful sign-in opens a new session (ending the browser's previous one), and so does
passing the second factor, so a session id known before never signs anybody in. Answers
never tell whether an e-mail has an account.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import logging
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web

from plugin.credentials import (
    PasswordRefused,
    check_new_password,
    hash_password,
    needs_rehash,
    new_totp_key,
    totp_step,
    totp_uri,
    verify_password,
    verify_totp,
)
from plugin.keys import CLOCK, DATABASE, SERVICES, SETTINGS
from plugin.pages.guard import NO_STORE, Pages, Visitor, render
from plugin.pages.texts import LANGUAGE_COOKIE, LANGUAGES, language_of, translator
from plugin.sessions import (
    SESSION_COOKIE,
    open_session,
    secure_cookies,
    session_of,
    set_session_cookie,
    signed_in,
)
from sync.store.accounts import Accounts, Invitations, PasswordResets
from sync.store.audit import AuditLog
from sync.store.sessions import Sessions
from sync.store.users import Users, normal_email

log = logging.getLogger(__name__)
LOGIN_COOKIE = "collectbridge_login"
FAILURE_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_ADDRESS = 30
RESET_LIFETIME = dt.timedelta(hours=1)
LOGIN_NOTICES = frozenset({"password_reset", "joined"})
_MAILING: set[asyncio.Task[bool]] = set()  # mails on their way (a reference keeps each alive)


def totp_context(user_id: int) -> bytes:
    """What a TOTP key's encryption is bound to: a key copied to another user's row fails."""
    return f"totp:{user_id}".encode()


def local_path(target: str | None, default: str = "/settings") -> str:
    """``target`` when it is a path on this site, else ``default`` (no open redirect)."""
    if not target:
        return default
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target if "\\" not in target else default


def _plain(
    request: web.Request, template: str, context: Mapping[str, Any], *, status: int = 200
) -> web.Response:
    language = language_of(request)
    frame = {"t": translator(language), "lang": language, "path": request.path_qs}
    response = aiohttp_jinja2.render_template(template, request, {**frame, **context})
    response.set_status(status)
    response.headers.update(NO_STORE)
    return response


def client_address(request: web.Request, hops: int) -> str:
    """The client's address: the peer's, or behind ``hops`` trusted proxies the address the
    outermost of them saw (X-Forwarded-For's ``hops``-th entry from the right; what a client
    writes further left is its own claim and never trusted)."""
    if hops > 0:
        seen = [
            a.strip() for h in request.headers.getall("X-Forwarded-For", []) for a in h.split(",")
        ]
        if len(seen) >= hops and seen[-hops]:
            return seen[-hops]
    return request.remote or "unknown"


def _client(request: web.Request) -> str:
    return f"address:{client_address(request, request.app[SETTINGS].forwarded_hops)}"


async def _form(request: web.Request) -> dict[str, str]:
    return {k: v for k, v in (await request.post()).items() if isinstance(v, str)}


# Signing in ---------------------------------------------------------------------------------


async def login_form(request: web.Request) -> web.StreamResponse:
    if await signed_in(request) is not None:
        raise web.HTTPSeeOther(local_path(request.query.get("next")))
    done = request.query.get("done")
    return _login_page(
        request, error=None, status=200, email="", done=done if done in LOGIN_NOTICES else None
    )


def _login_page(
    request: web.Request, *, error: str | None, status: int, email: str, done: str | None = None
) -> web.Response:
    token = secrets.token_urlsafe(24)
    response = _plain(
        request,
        "login.html",
        {
            "login_token": token,
            "next": local_path(request.query.get("next")),
            "error": error,
            "email": email,
            "done": f"done_{done}" if done else None,
        },
        status=status,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=3600,
        path="/settings/login",
        httponly=True,
        samesite="Lax",
        secure=secure_cookies(request.app[SETTINGS]),
    )
    return response


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not cookie or not hmac.compare_digest(form.get("login_token", "").encode(), cookie.encode()):
        return _login_page(request, error="forbidden_csrf", status=403, email="")
    email = normal_email(form.get("email", ""))[:320]
    db, now = request.app[DATABASE], request.app[CLOCK]()
    accounts = Accounts(db)
    since = now - FAILURE_WINDOW
    by_email, by_address = f"email:{email}", _client(request)
    if (
        await accounts.failures(by_email, since=since) >= MAX_FAILURES_PER_EMAIL
        or await accounts.failures(by_address, since=since) >= MAX_FAILURES_PER_ADDRESS
    ):
        return _login_page(request, error="too_many_attempts", status=429, email=email)
    user = await Users(db).get_by_email(email) if email else None
    stored = (await accounts.credentials(user.id)).password_hash if user else None
    password = form.get("password", "")
    if user is None or not verify_password(stored, password):
        await accounts.record_failure(by_email, at=now)
        await accounts.record_failure(by_address, at=now)
        return _login_page(request, error="sign_in_failed", status=401, email=email)
    assert stored is not None
    await accounts.clear_failures(by_email)
    if needs_rehash(stored):
        await accounts.set_password_hash(user.id, hash_password(password))
    second_factor = (await accounts.credentials(user.id)).totp_secret is not None
    token = await open_session(
        db,
        user_id=user.id,
        now=now,
        replacing=request.cookies.get(SESSION_COOKIE),
        verified=not second_factor,
    )
    target = local_path(form.get("next"))
    if second_factor:
        target = f"/settings/login/code?next={target}"
    response = web.HTTPSeeOther(target)
    set_session_cookie(response, token, request.app[SETTINGS])
    response.del_cookie(LOGIN_COOKIE, path="/settings/login")
    raise response


async def code_form(request: web.Request) -> web.StreamResponse:
    pending = await session_of(request)
    if pending is None or pending.session.verified:
        raise web.HTTPSeeOther("/settings/login")
    return _plain(
        request,
        "login_code.html",
        {
            "csrf_token": pending.session.csrf_token,
            "next": local_path(request.query.get("next")),
            "error": None,
        },
    )


async def code_submit(request: web.Request) -> web.StreamResponse:
    pending = await session_of(request)
    if pending is None or pending.session.verified:
        raise web.HTTPSeeOther("/settings/login")
    form = await _form(request)
    if not hmac.compare_digest(
        form.get("csrf_token", "").encode(), pending.session.csrf_token.encode()
    ):
        return _plain(request, "refusal.html", {"title": "403", "message": ""}, status=403)
    db, now = request.app[DATABASE], request.app[CLOCK]()
    accounts = Accounts(db)
    subject = f"code:{pending.user.id}"
    if await accounts.failures(subject, since=now - FAILURE_WINDOW) >= MAX_FAILURES_PER_EMAIL:
        await Sessions(db).delete(request.cookies[SESSION_COOKIE])
        raise web.HTTPSeeOther("/settings/login")
    credentials = await accounts.credentials(pending.user.id)
    encrypted, cipher = credentials.totp_secret, request.app[SERVICES].cipher
    key = (
        cipher.decrypt(encrypted, context=totp_context(pending.user.id))
        if encrypted and cipher is not None
        else None
    )
    step = (
        totp_step(key, form.get("code", ""), at=now, after=credentials.totp_last_step)
        if key is not None
        else None
    )
    if step is None or not await accounts.use_totp_step(pending.user.id, step):
        await accounts.record_failure(subject, at=now)
        return _plain(
            request,
            "login_code.html",
            {
                "csrf_token": pending.session.csrf_token,
                "next": local_path(form.get("next")),
                "error": "code_wrong",
            },
            status=401,
        )
    await accounts.clear_failures(subject)
    token = await open_session(
        db, user_id=pending.user.id, now=now, replacing=request.cookies.get(SESSION_COOKIE)
    )
    response = web.HTTPSeeOther(local_path(form.get("next")))
    set_session_cookie(response, token, request.app[SETTINGS])
    raise response


async def logout(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    await Sessions(request.app[DATABASE]).delete(request.cookies[SESSION_COOKIE])
    response = web.HTTPSeeOther("/settings/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


# Password resets ---------------------------------------------------------------------------


async def forgot_form(request: web.Request) -> web.StreamResponse:
    return _plain(request, "password_forgot.html", {"sent": False})


async def forgot_submit(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    email = normal_email(form.get("email", ""))[:320]
    db, now = request.app[DATABASE], request.app[CLOCK]()
    accounts = Accounts(db)
    subject = f"reset:{email}"
    allowed = await accounts.failures(subject, since=now - FAILURE_WINDOW) < MAX_FAILURES_PER_EMAIL
    user = await Users(db).get_by_email(email) if email and allowed else None
    if user is not None:
        await accounts.record_failure(subject, at=now)  # counts requests, so links cannot flood
        link = await reset_link(request.app, user.id, now=now)
        t = translator(language_of(request, user.language))
        # Sent in the background: the answer takes no longer for a real account.
        mailing = asyncio.create_task(
            _mail(
                request.app,
                to=user.email,
                subject=t("reset_title"),
                text=f"{t('forgot_text')}\n\n{link}\n",
            )
        )
        _MAILING.add(mailing)
        mailing.add_done_callback(_MAILING.discard)
    return _plain(request, "password_forgot.html", {"sent": True})


async def reset_link(app: web.Application, user_id: int, *, now: dt.datetime) -> str:
    """A new one-hour link that lets ``user_id`` choose a password (also made by admins)."""
    token = secrets.token_urlsafe(32)
    await PasswordResets(app[DATABASE]).create(
        token=token, user_id=user_id, now=now, expires_at=now + RESET_LIFETIME
    )
    return f"{app[SETTINGS].public_url.rstrip('/')}/settings/password/reset/{token}"


async def _mail(app: web.Application, *, to: str, subject: str, text: str) -> bool:
    from plugin.notices import send_mail

    return await send_mail(app[SETTINGS], to=to, subject=subject, text=text)


async def reset_form(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    user_id = await PasswordResets(request.app[DATABASE]).user_of(token, now=request.app[CLOCK]())
    if user_id is None:
        return _plain(
            request,
            "refusal.html",
            {"title": "", "message": translator(language_of(request))("link_expired")},
            status=404,
        )
    return _plain(request, "password_reset.html", {"error": None})


async def reset_submit(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    db, now = request.app[DATABASE], request.app[CLOCK]()
    t = translator(language_of(request))
    form = await _form(request)
    user_id = await PasswordResets(db).user_of(token, now=now)
    user = await Users(db).get(user_id) if user_id is not None else None
    if user is None:
        return _plain(
            request, "refusal.html", {"title": "", "message": t("link_expired")}, status=404
        )
    error = _new_password_error(form, email=user.email)
    if error:
        return _plain(request, "password_reset.html", {"error": error}, status=422)
    async with db.transaction() as tx:
        if await PasswordResets(tx).use(token, now=now) is None:
            return _plain(
                request, "refusal.html", {"title": "", "message": t("link_expired")}, status=404
            )
        await Accounts(tx).set_password_hash(user.id, hash_password(form["password"]))
        await Sessions(tx).end_all(user.id)
        await AuditLog(tx).record(
            installation_id=None, actor=user.email, action="user.password_reset", at=now
        )
    # Signed in by the new password (and second factor), not by the link: a form another site
    # posts to its own link must not sign the browser in (login CSRF).
    raise web.HTTPSeeOther("/settings/login?done=password_reset")


def _new_password_error(form: Mapping[str, str], *, email: str) -> str | None:
    password = form.get("password", "")
    if password != form.get("repeat", ""):
        return "passwords_differ"
    try:
        check_new_password(password, email=email)
    except PasswordRefused as exc:
        return exc.code
    return None


# Invitations -------------------------------------------------------------------------------


async def invite_form(request: web.Request) -> web.StreamResponse:
    return await _invite_page(request, error=None, status=200)


async def _invite_page(request: web.Request, *, error: str | None, status: int) -> web.Response:
    db, now = request.app[DATABASE], request.app[CLOCK]()
    token = request.match_info["token"]
    invitation = await Invitations(db).find(token, now=now)
    t = translator(language_of(request))
    if invitation is None:
        return _plain(
            request, "refusal.html", {"title": "", "message": t("link_expired")}, status=404
        )
    existing = await Users(db).get_by_email(invitation.email)
    me = await signed_in(request)
    return _plain(
        request,
        "invite.html",
        {
            "invitation": invitation,
            "existing": existing is not None,
            "signed_in_as_invitee": me is not None
            and existing is not None
            and me.user.id == existing.id,
            "csrf_token": me.session.csrf_token if me else "",
            "sign_in_url": f"/settings/login?next=/settings/invite/{token}",
            "error": error,
        },
        status=status,
    )


async def invite_submit(request: web.Request) -> web.StreamResponse:
    """A new person chooses a password (the account is made; they sign in with it); a person
    who has an account accepts while signed in as it, with their session's CSRF token. Nobody
    is signed in by the link itself, and no existing account's password is ever set here."""
    db, now = request.app[DATABASE], request.app[CLOCK]()
    token = request.match_info["token"]
    form = await _form(request)
    invitation = await Invitations(db).find(token, now=now)
    if invitation is None:
        return await _invite_page(request, error=None, status=404)
    existing = await Users(db).get_by_email(invitation.email)
    if existing is not None:
        me = await signed_in(request)
        if me is None or me.user.id != existing.id:
            raise web.HTTPSeeOther(f"/settings/login?next=/settings/invite/{token}")
        if not hmac.compare_digest(
            form.get("csrf_token", "").encode(), me.session.csrf_token.encode()
        ):
            return await _invite_page(request, error="forbidden_csrf", status=403)
        if await Users(db).role_in(existing.id, invitation.installation_id) is not None:
            # Joining twice changes no role: the users page does that, under its rules.
            return await _invite_page(request, error="invite_already_member", status=409)
    else:
        error = _new_password_error(form, email=invitation.email)
        if error:
            return await _invite_page(request, error=error, status=422)
    async with db.transaction() as tx:
        if not await Invitations(tx).accept(invitation.id, now=now):
            return await _invite_page(request, error=None, status=404)
        users = Users(tx)
        user_id = (
            existing.id
            if existing
            else await users.find_or_create(
                email=invitation.email, name=form.get("name", "")[:200], now=now
            )
        )
        if existing is None:
            await Accounts(tx).set_password_hash(user_id, hash_password(form["password"]))
        await users.grant(user_id, invitation.installation_id, invitation.role, now=now)
        await AuditLog(tx).record(
            installation_id=invitation.installation_id,
            actor=invitation.email,
            action="user.joined",
            at=now,
            detail={"role": invitation.role, "invitation_id": invitation.id},
        )
    if existing is not None:
        raise web.HTTPSeeOther(f"/settings/{invitation.agreement_number}")
    raise web.HTTPSeeOther(
        f"/settings/login?done=joined&next=/settings/{invitation.agreement_number}"
    )


# Language and one's own account ------------------------------------------------------------


async def choose_language(request: web.Request) -> web.StreamResponse:
    language = request.match_info["language"]
    if language not in LANGUAGES:
        raise web.HTTPNotFound()
    response = web.HTTPSeeOther(local_path(request.query.get("next")))
    response.set_cookie(
        LANGUAGE_COOKIE,
        language,
        max_age=365 * 86400,
        path="/",
        samesite="Lax",
        secure=secure_cookies(request.app[SETTINGS]),
        httponly=True,
    )
    me = await signed_in(request)
    if me is not None:
        await Accounts(request.app[DATABASE]).set_language(me.user.id, language)
    raise response


ACCOUNT_NOTICES = frozenset({"account_saved", "two_factor_on"})


async def account_page(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    done = request.query.get("done")
    return await _account(
        request, visitor, message=done if done in ACCOUNT_NOTICES else None, error=None
    )


async def _account(
    request: web.Request,
    visitor: Visitor,
    *,
    message: str | None,
    error: str | None,
    setup_key: str | None = None,
    status: int = 200,
) -> web.Response:
    credentials = await Accounts(request.app[DATABASE]).credentials(visitor.me.user.id)
    return await render(
        request,
        visitor,
        "account.html",
        {
            "has_password": credentials.password_hash is not None,
            "two_factor": credentials.totp_secret is not None,
            "setup_key": setup_key,
            "setup_uri": totp_uri(setup_key, email=visitor.me.user.email) if setup_key else None,
            "message": message,
            "error": error,
        },
        status=status,
    )


async def account_submit(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    """One form per concern on the page, told apart by its ``action`` field."""
    form, user = visitor.form, visitor.me.user
    db, now = request.app[DATABASE], request.app[CLOCK]()
    accounts = Accounts(db)
    credentials = await accounts.credentials(user.id)
    action = form.get("action")
    if action == "profile":
        await accounts.set_name(user.id, form.get("name", "")[:200])
        if form.get("language") in LANGUAGES:
            await accounts.set_language(user.id, form["language"])
        return await _account(request, visitor, message="account_saved", error=None)
    needs_current = credentials.password_hash is not None
    if needs_current and not verify_password(credentials.password_hash, form.get("current", "")):
        return await _account(request, visitor, message=None, error="password_wrong", status=401)
    if action == "password":
        error = _new_password_error(form, email=user.email)
        if error:
            return await _account(request, visitor, message=None, error=error, status=422)
        await accounts.set_password_hash(user.id, hash_password(form["password"]))
        await AuditLog(db).record(
            installation_id=None, actor=user.email, action="user.password_changed", at=now
        )
        return await _only_this_browser(request, done="account_saved")
    if action == "totp_start":
        return await _account(request, visitor, message=None, error=None, setup_key=new_totp_key())
    if action == "totp_confirm":
        key = form.get("key", "")
        if not verify_totp(key, form.get("code", ""), at=now):
            return await _account(
                request,
                visitor,
                message=None,
                error="code_wrong",
                setup_key=key or None,
                status=422,
            )
        cipher = request.app[SERVICES].cipher
        if cipher is None:  # no COLLECTBRIDGE_SECRET_KEY: nothing to keep the key safe with
            return await _account(
                request, visitor, message=None, error="two_factor_unavailable", status=503
            )
        await accounts.set_totp_secret(user.id, cipher.encrypt(key, context=totp_context(user.id)))
        await AuditLog(db).record(
            installation_id=None, actor=user.email, action="user.two_factor_on", at=now
        )
        return await _only_this_browser(request, done="two_factor_on")
    if action == "totp_off":
        await accounts.set_totp_secret(user.id, None)
        await AuditLog(db).record(
            installation_id=None, actor=user.email, action="user.two_factor_off", at=now
        )
        return await _account(request, visitor, message="account_saved", error=None)
    raise web.HTTPBadRequest()


async def _only_this_browser(request: web.Request, *, done: str) -> web.StreamResponse:
    """After a new password or second factor: every session of the person ends (a browser
    someone else signed in with is out), and this browser gets a new one (the account page
    again, its forms with the new session's CSRF token)."""
    response = web.HTTPSeeOther(f"/settings/account?done={done}")
    me = await signed_in(request)
    assert me is not None
    db, now = request.app[DATABASE], request.app[CLOCK]()
    async with db.transaction() as tx:
        await Sessions(tx).end_all(me.user.id)
        token = await open_session(tx, user_id=me.user.id, now=now, replacing=None)
    set_session_cookie(response, token, request.app[SETTINGS])
    raise response


def add_pages(pages: Pages) -> None:
    pages.public("GET", "/settings/login", login_form)
    pages.public("POST", "/settings/login", login_submit)
    pages.public("GET", "/settings/login/code", code_form)
    pages.public("POST", "/settings/login/code", code_submit)
    pages.signed_in("POST", "/settings/logout", logout)
    pages.public("GET", "/settings/password/forgot", forgot_form)
    pages.public("POST", "/settings/password/forgot", forgot_submit)
    pages.public("GET", "/settings/password/reset/{token}", reset_form)
    pages.public("POST", "/settings/password/reset/{token}", reset_submit)
    pages.public("GET", "/settings/invite/{token}", invite_form)
    pages.public("POST", "/settings/invite/{token}", invite_submit)
    pages.public("GET", "/settings/language/{language}", choose_language)
    pages.signed_in("GET", "/settings/account", account_page)
    pages.signed_in("POST", "/settings/account", account_submit)
