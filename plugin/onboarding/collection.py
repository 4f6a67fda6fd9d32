"""Onboarding's collection step: a new collection account through the partner API, or the link
to one the company already has (OAuth 2.0 authorization code with PKCE S256).

Create (contracts/collection-api.md): ``POST /v1/accounts`` with the company as e-conomic's
``/self`` describes it, ``external_ref: "economic:<agreement>"``, under
``Idempotency-Key: account:<agreement>:<digest of the body>`` (a retry after a crash gets the
same account and grant back; a changed body is a new request, and the platform's uniqueness of
``external_ref`` still stops a second account). The grant that comes with it is stored before
anything uses it; the installation's collection link is then ``ok`` with the account's id.
``409 account_exists`` → the link flow instead, answered as ``account_exists``. An account we
knew before (a lost link, or a disconnect that revoked our grant) is never created again: the
company links it.

Link: a state and a PKCE verifier (`sync.clients.collection_auth.authorization_request`),
recorded server-side with the choices to continue with (`sync.store.link_states`); the browser
goes to the platform's authorize page and comes back to ``GET /install/collection/callback``,
where `complete_link` uses the state up once, exchanges the code and stores the grant. A state
that is missing, unknown (forged), used (replayed) or older than `LINK_LIFETIME`, a denied
consent or a refused code store nothing (`LinkRefused`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import TYPE_CHECKING, Literal

import msgspec

from plugin.connections import TOKEN_TIMEOUT, Connections
from plugin.onboarding.choices import CollectionChoice, OnboardingChoices
from sync.clients.collection import create_account
from sync.clients.collection_auth import (
    authorization_request,
    code_request_body,
    request_tokens,
    save_created_grant,
    stored_from_response,
)
from sync.clients.collection_types import NewAccount
from sync.clients.economic import EconomicClient
from sync.clients.economic_types import SelfInfo
from sync.errors import (
    ConfigurationError,
    ConflictError,
    PermanentError,
    SyncError,
    TransientError,
)
from sync.store.audit import AuditLog
from sync.store.installations import Installation, Installations
from sync.store.link_states import LinkState, LinkStates

if TYPE_CHECKING:
    from plugin.bootstrap import Services

CALLBACK_PATH = "/install/collection/callback"
LINK_LIFETIME = dt.timedelta(minutes=30)
LINK_STATES_KEPT = dt.timedelta(days=1)
SCOPES = "debtors:write claims:write cases:read payments:write events:read webhooks:manage"
# e-conomic's /self names no ISO country; its agreements are Danish, Norwegian or Swedish.
COUNTRY_OF_CURRENCY = {"NOK": "NO", "SEK": "SE"}
_encoder = msgspec.json.Encoder(order="sorted")


class Linking(msgspec.Struct, frozen=True, kw_only=True):
    """The browser must go to the platform: asked for (``link``) or needed (``account_exists``)."""

    code: Literal["link", "account_exists"]
    authorize_url: str


def cvr_of(identification: str | None) -> str | None:
    """A Danish CVR number (8 digits) from e-conomic's company identification, else None."""
    digits = re.sub(r"[\s-]", "", identification or "").upper().removeprefix("DK")
    return digits if re.fullmatch(r"\d{8}", digits) else None


def new_account(me: SelfInfo) -> NewAccount:
    """The partner API's account for the company e-conomic's ``/self`` describes."""
    email = me.company.email or (me.user.email if me.user else None) or ""
    currency = me.settings.base_currency.upper()
    return NewAccount(
        name=me.company.name,
        country=COUNTRY_OF_CURRENCY.get(currency, "DK"),
        email=email.strip(),
        base_currency=currency,
        external_ref=f"economic:{me.agreement_number}",
        cvr=cvr_of(me.company.company_identification_number),
    )


def account_key(account: NewAccount) -> str:
    body = hashlib.sha256(_encoder.encode(account)).hexdigest()[:16]
    agreement = account.external_ref.removeprefix("economic:")
    return f"account:{agreement}:{body}"


async def connect(
    services: Services,
    installation: Installation,
    choices: OnboardingChoices,
    economic: EconomicClient,
    *,
    actor: str,
) -> Linking | None:
    """Make the installation's collection link ``ok``: None when it is (or now is), else where
    the browser must go to link an account."""
    if installation.collection_state == "ok":
        return None
    if choices.collection.mode == "link":
        return await begin_link(services, installation, choices, actor=actor, code="link")
    if installation.collection_account_id:
        return await begin_link(services, installation, choices, actor=actor, code="account_exists")
    connections, settings = Connections(services), services.settings
    api_url = connections.collection_api_url()
    assert settings.collection_client_id and settings.collection_client_secret
    account = new_account(await economic.self_info())
    try:
        created = await create_account(
            services.http,
            base_url=api_url,
            client_id=settings.collection_client_id,
            client_secret=settings.collection_client_secret.reveal(),
            account=account,
            idempotency_key=account_key(account),
        )
    except ConflictError as exc:
        if not isinstance(exc.detail, dict) or exc.detail.get("code") != "account_exists":
            raise
        return await begin_link(services, installation, choices, actor=actor, code="account_exists")
    now = services.clock()
    await save_created_grant(connections.token_store(), installation.id, created, now=now)
    await AuditLog(services.db).record(
        installation_id=installation.id,
        actor=actor,
        action="onboarding.collection_account_created",
        at=now,
        detail={"account_id": created.account.id, "external_ref": account.external_ref},
    )
    return None


