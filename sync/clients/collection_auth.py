"""OAuth 2.0 for the collection platform: pure request builders (authlib helpers), the
`TokenStore` port, and `TokenKeeper`, which refreshes one installation's tokens safely.

Refresh protocol (the platform rotates refresh tokens and honours an old one for a 30-second
reuse interval, then revokes the whole grant):

1. A refresh is due about 60 s before expiry, after a 401, or when the store shows a refresh
   that was started and never finished (``refreshing``: a crash between receiving and storing).
2. Within a process one coroutine at a time tries; across processes a lease held in the
   database (`TokenStore.acquire_refresh_lock`). Whoever waits re-reads the stored tokens and
   uses them when another holder already refreshed.
3. Under the lease: re-read; record the refresh token about to be presented (durably); present
   it; store the new pair durably (clearing the record); only then use it. A process killed
   after step 3's request re-presents the same token on restart and, within the reuse
   interval, receives the same pair.
   The lease outlives the token request by construction (`refresh_lease_ttl`): its length is
   the request's total timeout plus the retried store of the answer plus a margin, a longer
   one may be configured, a shorter one is refused. It also ends well inside the reuse
   interval (`MAX_REFRESH_LEASE`), so a crashed holder cannot make recovery too late.
   The new pair exists nowhere else once the interval has passed, so a store that fails with
   a passing error (`TransientError`) is retried a few times, still inside the lease, before
   the refresh gives up (the recorded token then lets the next attempt recover it in time).
   Both writes are fenced: the store performs them only while this holder still has the
   lease. A holder that stalled past its lease (an event-loop stall, a database blip) and
   finds its write refused never uses the pair in hand, since it is not stored and the lease
   may have passed to a process that stores another. It takes the lease again (step 2) and
   re-reads: the next holder's pair, when one was stored, is used as it is; when the stored
   refresh token is still the one it presented, nobody refreshed since, and the pair in hand
   is the platform's current one and its only copy: it is stored under the new lease rather
   than asking again (which would work only within the reuse interval). Otherwise the refresh
   starts over from what is stored. After `LEASE_ROUNDS` lost leases it gives up with a
   `TransientError`; the recorded token still lets the next attempt recover in time.
4. ``invalid_grant`` (used after the interval, or revoked) marks the link ``lost`` and raises
   `AuthLostError`; nothing retries it. The store records that durably (with a problem a
   person sees), so every later call fails fast without asking the token endpoint again.
   ``invalid_client`` is different: our own client credentials were refused (wrong or
   rotated), which says nothing about the installation's grant. It raises
   `ConfigurationError` and leaves the link as it is.

On uninstall `TokenKeeper.revoke` presents the stored refresh token to the revocation endpoint
(RFC 7009), which revokes the whole grant; afterwards the platform answers 401 ``invalid_token``,
the one refresh that follows gets ``invalid_grant``, and the link is marked ``lost`` (step 4).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import aiohttp
import msgspec
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749 import OAuth2Token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7009 import prepare_revoke_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from sync.clients.collection_types import CreatedAccount, TokenResponse
from sync.errors import AuthLostError, ConfigurationError, TransientError, ValidationError
from sync.redaction import redacted, remember_secrets

REFRESH_MARGIN = dt.timedelta(seconds=60)
PLATFORM = "collection"
REUSE_INTERVAL = 30.0  # seconds the platform honours a rotated refresh token (the contract)
# A crashed holder's pair is recovered by the next holder re-presenting the recorded token once
# the lease ran out; that must happen within the reuse interval, so the lease ends this early.
RECOVERY_TIME = 10.0
MAX_REFRESH_LEASE = REUSE_INTERVAL - RECOVERY_TIME
LEASE_MARGIN = 1.0  # beyond the request and the store: recording the token, taking the lease
LEASE_ROUNDS = 3  # leases a refresh may take before it gives up (each lost one is a stall)


@redacted("access_token", "refresh_token", "refreshing")
class StoredTokens(msgspec.Struct, frozen=True, kw_only=True):
    access_token: str
    refresh_token: str
    expires_at: dt.datetime
    account_id: str | None = None
    refreshing: str | None = None  # a refresh token presented whose answer was never stored
    lost: bool = False


class TokenStore(Protocol):
    """Durable, per-installation storage of the collection grant.

    A write that fails in a way that may pass (the database briefly unreachable) raises
    `TransientError`, so the caller can try the same write again.
    """

    async def load_tokens(self, installation_id: int) -> StoredTokens | None: ...

    async def save_tokens(
        self,
        installation_id: int,
        tokens: StoredTokens,
        *,
        now: dt.datetime,
        holder: str | None = None,
    ) -> bool:
        """Store a pair. With ``holder`` (a refresh) only while that holder still has the
        refresh lease, checked atomically with the write; False when refused (nothing stored).
        Without it (a new grant: link, partner flow) always."""
        ...

    async def mark_refreshing(
        self, installation_id: int, refresh_token: str, *, now: dt.datetime, holder: str
    ) -> bool:
        """Durably record the refresh token about to be presented, only while ``holder`` has
        the refresh lease; False when refused (nothing recorded: do not present it)."""
        ...

    async def acquire_refresh_lock(
        self, installation_id: int, holder: str, *, now: dt.datetime, ttl: float
    ) -> bool: ...

    async def release_refresh_lock(self, installation_id: int, holder: str) -> None: ...

    async def mark_collection_lost(
        self, installation_id: int, *, now: dt.datetime, detail: dict[str, Any] | None = None
    ) -> None:
        """Durably: the link is ``lost`` (loading then says so) and a person is told."""
        ...


@redacted("code_verifier")
class AuthorizationRequest(msgspec.Struct, frozen=True, kw_only=True):
    url: str
    state: str
    code_verifier: str


def authorization_request(
    authorize_url: str, *, client_id: str, redirect_uri: str, scope: str
) -> AuthorizationRequest:
    """The link flow's first step: where to send the user, and what to keep for the callback."""
    state, verifier = generate_token(32), generate_token(64)
    url = prepare_grant_uri(
        authorize_url,
        client_id=client_id,
        response_type="code",
        redirect_uri=redirect_uri,
        scope=scope,
        state=state,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
    )
    return AuthorizationRequest(url=str(url), state=state, code_verifier=verifier)


