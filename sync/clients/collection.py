"""The collection platform client: one class around an injected `aiohttp.ClientSession`.

Every call gets a fresh-enough access token from `TokenKeeper` (refresh under a database lease,
see collection_auth.py), explicit timeouts, and the in-process retries of `retrying`: 429, 500,
502-504, timeouts and connection errors. A ``Retry-After`` of at most 30 s is waited out (never
less), on any of these statuses; a longer one ends the call at once with `RateLimitedError`
(429) or `TransientError` (5xx) carrying ``retry_after``, so the job is rescheduled no earlier.
A 401 gets one refresh and one retry; a second 401 marks the link ``lost`` and raises
`AuthLostError`.

Errors map to `sync.errors` (status → class is `error_for`, kept as data); the platform's
problem document, with its ``code``, is the exception's ``detail``. Every POST carries the
caller's ``Idempotency-Key`` (derived from our own ids), so a retried POST is never doubled.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal, TypeVar

import aiohttp
import msgspec

from sync.clients.collection_auth import (
    PLATFORM,
    TokenKeeper,
    partner_request_body,
    request_tokens,
)
from sync.clients.collection_errors import error_for, problem_of
from sync.clients.collection_types import (
    Account,
    BatchItemResult,
    BatchResult,
    Case,
    CasesPage,
    Claim,
    CreatedAccount,
    CreditorPayment,
    Debtor,
    Event,
    EventsPage,
    HandoverResult,
    NewAccount,
    PaymentRecord,
    UpsertResult,
    WebhookEndpoint,
)
from sync.clients.retrying import Answer, parse_retry_after, send_with_retries
from sync.errors import TransientError
from sync.redaction import remember_secrets

T = TypeVar("T")
MAX_BATCH = 500
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=15, connect=5, sock_read=10)
_encoder = msgspec.json.Encoder()


class CollectionClient:
    """The collection API as one installation sees it."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        tokens: TokenKeeper,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        attempts: int = 5,
        backoff: float = 0.5,
        backoff_max: float = 20.0,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.backoff_max = backoff_max
        self._rng = random.Random()

    # -- plumbing ---------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        kind: type[T] | None,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        idempotency_key: str | None = None,
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> T | None:
        headers = {"Accept": "application/json"}
        if method == "POST":
            if not idempotency_key:
                raise ValueError("every POST needs an Idempotency-Key")
            headers["Idempotency-Key"] = idempotency_key
        data = raw if raw is not None else (_encoder.encode(body) if body is not None else None)
        if data is not None:
            headers["Content-Type"] = content_type
        answer = await send_with_retries(
            lambda: self._authorized(method, path, headers, data, params),
            attempts=self.attempts,
            base=self.backoff,
            cap=self.backoff_max,
            rng=self._rng,
        )
        if not answer.ok:
            problem = problem_of(answer.body, answer.status)
            raise error_for(answer.status, problem, answer.retry_after)
        if kind is None or not answer.body:
            return None
        return msgspec.json.decode(answer.body, type=kind)

    async def _authorized(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        data: bytes | None,
        params: dict[str, str] | None,
    ) -> Answer:
        """One attempt: a 401 gets one refresh and one resend; a second 401 loses the link."""
        token = await self.tokens.access_token()
        answer = await self._send(method, path, headers, data, params, token)
        if answer.status != 401:
            return answer
        token = (await self.tokens.refresh(stale=token)).access_token
        answer = await self._send(method, path, headers, data, params, token)
        if answer.status != 401:
            return answer
        raise await self.tokens.lose_link(problem_of(answer.body, answer.status))

    async def _send(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        data: bytes | None,
        params: dict[str, str] | None,
        token: str,
    ) -> Answer:
        all_headers = {**headers, "Authorization": f"Bearer {token}"}
        try:
            async with self.session.request(
                method,
                self.base_url + path,
                data=data,
                params=params,
                headers=all_headers,
                timeout=self.timeout,
            ) as resp:
                return Answer(
                    status=resp.status,
                    body=await resp.read(),
                    retry_after=parse_retry_after(
                        resp.headers.get("Retry-After"), self.tokens.now()
                    ),
                )
        except TimeoutError as exc:
            raise TransientError("the collection platform timed out", platform=PLATFORM) from exc
        except aiohttp.ClientError as exc:
            raise TransientError(
                f"cannot reach the collection platform: {type(exc).__name__}", platform=PLATFORM
            ) from exc

    async def _get(self, path: str, kind: type[T], params: dict[str, str] | None = None) -> T:
        result = await self._call("GET", path, kind, params=params)
        assert result is not None
        return result

    async def _post(self, path: str, kind: type[T], body: Any, idempotency_key: str) -> T:
        result = await self._call("POST", path, kind, body=body, idempotency_key=idempotency_key)
        assert result is not None
        return result

    # -- the API ----------------------------------------------------------------------------

    async def account(self) -> Account:
        return await self._get("/v1/account", Account)

    async def put_debtor(self, external_ref: str, debtor: Debtor) -> UpsertResult:
        result = await self._call("PUT", f"/v1/debtors/{external_ref}", UpsertResult, body=debtor)
        assert result is not None
        return result

    async def put_claim(self, external_ref: str, claim: Claim) -> UpsertResult:
        result = await self._call("PUT", f"/v1/claims/{external_ref}", UpsertResult, body=claim)
        assert result is not None
        return result

    async def upsert_debtors(
        self, items: Sequence[tuple[str, Debtor]], *, idempotency_key: str
    ) -> list[BatchItemResult]:
        return await self._batch("/v1/debtors/batch", items, idempotency_key)

    async def upsert_claims(
        self, items: Sequence[tuple[str, Claim]], *, idempotency_key: str
    ) -> list[BatchItemResult]:
        return await self._batch("/v1/claims/batch", items, idempotency_key)

    async def _batch(
        self, path: str, items: Sequence[tuple[str, msgspec.Struct]], idempotency_key: str
    ) -> list[BatchItemResult]:
        """Chunks of at most 500; chunk ``n`` is posted with key ``<idempotency_key>:<n>``."""
        results: list[BatchItemResult] = []
        for start in range(0, len(items), MAX_BATCH):
            chunk = [
                {"external_ref": ref, **msgspec.to_builtins(item)}
                for ref, item in items[start : start + MAX_BATCH]
            ]
            key = f"{idempotency_key}:{start // MAX_BATCH}"
            answer = await self._post(path, BatchResult, {"items": chunk}, key)
            results.extend(answer.results)
        return results

    async def put_claim_document(self, external_ref: str, pdf: bytes) -> None:
        await self._call(
            "PUT",
            f"/v1/claims/{external_ref}/document",
            None,
            raw=pdf,
            content_type="application/pdf",
        )

    async def handover(
        self,
        external_ref: str,
        *,
        start_step: Literal["reminder_1", "collection_notice"],
        idempotency_key: str,
        note: str | None = None,
    ) -> HandoverResult:
        body: dict[str, Any] = {"start_step": start_step}
        if note:
            body["note"] = note
        path = f"/v1/claims/{external_ref}/handover"
        return await self._post(path, HandoverResult, body, idempotency_key)

    async def withdraw(
        self,
        external_ref: str,
        *,
        reason: Literal["paid_to_creditor", "credited", "disputed", "sent_in_error"],
        idempotency_key: str,
    ) -> None:
        path = f"/v1/claims/{external_ref}/withdraw"
        await self._call(
            "POST", path, None, body={"reason": reason}, idempotency_key=idempotency_key
        )

    async def report_payment(
        self, external_ref: str, payment: CreditorPayment, *, idempotency_key: str
    ) -> PaymentRecord:
        path = f"/v1/claims/{external_ref}/payments"
        return await self._post(path, PaymentRecord, payment, idempotency_key)

    async def case(self, case_id: str) -> Case:
        return await self._get(f"/v1/cases/{case_id}", Case)

    async def cases(
        self, *, updated_after: dt.datetime | None = None, limit: int = 100
    ) -> AsyncIterator[Case]:
        """Every case (updated after the given time), following ``next_cursor``."""
        params = {"limit": str(limit)}
        if updated_after is not None:
            params["updated_after"] = updated_after.isoformat()
        while True:
            page = await self._get("/v1/cases", CasesPage, dict(params))
            for case in page.items:
                yield case
            if not page.next_cursor:
                return
            params["cursor"] = page.next_cursor

    async def event_pages(self, *, after: int, limit: int = 500) -> AsyncIterator[EventsPage]:
        """Pages of the events feed from ``after`` until caught up (``next_after`` to keep)."""
        while True:
            page = await self._get(
                "/v1/events", EventsPage, {"after": str(after), "limit": str(limit)}
            )
            if not page.items:
                return
            yield page
            after = page.next_after

    async def events(self, *, after: int, limit: int = 500) -> AsyncIterator[Event]:
        async for page in self.event_pages(after=after, limit=limit):
            for event in page.items:
                yield event

    async def create_webhook_endpoint(
        self, url: str, *, event_types: Sequence[str] = ("*",), idempotency_key: str
    ) -> WebhookEndpoint:
        body = {"url": url, "event_types": list(event_types)}
        endpoint = await self._post("/v1/webhook-endpoints", WebhookEndpoint, body, idempotency_key)
        remember_secrets(endpoint.secret)  # the signing secret: masked in every error and log
        return endpoint

    async def delete_webhook_endpoint(self, endpoint_id: str) -> None:
        await self._call("DELETE", f"/v1/webhook-endpoints/{endpoint_id}", None)

    async def revoke_grant(self) -> bool:
        """Uninstall: revoke the grant at ``/oauth/revoke`` (RFC 7009, by the refresh token).
        False when no grant is stored."""
        return await self.tokens.revoke(self.base_url + "/oauth/revoke")

    async def rotate_webhook_secret(self, endpoint_id: str, *, idempotency_key: str) -> str:
        path = f"/v1/webhook-endpoints/{endpoint_id}/rotate-secret"
        answer = await self._post(path, WebhookEndpoint, {}, idempotency_key)
        assert answer.secret is not None
        remember_secrets(answer.secret)
        return answer.secret


