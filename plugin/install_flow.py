"""The install flow's pure core: the signed state cookie, the address of e-conomic's grant page,
and the refusals (a stable code → an HTTP status and the text the person is shown).

e-conomic's grant page echoes no ``state`` parameter (contracts/economic.md), so the browser
carries the state alone, in a cookie set just before it is sent there:

    v1.<nonce>.<issued at, Unix seconds>.<base64url HMAC-SHA256 of "v1.<nonce>.<issued at>">

signed with ``derive_key(<first COLLECTBRIDGE_SECRET_KEY>, "install-state")`` and accepted when
signed with a key derived from any configured secret (a rotation does not break installs under
way). It is good for `STATE_LIFETIME`; the issue time inside the signed value decides, whatever
the cookie's own expiry says. The nonce is also recorded server-side (`sync.store.install_states`)
so that a state we never issued (foreign) or one already used (a replay) is turned away.

    InstallError           a refusal with a stable ``code``; ``status`` and ``message`` (safe to
                           show, never the token) come from `REFUSALS`
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Sequence

from yarl import URL

from sync.crypto import derive_key

STATE_PURPOSE = "install-state"
STATE_LIFETIME = dt.timedelta(minutes=10)
CLOCK_SKEW = dt.timedelta(minutes=1)  # a state "issued" later than this ahead of us is forged
VERSION = "v1"
CALLBACK_PATH = "/install/economic/callback"
LOCALES = {"da": "da-DK", "en": "en-US", "sv": "sv-SE", "nb": "nb-NO", "no": "nb-NO"}

_AGAIN = " Start the installation again from e-conomic or from the start page."
REFUSALS: dict[str, tuple[int, str]] = {
    "state_missing": (
        400,
        "This installation was not started here, or your browser did not keep its cookie." + _AGAIN,
    ),
    "state_forged": (400, "This installation's state is not one we issued." + _AGAIN),
    "state_unknown": (400, "This installation's state is not one we issued." + _AGAIN),
    "state_expired": (400, "This installation took longer than 10 minutes and expired." + _AGAIN),
    "state_used": (400, "This installation has already been completed once." + _AGAIN),
    "token_missing": (400, "e-conomic sent no grant token, so nothing was installed." + _AGAIN),
    "grant_rejected": (400, "e-conomic did not accept this grant token." + _AGAIN),
    "grant_refused": (400, "e-conomic refused to tell us which company granted access." + _AGAIN),
    "account_exists": (
        409,
        "The company is installed, but an account with your e-mail address already exists here "
        "and is not a member of this company. To protect that account we did not sign you in or "
        "give it access. Sign in with that account first and install again, or ask an "
        "administrator to give it access to this company.",
    ),
    "user_unknown": (
        400,
        "e-conomic did not tell us the e-mail address of the person installing the app, so we "
        "cannot make you the company's admin.",
    ),
    "economic_unavailable": (
        503,
        "e-conomic could not be reached just now, so nothing was installed. Please try again "
        "in a minute (reloading this page is fine).",
    ),
    "economic_garbled": (502, "e-conomic's answer was not understood, so nothing was installed."),
    "confirmation_expired": (
        400,
        "This sign-in was not confirmed in time, or not from the browser that installed the "
        "app. The company stays installed: sign in, or install again to be signed in.",
    ),
    "not_configured": (
        503,
        "Installing is not set up on this server yet: the operator has to configure "
        "COLLECTBRIDGE_SECRET_KEY and the e-conomic app tokens.",
    ),
}


class InstallError(Exception):
    """An install turned away; ``message`` is for the person, ``code`` for logs and tests."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
        self.status, self.message = REFUSALS[code]


def state_keys(secret_keys: Sequence[str]) -> list[bytes]:
    """The signing key first, then every key a state may have been signed with."""
    return [derive_key(secret, STATE_PURPOSE) for secret in secret_keys]


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def _signature(key: bytes, payload: str) -> str:
    digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign_state(nonce: str, *, key: bytes, now: dt.datetime) -> str:
    payload = f"{VERSION}.{nonce}.{int(now.timestamp())}"
    return f"{payload}.{_signature(key, payload)}"


def read_state(value: str | None, *, keys: Sequence[bytes], now: dt.datetime) -> str:
    """The nonce of a state cookie that we signed and that has not expired; else InstallError."""
    if not value:
        raise InstallError("state_missing")
    if not value.isascii():  # we only ever sign ASCII; compare_digest refuses other text
        raise InstallError("state_forged")
    payload, _, signature = value.rpartition(".")
    version, _, rest = payload.partition(".")
    nonce, _, issued = rest.rpartition(".")
    if version != VERSION or not nonce or not issued.isdigit():
        raise InstallError("state_forged")
    if not any(hmac.compare_digest(_signature(key, payload), signature) for key in keys):
        raise InstallError("state_forged")
    issued_at = dt.datetime.fromtimestamp(int(issued), dt.UTC)
    if issued_at > now + CLOCK_SKEW:
        raise InstallError("state_forged")
    if now - issued_at > STATE_LIFETIME:
        raise InstallError("state_expired")
    return nonce


def locale_for(accept_language: str | None) -> str:
    """The grant page's locale: the first of the caller's languages e-conomic offers."""
    for part in (accept_language or "").split(","):
        language = part.split(";")[0].strip().lower()[:2]
        if language in LOCALES:
            return LOCALES[language]
    return "en-US"


def grant_page_url(
    install_url: str, *, app_public_token: str, public_url: str, locale: str = "en-US"
) -> str:
    """e-conomic's grant page, sending the browser back to our callback."""
    return str(
        URL(install_url).update_query(
            appPublicToken=app_public_token,
            redirectUrl=public_url.rstrip("/") + CALLBACK_PATH,
            locale=locale,
        )
    )