def code_request_body(code: str, redirect_uri: str, code_verifier: str) -> str:
    return str(
        prepare_token_request(
            "authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
        )
    )


def refresh_request_body(refresh_token: str) -> str:
    return str(prepare_token_request("refresh_token", refresh_token=refresh_token))


def partner_request_body() -> str:
    return str(prepare_token_request("client_credentials", scope="accounts:create"))


def revoke_request_body(refresh_token: str) -> str:
    body, _ = prepare_revoke_token_request(
        refresh_token,
        token_type_hint="refresh_token",  # noqa: S106 - a token type hint, not a secret
    )
    return str(body)


def stored_from_response(
    answer: TokenResponse, now: dt.datetime, account_id: str | None = None
) -> StoredTokens:
    token = OAuth2Token.from_dict(msgspec.to_builtins(answer))
    if not token.get("refresh_token"):
        raise ValidationError("the token answer has no refresh token", platform=PLATFORM)
    return StoredTokens(
        access_token=str(token["access_token"]),
        refresh_token=str(token["refresh_token"]),
        expires_at=now + dt.timedelta(seconds=int(token.get("expires_in", 3600))),
        account_id=answer.account_id or account_id,
    )


async def save_created_grant(
    store: TokenStore, installation_id: int, created: CreatedAccount, *, now: dt.datetime
) -> StoredTokens:
    """Store the grant that came with a new account (partner flow) before anybody uses it."""
    tokens = stored_from_response(created.grant, now, created.account.id)
    await store.save_tokens(installation_id, tokens, now=now)
    return tokens


def needs_refresh(
    tokens: StoredTokens, now: dt.datetime, margin: dt.timedelta = REFRESH_MARGIN
) -> bool:
    return tokens.refreshing is not None or tokens.expires_at - margin <= now


def refresh_lease_ttl(
    request: aiohttp.ClientTimeout, store_waits: float, configured: float | None = None
) -> float:
    """The refresh lease's length, in seconds: it must outlive the token request (its
    ``total`` timeout) and the store of the answer (``store_waits``: the waits between retried
    writes), plus `LEASE_MARGIN`; and end by `MAX_REFRESH_LEASE`. ``configured`` may be longer
    than that least length, never shorter; without it the least length is used."""
    if request.total is None:
        raise ConfigurationError(
            "the token request needs a total timeout: the refresh lease must outlive it",
            platform=PLATFORM,
        )
    least = request.total + store_waits + LEASE_MARGIN
    ttl = least if configured is None else configured
    if ttl < least:
        raise ConfigurationError(
            f"a refresh lease of {ttl:g} s could end before the token request and the store of "
            f"its answer ({request.total:g} s + {store_waits:g} s + {LEASE_MARGIN:g} s margin)",
            platform=PLATFORM,
        )
    if ttl > MAX_REFRESH_LEASE:
        raise ConfigurationError(
            f"a refresh lease of {ttl:g} s ends too late in the platform's {REUSE_INTERVAL:g} s "
            f"reuse interval (at most {MAX_REFRESH_LEASE:g} s): shorten the token timeout",
            platform=PLATFORM,
        )
    return ttl


@redacted("presented")
class Unstored(msgspec.Struct, frozen=True, kw_only=True):
    """A refresh whose lease was lost before its pair (if any: ``pair``) could be stored."""

    presented: str
    pair: StoredTokens | None = None