async def create_account(
    session: aiohttp.ClientSession,
    *,
    base_url: str,
    client_id: str,
    client_secret: str,
    account: NewAccount,
    idempotency_key: str,
    limits: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
) -> CreatedAccount:
    """The partner flow: a new account and its grant; 409 ``account_exists`` → ConflictError
    whose ``detail["account_id"]`` is the account to link instead."""
    base = base_url.rstrip("/")
    partner = await request_tokens(
        session,
        base + "/oauth/token",
        client_id=client_id,
        client_secret=client_secret,
        body=partner_request_body(),
        limits=limits,
    )
    headers = {
        "Authorization": f"Bearer {partner.access_token}",
        "Idempotency-Key": idempotency_key,
        "Content-Type": "application/json",
    }
    try:
        async with session.post(
            base + "/v1/accounts", data=_encoder.encode(account), headers=headers, timeout=limits
        ) as resp:
            answer, status = await resp.read(), resp.status
            retry_after = parse_retry_after(
                resp.headers.get("Retry-After"), dt.datetime.now(dt.UTC)
            )
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise TransientError("cannot reach the collection platform", platform=PLATFORM) from exc
    if status == 201:
        created = msgspec.json.decode(answer, type=CreatedAccount)
        remember_secrets(created.grant.access_token, created.grant.refresh_token)
        return created
    raise error_for(status, problem_of(answer, status), retry_after)
