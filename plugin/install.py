"""Installing from e-conomic (DESIGN.md, journey step 1).

    GET  /install/economic           state cookie set, 302 to e-conomic's grant page
    GET  /install/economic/callback  ?token=<grant>: back from "Add app"
    GET  /install/economic/token     a form to paste a grant token (installs without a return URL)
    POST /install/economic/token     the pasted token, then exactly as the callback

State: e-conomic echoes no ``state`` parameter (contracts/economic.md), so the cookie alone
carries it: a signed, expiring nonce (`plugin.install_flow`), HttpOnly, SameSite=Lax (sent on
the top-level GET back from e-conomic and on our own form's POST, never on another site's POST),
Secure on https, scoped to ``/install/economic``. The form page sets a cookie of its own, so the
pasted-token POST is protected the same way (no separate CSRF token). The nonce is recorded
when the install begins and marked used in the transaction that stores the installation, so a
foreign or replayed state, like a missing, forged or expired one, gets a 400 page and nothing
is stored. A state is checked before the token is looked at, and the token before e-conomic is
asked; a refusal never names the token.

On success, in one transaction: the nonce is used up; the installation is created, or re-activated
with its id, key and history (tenant key = ``agreementNumber``); the grant is stored encrypted;
the installing user (``/self``'s ``user``) is found by e-mail or created and made the company's
admin; an access-lost problem (`plugin.lifecycle`) is resolved; an audit entry is written; a
new session starts. A reinstall then unparks the installation's jobs. The session is not handed
to the browser yet: it waits in a short-lived cookie (scoped to ``/install/economic``) until the
person confirms, on ``GET /install/economic/confirm``, the account and company they are signed
in to; the confirming ``POST`` carries the session's CSRF token, and only then does the session
cookie get set and the browser go to ``/onboarding/<agreement>``. Without that step a callback
another site sends a browser to, with that site's own grant token, would sign the browser in to
an account of the other site's choosing (login CSRF).
The ``/self`` call happens before the installation exists, so it is counted against the company's
e-conomic budget once the installation does.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging

import aiohttp_jinja2
import msgspec
from aiohttp import web

from plugin.install_flow import (
    STATE_LIFETIME,
    InstallError,
    grant_page_url,
    locale_for,
    new_nonce,
    read_state,
    sign_state,
    state_keys,
)
from plugin.keys import CLOCK, DATABASE, HTTP, QUEUE, SERVICES, SETTINGS
from plugin.lifecycle import ECONOMIC_AUTH_LOST
from plugin.sessions import (
    SESSION_COOKIE,
    open_session,
    secure_cookies,
    set_session_cookie,
    signed_in,
)
from plugin.settings import Secret, Settings
from sync.clients.economic import EconomicClient
from sync.clients.economic_types import SelfInfo
from sync.clients.economic_wire import PLATFORM
from sync.crypto import TokenCipher
from sync.errors import AuthLostError, PermanentError, TransientError
from sync.redaction import redacted, remember_secrets
from sync.store.accounts import Accounts
from sync.store.audit import AuditLog
from sync.store.db import Connection
from sync.store.economic_grants import EconomicGrants
from sync.store.install_states import InstallStates
from sync.store.installations import Installation, Installations
from sync.store.problems import Problems
from sync.store.sessions import Session, Sessions
from sync.store.usage import ApiUsage
from sync.store.users import User, Users

log = logging.getLogger(__name__)
STATE_COOKIE = "collectbridge_install"
COOKIE_PATH = "/install/economic"
STATES_KEPT = dt.timedelta(days=1)
PENDING_COOKIE = "collectbridge_install_session"
PENDING_LIFETIME = dt.timedelta(minutes=10)
CONFIRM_PATH = "/install/economic/confirm"
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@redacted("keys")
class Configured(msgspec.Struct, frozen=True, kw_only=True):
    """What an install needs from the settings, checked present (secrets print masked)."""

    cipher: TokenCipher
    keys: list[bytes]
    app_public_token: Secret
    app_secret_token: Secret


def _configured(app: web.Application) -> Configured:
    settings, cipher = app[SETTINGS], app[SERVICES].cipher
    public, secret = settings.economic_app_public_token, settings.economic_app_secret_token
    if cipher is None or public is None or secret is None:
        raise InstallError("not_configured")
    keys = state_keys([key.reveal() for key in settings.secret_keys])
    return Configured(cipher=cipher, keys=keys, app_public_token=public, app_secret_token=secret)


async def _issue_state(
    request: web.Request,
    response: web.StreamResponse,
    key: bytes,
    *,
    linking_user_id: int | None = None,
) -> None:
    """Record a new nonce (of the person who asked to link the company, if one did) and hand
    the browser its signed cookie."""
    now = request.app[CLOCK]()
    nonce = new_nonce()
    async with request.app[DATABASE].transaction() as tx:
        await InstallStates(tx).purge(before=now - STATES_KEPT)
        await InstallStates(tx).create(nonce, now=now, linking_user_id=linking_user_id)
    response.set_cookie(
        STATE_COOKIE,
        sign_state(nonce, key=key, now=now),
        max_age=int(STATE_LIFETIME.total_seconds()),
        path=COOKIE_PATH,
        httponly=True,
        samesite="Lax",
        secure=secure_cookies(request.app[SETTINGS]),
    )


def _redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location, **NO_STORE})


def _refused(request: web.Request, exc: InstallError) -> web.Response:
    log.info("install refused", extra={"code": exc.code})
    response = aiohttp_jinja2.render_template(
        "install_refused.html", request, {"message": exc.message, "code": exc.code}
    )
    response.set_status(exc.status)
    response.headers.update(NO_STORE)
    return response


async def begin(request: web.Request) -> web.Response:
    return await _to_grant_page(request, linking_user_id=None)


async def add_client_company(request: web.Request, user_id: int) -> web.Response:
    """ "Add a client company": the same install, asked for by a signed-in person's form (its
    CSRF token checked by the page guard), so that the company it installs joins theirs."""
    return await _to_grant_page(request, linking_user_id=user_id)


async def _to_grant_page(request: web.Request, *, linking_user_id: int | None) -> web.Response:
    try:
        config = _configured(request.app)
    except InstallError as exc:
        return _refused(request, exc)
    settings = request.app[SETTINGS]
    response = _redirect(
        grant_page_url(
            settings.economic_install_url,
            app_public_token=config.app_public_token.reveal(),
            public_url=settings.public_url,
            locale=locale_for(request.headers.get("Accept-Language")),
        )
    )
    await _issue_state(request, response, config.keys[0], linking_user_id=linking_user_id)
    return response


async def callback(request: web.Request) -> web.Response:
    return await _complete(request, request.query.get("token", ""), via="callback")


async def token_form(request: web.Request) -> web.Response:
    try:
        config = _configured(request.app)
    except InstallError as exc:
        return _refused(request, exc)
    response = aiohttp_jinja2.render_template("install_token.html", request, {})
    response.headers.update(NO_STORE)
    await _issue_state(request, response, config.keys[0])
    return response


async def token_submit(request: web.Request) -> web.Response:
    form = await request.post()
    token = form.get("token")
    return await _complete(request, token if isinstance(token, str) else "", via="token")


async def _complete(request: web.Request, token: str, *, via: str) -> web.Response:
    """The callback and the pasted token alike: check, ask e-conomic, store, sign in."""
    try:
        config = _configured(request.app)
        now = request.app[CLOCK]()
        nonce = read_state(request.cookies.get(STATE_COOKIE), keys=config.keys, now=now)
        await _check_open(request, nonce)
        token = token.strip()
        if not token:
            raise InstallError("token_missing")
        remember_secrets(token)  # masked in every log line from here on (access log included)
        me, calls = await _who_is(request, config, token)
        installation, session = await _record(request, config, me, token, nonce, via=via)
        if session is None:
            raise InstallError("account_exists")
    except InstallError as exc:
        return _refused(request, exc)
    usage = ApiUsage(request.app[DATABASE])
    for at in calls:
        await usage.record_api_call(installation.id, PLATFORM, at)
    log.info("installed", extra={"installation_id": installation.id, "via": via})
    response = _redirect(f"{CONFIRM_PATH}?agreement={installation.agreement_number}")
    _set_pending(response, session, request.app[SETTINGS])
    response.del_cookie(STATE_COOKIE, path=COOKIE_PATH)
    return response


def _set_pending(response: web.StreamResponse, session: str, settings: Settings) -> None:
    """The new session, held back until the person confirms who they sign in as (login CSRF:
    a callback another site sends the browser to, carrying the other site's grant, must not
    sign the browser in to an account of that site's choosing)."""
    response.set_cookie(
        PENDING_COOKIE,
        session,
        max_age=int(PENDING_LIFETIME.total_seconds()),
        path=COOKIE_PATH,
        httponly=True,
        samesite="Lax",
        secure=secure_cookies(settings),
    )


async def _pending(request: web.Request) -> tuple[Session, User, Installation]:
    """The held-back session of this browser and the company it was installed for."""
    token = request.cookies.get(PENDING_COOKIE, "")
    db, now = request.app[DATABASE], request.app[CLOCK]()
    session = await Sessions(db).get(token, now=now) if token else None
    user = await Users(db).get(session.user_id) if session else None
    agreement = request.query.get("agreement", "")
    if request.method == "POST":
        agreement = str((await request.post()).get("agreement", ""))
    installation = (
        await Installations(db).get_by_agreement(int(agreement))
        if agreement.isascii() and agreement.isdigit() and len(agreement) <= 18
        else None
    )
    if session is None or user is None or installation is None:
        raise InstallError("confirmation_expired")
    if await Users(db).role_in(user.id, installation.id) is None:
        raise InstallError("confirmation_expired")
    return session, user, installation


async def confirm_form(request: web.Request) -> web.Response:
    try:
        session, user, installation = await _pending(request)
    except InstallError as exc:
        return _refused(request, exc)
    response = aiohttp_jinja2.render_template(
        "install_confirm.html",
        request,
        {"user": user, "installation": installation, "csrf_token": session.csrf_token},
    )
    response.headers.update(NO_STORE)
    return response


async def confirm_submit(request: web.Request) -> web.Response:
    """The person confirmed: the held-back session becomes the browser's. The form's token is
    the session's CSRF token, and the cookie is SameSite=Lax, so only our own page can post it."""
    try:
        session, _, installation = await _pending(request)
        sent = (await request.post()).get("csrf_token")
        if not isinstance(sent, str) or not hmac.compare_digest(sent, session.csrf_token):
            raise InstallError("confirmation_expired")
    except InstallError as exc:
        return _refused(request, exc)
    # The browser's previous session ends now (rotation), not at the callback.
    previous = request.cookies.get(SESSION_COOKIE)
    if previous and previous != request.cookies[PENDING_COOKIE]:
        await Sessions(request.app[DATABASE]).delete(previous)
    onboarding = f"/onboarding/{installation.agreement_number}"
    # A second factor first, when the account has one.
    response = _redirect(
        onboarding if session.verified else f"/settings/login/code?next={onboarding}"
    )
    set_session_cookie(response, request.cookies[PENDING_COOKIE], request.app[SETTINGS])
    response.del_cookie(PENDING_COOKIE, path=COOKIE_PATH)
    return response


async def _check_open(request: web.Request, nonce: str) -> None:
    state = await InstallStates(request.app[DATABASE]).get(nonce)
    if state is None:
        raise InstallError("state_unknown")
    if state.used_at is not None:
        raise InstallError("state_used")


class _CallsBeforeInstall:
    """Counts e-conomic calls made before the installation exists; recorded once it does."""

    def __init__(self) -> None:
        self.at: list[dt.datetime] = []

    async def record_api_call(self, installation_id: int, platform: str, at: dt.datetime) -> None:
        self.at.append(at)

    async def budget_wait(
        self,
        installation_id: int,
        platform: str,
        *,
        limit: int,
        now: dt.datetime,
        window: dt.timedelta = dt.timedelta(hours=24),
    ) -> float:
        return 0.0


async def _who_is(
    request: web.Request, config: Configured, token: str
) -> tuple[SelfInfo, list[dt.datetime]]:
    """``GET /self`` with the grant: whose agreement it is and who granted it."""
    settings, calls = request.app[SETTINGS], _CallsBeforeInstall()
    client = EconomicClient(
        request.app[HTTP],
        base_url=settings.economic_api_url,
        openapi_url=settings.economic_openapi_url,
        app_secret_token=config.app_secret_token.reveal(),
        grant_token=token,
        installation_id=0,
        recorder=calls,
        daily_budget=None,
        attempts=3,
        backoff=0.2,
        backoff_max=2.0,
        now=request.app[CLOCK],
    )
    try:
        me = await client.self_info()
    except AuthLostError as exc:
        raise InstallError("grant_rejected") from exc
    except PermanentError as exc:
        raise InstallError("grant_refused") from exc
    except TransientError as exc:
        raise InstallError("economic_unavailable") from exc
    except msgspec.MsgspecError as exc:
        raise InstallError("economic_garbled") from exc
    if me.user is None or not (me.user.email or "").strip():
        raise InstallError("user_unknown")
    return me, calls.at


async def _record(
    request: web.Request, config: Configured, me: SelfInfo, token: str, nonce: str, *, via: str
) -> tuple[Installation, str | None]:
    """Everything an install stores, in one transaction; the installation and a session token.

    The e-mail e-conomic reports is the installer's word, not a proof: any agreement's user can
    carry any address. So it signs in only a new account, or one `_trusted` holds could only
    ever reach this company; otherwise the company is installed and nobody is signed in
    (session None): the person signs in with their password and an admin gives access. A
    person signed in here who asked for this install with "add a client company" (the nonce
    records them) becomes that company's admin themselves, whatever address e-conomic reports:
    one login across the companies they look after."""
    assert me.user is not None and me.user.email
    now = request.app[CLOCK]()
    current = await signed_in(request)
    async with request.app[DATABASE].transaction() as tx:
        # The nonce is used up here, not before asking e-conomic: a refused or failed /self
        # leaves it open for a retry, and of two racing callbacks only one gets past this line.
        if not await InstallStates(tx).use(nonce, now=now, since=now - STATE_LIFETIME):
            raise InstallError("state_used")
        installations = Installations(tx)
        before = await installations.get_by_agreement(me.agreement_number)
        installation = await installations.activate(
            agreement_number=me.agreement_number, company_name=me.company.name, now=now
        )
        await EconomicGrants(tx, config.cipher).save(installation.id, token, now=now)
        await Problems(tx).resolve_open(installation.id, ECONOMIC_AUTH_LOST, now=now)
        users = Users(tx)
        state = await InstallStates(tx).get(nonce)
        linking = (
            current is not None and state is not None and state.linking_user_id == current.user.id
        )
        user_id = None
        if linking:
            # "Add a client company": the person signed in asked for this install by a form,
            # and it came back in their session; it joins their companies, whatever address
            # e-conomic reports.
            assert current is not None
            user_id = current.user.id
        elif await _trusted(tx, me.user.email, installation.id):
            user_id = await users.find_or_create(email=me.user.email, name=me.user.name, now=now)
        if user_id is not None:
            await users.grant(user_id, installation.id, "admin", now=now)
        await AuditLog(tx).record(
            installation_id=installation.id,
            actor=current.user.email if linking and current else me.user.email.strip().lower(),
            action="installation.reinstalled" if before else "installation.installed",
            at=now,
            detail={
                "agreement_number": me.agreement_number,
                "company_name": me.company.name,
                "via": via,
                "previous_status": before.status if before else None,
                "signed_in": user_id is not None,
                "linked_to_signed_in": linking,
                "economic_user": me.user.email.strip().lower(),
            },
        )
        # The browser's own session is ended at the confirmation, not here: a callback another
        # site sends the browser to must not sign anybody out. A second factor still applies.
        session = (
            await open_session(
                tx,
                user_id=user_id,
                now=now,
                replacing=None,
                verified=(await Accounts(tx).credentials(user_id)).totp_secret is None,
            )
            if user_id is not None
            else None
        )
    if before is not None:  # a reinstall: what waited for access (or a resume) runs again
        await request.app[QUEUE].unpark_installation(installation.id, now=now)
    return installation, session


async def _trusted(tx: Connection, email: str, installation_id: int) -> bool:
    """Whether an install reporting ``email`` may sign that account in: a new one, or one that
    is a member of this company only and has neither password nor second factor (it has only
    ever come in this way, and signing it in opens nothing but this company, which the
    installer's own e-conomic grant already opens)."""
    existing = await Users(tx).get_by_email(email)
    if existing is None:
        return True
    accounts = Accounts(tx)
    credentials = await accounts.credentials(existing.id)
    return (
        credentials.password_hash is None
        and credentials.totp_secret is None
        and await Users(tx).role_in(existing.id, installation_id) is not None
        and await accounts.companies(existing.id) == 1
    )


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/install/economic", begin)
    app.router.add_get("/install/economic/callback", callback)
    app.router.add_get("/install/economic/token", token_form)
    app.router.add_post("/install/economic/token", token_submit)
    app.router.add_get(CONFIRM_PATH, confirm_form)
    app.router.add_post(CONFIRM_PATH, confirm_submit)
