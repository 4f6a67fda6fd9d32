"""OAuth grants: issuing pairs, refresh rotation with the reuse interval, codes, revocation.

Rotation: a refresh token, once used, answers the SAME new pair when presented again within
``reuse_interval`` seconds of its first use (a caller that crashed before storing the pair can
recover); presented later it revokes the whole grant (reuse detection) and answers
``invalid_grant``. Reuse detection also emits ``account.grant_revoked``. Access tokens issued
before a rotation stay valid until they expire. A code presented twice revokes the grant it
produced (RFC 6749 § 4.1.2).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from sandbox.collection.events import emit
from sandbox.collection.problems import OAuthError
from sandbox.collection.state import (
    PARTNER_SCOPE,
    AccessToken,
    CollectionState,
    Grant,
    RefreshToken,
)


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _access(
    state: CollectionState,
    client_id: str,
    account_id: str | None,
    grant_id: str | None,
    scope: tuple[str, ...],
) -> AccessToken:
    token = AccessToken(
        token="at_" + secrets.token_urlsafe(32),
        client_id=client_id,
        account_id=account_id,
        grant_id=grant_id,
        scope=scope,
        expires_at=state.wall() + state.settings.token_ttl,
    )
    state.access_tokens[token.token] = token
    return token


def partner_token(state: CollectionState, client_id: str) -> dict[str, Any]:
    token = _access(state, client_id, None, None, (PARTNER_SCOPE,))
    return {
        "access_token": token.token,
        "token_type": "Bearer",
        "expires_in": state.settings.token_ttl,
        "scope": PARTNER_SCOPE,
    }


def issue_pair(state: CollectionState, grant: Grant) -> dict[str, Any]:
    access = _access(state, grant.client_id, grant.account_id, grant.id, grant.scope)
    refresh = RefreshToken(token="rt_" + secrets.token_urlsafe(32), grant_id=grant.id)
    state.refresh_tokens[refresh.token] = refresh
    return {
        "access_token": access.token,
        "token_type": "Bearer",
        "expires_in": state.settings.token_ttl,
        "refresh_token": refresh.token,
        "scope": " ".join(grant.scope),
        "account_id": grant.account_id,
    }


def create_grant(
    state: CollectionState, account_id: str, client_id: str, scope: tuple[str, ...]
) -> Grant:
    grant = Grant(state.new_id("grt"), account_id, client_id, scope)
    state.grants[grant.id] = grant
    return grant


def refresh(state: CollectionState, token: str, client_id: str) -> dict[str, Any]:
    record = state.refresh_tokens.get(token)
    if record is None:
        raise OAuthError("invalid_grant", "unknown refresh token")
    grant = state.grants[record.grant_id]
    if grant.client_id != client_id:
        raise OAuthError("invalid_grant", "the refresh token belongs to another client")
    if grant.revoked:
        raise OAuthError("invalid_grant", "grant revoked")
    now = state.wall()
    if record.rotated_at is None:
        record.rotated_at = now
        record.successor = issue_pair(state, grant)
        return record.successor
    if now - record.rotated_at <= state.settings.reuse_interval and record.successor:
        return record.successor
    revoke_grant(state, grant, notify=True)
    raise OAuthError("invalid_grant", "refresh token reused: the grant is revoked")


def redeem_code(
    state: CollectionState, code: str, client_id: str, redirect_uri: str, verifier: str
) -> dict[str, Any]:
    record = state.codes.get(code)
    if record is None or record.client_id != client_id:
        raise OAuthError("invalid_grant", "unknown authorization code")
    if record.used:
        if record.grant_id:
            revoke_grant(state, state.grants[record.grant_id], notify=False)
        raise OAuthError("invalid_grant", "authorization code already used")
    record.used = True
    if record.expires_at <= state.wall():
        raise OAuthError("invalid_grant", "authorization code expired")
    if record.redirect_uri != redirect_uri:
        raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request")
    if not verifier or not hmac.compare_digest(s256(verifier), record.challenge):
        raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
    grant = create_grant(state, record.account_id, client_id, record.scope)
    record.grant_id = grant.id
    return issue_pair(state, grant)


def revoke_grant(state: CollectionState, grant: Grant, *, notify: bool) -> None:
    if grant.revoked:
        return
    if notify:
        emit(state, grant.account_id, "account.grant_revoked", {})
    grant.revoked = True


def revoke_token(state: CollectionState, token: str, client_id: str) -> None:
    """RFC 7009: revoking either token of a grant revokes the grant; unknown tokens are fine."""
    grant_id: str | None = None
    if token in state.access_tokens:
        grant_id = state.access_tokens[token].grant_id
        if grant_id is None and state.access_tokens[token].client_id == client_id:
            del state.access_tokens[token]
    elif token in state.refresh_tokens:
        grant_id = state.refresh_tokens[token].grant_id
    if grant_id is not None and state.grants[grant_id].client_id == client_id:
        revoke_grant(state, state.grants[grant_id], notify=False)