TokenHook = Callable[[TokenResponse], Awaitable[None]]
T = TypeVar("T")


class TokenKeeper:
    """The access token for one installation, refreshed under a database lease."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        installation_id: int,
        store: TokenStore,
        holder: str,
        now: Callable[[], dt.datetime],
        timeout: aiohttp.ClientTimeout,
        lock_ttl: float | None = None,
        lock_poll: float = 0.05,
        store_attempts: int = 4,
        store_backoff: float = 0.25,
        after_token_answer: TokenHook | None = None,
    ) -> None:
        self.session = session
        self.token_url = token_url
        self.client_auth = aiohttp.encode_basic_auth(client_id, client_secret)
        remember_secrets(client_secret, self.client_auth.removeprefix("Basic "))
        self.installation_id = installation_id
        self.store = store
        self.holder = holder
        self.now = now
        self.timeout = timeout
        self.lock_poll = lock_poll
        # Waits of 0.25, 0.5 and 1 s between four attempts: inside the lease, by construction.
        self.store_attempts = store_attempts
        self.store_backoff = store_backoff
        store_waits = sum(store_backoff * 2**i for i in range(store_attempts - 1))
        self.lock_ttl = refresh_lease_ttl(timeout, store_waits, lock_ttl)
        self.after_token_answer = after_token_answer  # a seam for crash tests
        self._tokens: StoredTokens | None = None
        self._local = asyncio.Lock()

    async def access_token(self) -> str:
        tokens = self._tokens or await self._load()
        if needs_refresh(tokens, self.now()):
            tokens = await self.refresh(stale=tokens.access_token)
        return tokens.access_token

    async def refresh(self, *, stale: str) -> StoredTokens:
        """A fresh pair, stored; ``stale`` is the access token found wanting (expired or
        refused)."""
        async with self._local:
            if self._tokens and self._usable(self._tokens, stale):
                return self._tokens
            unstored: Unstored | None = None
            for _ in range(LEASE_ROUNDS):
                refreshed = await self._take_lease(stale)
                if refreshed is not None:
                    return refreshed
                try:
                    outcome = await self._refresh_holding_lease(stale, unstored)
                finally:
                    await self.store.release_refresh_lock(self.installation_id, self.holder)
                if isinstance(outcome, StoredTokens):
                    return outcome
                unstored = outcome if outcome.pair is not None else unstored
            raise TransientError(
                "the token refresh lease was lost before the new tokens were stored",
                platform=PLATFORM,
            )

    async def _take_lease(self, stale: str) -> StoredTokens | None:
        """Wait for the refresh lease: None once held, or the tokens another holder stored."""
        deadline = self.now() + dt.timedelta(seconds=self.lock_ttl * 2)
        while not await self.store.acquire_refresh_lock(
            self.installation_id, self.holder, now=self.now(), ttl=self.lock_ttl
        ):
            current = await self._load()
            if self._usable(current, stale):
                return current
            if self.now() > deadline:
                raise TransientError("the token refresh lease stayed busy", platform=PLATFORM)
            await asyncio.sleep(self.lock_poll)
        return None

    def _usable(self, tokens: StoredTokens, stale: str) -> bool:
        return tokens.access_token != stale and not needs_refresh(tokens, self.now())

    async def _refresh_holding_lease(
        self, stale: str, unstored: Unstored | None
    ) -> StoredTokens | Unstored:
        current = await self._load()
        if self._usable(current, stale):
            return current
        if unstored is not None and current.refresh_token == unstored.presented:
            return await self._store(unstored)  # nobody refreshed since: the pair in hand
        presented = current.refresh_token
        if not await self.store.mark_refreshing(
            self.installation_id, presented, now=self.now(), holder=self.holder
        ):
            return Unstored(presented=presented)
        answer = await self._token_call(refresh_request_body(presented))
        if self.after_token_answer is not None:
            await self.after_token_answer(answer)
        fresh = stored_from_response(answer, self.now(), current.account_id)
        return await self._store(Unstored(presented=presented, pair=fresh))

    async def _store(self, unstored: Unstored) -> StoredTokens | Unstored:
        """Store the pair under the lease; the pair once stored, else ``unstored`` unchanged."""
        pair = unstored.pair
        assert pair is not None
        stored = await self._durably(
            lambda: self.store.save_tokens(
                self.installation_id, pair, now=self.now(), holder=self.holder
            ),
            "the refreshed collection tokens could not be stored",
        )
        if not stored:
            return unstored
        self._tokens = pair
        return pair

    async def _durably(self, write: Callable[[], Awaitable[T]], failure: str) -> T:
        """Run a store write, again after a passing failure, up to ``store_attempts`` times."""
        for attempt in range(1, self.store_attempts):
            try:
                return await write()
            except TransientError:
                await asyncio.sleep(self.store_backoff * 2 ** (attempt - 1))
        try:
            return await write()
        except TransientError as exc:
            raise TransientError(failure, detail=exc.detail) from exc

    async def lose_link(self, error: dict[str, Any]) -> AuthLostError:
        """Record the lost link durably (and forget the cached tokens); the error to raise."""
        self._tokens = None
        await self._durably(
            lambda: self.store.mark_collection_lost(
                self.installation_id, now=self.now(), detail=error
            ),
            "the lost collection link could not be recorded",
        )
        return AuthLostError(
            "the collection grant is no longer valid", detail=error, platform=PLATFORM
        )

    async def revoke(self, revoke_url: str) -> bool:
        """Revoke the grant (RFC 7009) by its refresh token; False when nothing is stored.

        The stored tokens stay as they are: the next call meets 401 ``invalid_token``, its one
        refresh meets ``invalid_grant`` and marks the link ``lost``.
        """
        tokens = await self.store.load_tokens(self.installation_id)
        if tokens is None:
            return False
        body = revoke_request_body(tokens.refresh_token)
        status, raw = await post_token_form(
            self.session, revoke_url, self.client_auth, body, self.timeout
        )
        if status == 200:
            return True
        error = _oauth_error(raw)
        if status == 429 or status >= 500:
            raise TransientError(
                f"the revocation endpoint answered {status}", detail=error, platform=PLATFORM
            )
        if error.get("error") == "invalid_client":
            raise client_refused(error)
        raise ValidationError("the revocation was refused", detail=error, platform=PLATFORM)

    async def _load(self) -> StoredTokens:
        tokens = await self.store.load_tokens(self.installation_id)
        if tokens is None or tokens.lost:
            raise AuthLostError("the collection account is not linked", platform=PLATFORM)
        self._tokens = tokens
        return tokens

    async def _token_call(self, body: str) -> TokenResponse:
        status, raw = await post_token_form(
            self.session, self.token_url, self.client_auth, body, self.timeout
        )
        if status == 200:
            return _token_answer(raw)
        error = _oauth_error(raw)
        if status in (400, 401) and error.get("error") == "invalid_client":
            raise client_refused(error)
        if status in (400, 401) and error.get("error") == "invalid_grant":
            raise await self.lose_link(error)
        raise TransientError(
            f"the token endpoint answered {status}", detail=error, platform=PLATFORM
        )


async def post_token_form(
    session: aiohttp.ClientSession,
    token_url: str,
    client_auth: str,
    body: str,
    limits: aiohttp.ClientTimeout,
) -> tuple[int, bytes]:
    """POST a form to an OAuth endpoint (token, revoke) with HTTP Basic client authentication."""
    headers = {
        "Authorization": client_auth,
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
    }
    try:
        async with session.post(token_url, data=body, headers=headers, timeout=limits) as resp:
            return resp.status, await resp.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise TransientError("the OAuth endpoint did not answer", platform=PLATFORM) from exc


async def request_tokens(
    session: aiohttp.ClientSession,
    token_url: str,
    *,
    client_id: str,
    client_secret: str,
    body: str,
    limits: aiohttp.ClientTimeout,
) -> TokenResponse:
    """One token request (code exchange or client credentials); OAuth errors → SyncError."""
    auth = aiohttp.encode_basic_auth(client_id, client_secret)
    remember_secrets(client_secret, auth.removeprefix("Basic "))
    status, raw = await post_token_form(session, token_url, auth, body, limits)
    if status == 200:
        return _token_answer(raw)
    error = _oauth_error(raw)
    if status >= 500:
        raise TransientError(
            f"the token endpoint answered {status}", detail=error, platform=PLATFORM
        )
    if error.get("error") == "invalid_client":
        raise client_refused(error)
    raise ValidationError("the token request was refused", detail=error, platform=PLATFORM)


def client_refused(error: dict[str, Any]) -> ConfigurationError:
    """``invalid_client``: the operator's client id or secret is wrong (or was rotated)."""
    return ConfigurationError(
        "the collection platform refused the app's client credentials (invalid_client): check "
        "COLLECTBRIDGE_COLLECTION_CLIENT_ID and COLLECTBRIDGE_COLLECTION_CLIENT_SECRET",
        detail=error,
        platform=PLATFORM,
    )


def _token_answer(raw: bytes) -> TokenResponse:
    """A token endpoint's answer, its tokens remembered for redaction before anything can fail."""
    answer = msgspec.json.decode(raw, type=TokenResponse)
    remember_secrets(answer.access_token, answer.refresh_token)
    return answer


def _oauth_error(raw: bytes) -> dict[str, Any]:
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return {"error": "unknown"}
    return value if isinstance(value, dict) else {"error": "unknown"}