async def begin_link(
    services: Services,
    installation: Installation,
    choices: OnboardingChoices,
    *,
    actor: str,
    code: Literal["link", "account_exists"],
) -> Linking:
    connections, settings = Connections(services), services.settings
    api_url = connections.collection_api_url()
    cipher = services.cipher
    assert settings.collection_client_id and cipher is not None
    redirect_uri = settings.public_url.rstrip("/") + CALLBACK_PATH
    request = authorization_request(
        api_url + "/oauth/authorize",
        client_id=settings.collection_client_id,
        redirect_uri=redirect_uri,
        scope=SCOPES,
    )
    now = services.clock()
    # The callback continues with these choices, now a link whatever was asked.
    linking = msgspec.structs.replace(choices, collection=CollectionChoice(mode="link"))
    async with services.db.transaction() as tx:
        states = LinkStates(tx, cipher)
        await states.purge(before=now - LINK_STATES_KEPT)
        await states.create(
            request.state,
            installation_id=installation.id,
            code_verifier=request.code_verifier,
            redirect_uri=redirect_uri,
            actor=actor,
            choices=msgspec.to_builtins(linking),
            now=now,
        )
        await AuditLog(tx).record(
            installation_id=installation.id,
            actor=actor,
            action="onboarding.collection_link_started",
            at=now,
            detail={"reason": code},
        )
    return Linking(code=code, authorize_url=request.url)


# -- the callback -------------------------------------------------------------------------------

_AGAIN = " Start linking again from the onboarding page."
REFUSALS: dict[str, tuple[int, str]] = {
    "state_missing": (400, "The platform sent no state back, so nothing was linked." + _AGAIN),
    "state_unknown": (
        400,
        "This link's state is not one we issued, so nothing was linked." + _AGAIN,
    ),
    "state_used": (400, "This link has already been completed once." + _AGAIN),
    "state_expired": (400, "This link took longer than 30 minutes and expired." + _AGAIN),
    "access_denied": (
        400,
        "You did not allow the app to use the collection account, so nothing was linked." + _AGAIN,
    ),
    "authorize_failed": (400, "The platform could not authorize the app." + _AGAIN),
    "code_missing": (400, "The platform sent no authorization code back." + _AGAIN),
    "code_refused": (400, "The platform did not accept the authorization code." + _AGAIN),
    "installation_gone": (
        409,
        "The company's installation is revoked; install the app from e-conomic again first.",
    ),
    "platform_unavailable": (
        503,
        "The collection platform could not be reached, so nothing was linked." + _AGAIN,
    ),
    "not_configured": (
        503,
        "The collection platform is not configured on this server (COLLECTBRIDGE_COLLECTION_*).",
    ),
}


class LinkRefused(Exception):
    """A callback turned away; nothing was stored. ``message`` is for the person."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
        self.status, self.message = REFUSALS[code]


async def complete_link(
    services: Services, *, state: str, code: str, error: str
) -> tuple[Installation, LinkState]:
    """The callback: state checked and used up, code exchanged, grant stored."""
    cipher = services.cipher
    if cipher is None:
        raise LinkRefused("not_configured")
    if not state:
        raise LinkRefused("state_missing")
    now = services.clock()
    states = LinkStates(services.db, cipher)
    found = await states.get(state)
    if found is None:
        raise LinkRefused("state_unknown")
    if found.used_at is not None:
        raise LinkRefused("state_used")
    if now - found.created_at > LINK_LIFETIME:
        raise LinkRefused("state_expired")
    if await states.use(state, now=now, since=now - LINK_LIFETIME) is None:
        raise LinkRefused("state_used")  # a racing replay used it first
    if error:
        raise LinkRefused("access_denied" if error == "access_denied" else "authorize_failed")
    if not code:
        raise LinkRefused("code_missing")
    installation = await Installations(services.db).get(found.installation_id)
    if installation is None or installation.status in ("revoked", "deleted"):
        raise LinkRefused("installation_gone")
    await _exchange(services, installation, found, code)
    linked = await Installations(services.db).get(installation.id)
    assert linked is not None
    return linked, found


async def _exchange(
    services: Services, installation: Installation, found: LinkState, code: str
) -> None:
    connections, settings = Connections(services), services.settings
    try:
        api_url = connections.collection_api_url()
    except SyncError as exc:
        raise LinkRefused("not_configured") from exc
    assert settings.collection_client_id and settings.collection_client_secret
    try:
        answer = await request_tokens(
            services.http,
            api_url + "/oauth/token",
            client_id=settings.collection_client_id,
            client_secret=settings.collection_client_secret.reveal(),
            body=code_request_body(code, found.redirect_uri, found.code_verifier),
            limits=TOKEN_TIMEOUT,
        )
        now = services.clock()
        tokens = stored_from_response(answer, now)
    except ConfigurationError as exc:
        raise LinkRefused("not_configured") from exc
    except TransientError as exc:
        raise LinkRefused("platform_unavailable") from exc
    except PermanentError as exc:
        raise LinkRefused("code_refused") from exc
    await connections.token_store().save_tokens(installation.id, tokens, now=now)
    await AuditLog(services.db).record(
        installation_id=installation.id,
        actor=found.actor,
        action="onboarding.collection_linked",
        at=now,
        detail={"account_id": tokens.account_id},
    )
