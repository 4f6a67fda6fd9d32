"""The collection client against the simulator: retries and Retry-After, errors, paging."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import aiohttp
import pytest

from sync.clients.collection_types import Address, Claim, CreditorPayment, Debtor
from sync.errors import (
    ConflictError,
    NotFoundError,
    RateLimitedError,
    TransientError,
    ValidationError,
)
from tests.fixtures.collection import CollectionSandbox
from tests.integration.collection.conftest import Linked

DEBTOR = Debtor(
    name="Kunde ApS",
    kind="company",
    cvr="12345678",
    email="a@kunde.dk",
    address=Address(street="Vestergade 1", zip="8000", city="Aarhus", country="DK"),
    language="da",
)


def invoice(number: int, **changes: Any) -> Claim:
    fields: dict[str, Any] = {
        "debtor_ref": "C1",
        "kind": "invoice",
        "invoice_number": number,
        "issued_on": dt.date(2024, 1, 2),
        "due_on": dt.date(2024, 2, 1),
        "currency": "DKK",
        "net_amount": 80_000,
        "vat_amount": 20_000,
        "gross_amount": 100_000,
        "remaining_amount": 100_000,
        **changes,
    }
    return Claim(**fields)


async def calls(sandbox: CollectionSandbox, since: str, path: str) -> list[dict[str, Any]]:
    answer = await sandbox.control("GET", f"/_sandbox/calls?since={since}")
    return [c for c in answer["items"] if c["path"] == path]


def seconds(at: str) -> float:
    return dt.datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()


async def test_429_storm_never_retries_before_retry_after(
    collection_sandbox: CollectionSandbox, linked: Linked
) -> None:
    since = collection_sandbox.state.now_rfc3339()
    await collection_sandbox.control(
        "POST", "/_sandbox/faults", {"status": 429, "rate": 1.0, "count": 5, "retry_after": 1}
    )
    accounts = await asyncio.gather(*(linked.client.account() for _ in range(5)))
    assert {a.id for a in accounts} == {collection_sandbox.account_ids[0]}
    made = await calls(collection_sandbox, since, "/v1/account")
    limited = sorted(seconds(c["at"]) for c in made if c["status"] == 429)
    served = sorted(seconds(c["at"]) for c in made if c["status"] == 200)
    assert len(limited) == 5 and len(served) == 5
    # Each caller's retry follows its own 429 by at least Retry-After: in sorted order too.
    assert all(ok >= refused + 1.0 for ok, refused in zip(served, limited, strict=True))


async def test_long_retry_after_is_raised_not_waited(
    collection_sandbox: CollectionSandbox, linked: Linked
) -> None:
    since = collection_sandbox.state.now_rfc3339()
    await collection_sandbox.control(
        "POST", "/_sandbox/faults", {"status": 429, "rate": 1.0, "retry_after": 120}
    )
    with pytest.raises(RateLimitedError) as caught:
        await linked.client.account()
    assert caught.value.retry_after == 120
    assert caught.value.detail["code"] == "rate_limited"
    assert len(await calls(collection_sandbox, since, "/v1/account")) == 1


async def test_5xx_is_retried_then_given_up(
    collection_sandbox: CollectionSandbox, linked: Linked
) -> None:
    since = collection_sandbox.state.now_rfc3339()
    await collection_sandbox.control("POST", "/_sandbox/faults", {"status": 503, "count": 2})
    assert (await linked.client.account()).id == collection_sandbox.account_ids[0]
    assert [c["status"] for c in await calls(collection_sandbox, since, "/v1/account")] == [
        503, 503, 200,
    ]  # fmt: skip
    await collection_sandbox.control("POST", "/_sandbox/faults", {"status": 500})
    with pytest.raises(TransientError):
        await linked.client.account()
    assert len(await calls(collection_sandbox, since, "/v1/account")) == 3 + 4


async def test_timeouts_are_transient(
    collection_sandbox: CollectionSandbox, linked: Linked
) -> None:
    await collection_sandbox.control("POST", "/_sandbox/faults", {"latency_ms": 400})
    linked.client.timeout = aiohttp.ClientTimeout(total=0.1)
    linked.client.attempts = 2
    with pytest.raises(TransientError, match="timed out"):
        await linked.client.account()
    await collection_sandbox.control("POST", "/_sandbox/faults", {})
    assert (await linked.client.account()).id


async def test_one_refresh_after_a_401(
    collection_sandbox: CollectionSandbox, linked: Linked
) -> None:
    since = collection_sandbox.state.now_rfc3339()
    collection_sandbox.wall.skip(3601)  # the platform expires the token before our books do
    assert (await linked.client.account()).id == collection_sandbox.account_ids[0]
    assert [c["status"] for c in await calls(collection_sandbox, since, "/v1/account")] == [
        401,
        200,
    ]
    assert len(await calls(collection_sandbox, since, "/oauth/token")) == 1
    stored = await linked.store.load_tokens(linked.installation_id)
    assert stored is not None and stored.refresh_token != linked.grant["refresh_token"]


async def test_errors_keep_the_problem_code(
    collection_sandbox: CollectionSandbox, linked: Linked
) -> None:
    client = linked.client
    with pytest.raises(NotFoundError) as missing:
        await client.case("case_nope")
    assert missing.value.detail["code"] == "not_found"
    with pytest.raises(ValidationError) as invalid:
        await client.put_claim("1", invoice(1))  # no debtor yet
    assert invalid.value.detail["code"] == "validation_failed"
    await client.put_debtor("C1", DEBTOR)
    assert (await client.put_claim("1", invoice(1))).version == 1
    handed = await client.handover("1", start_step="collection_notice", idempotency_key="h-1")
    assert handed.case_id
    again = await client.handover("1", start_step="collection_notice", idempotency_key="h-1")
    assert again == handed  # replayed, not doubled
    with pytest.raises(ConflictError) as locked:
        await client.put_claim("1", invoice(1, remaining_amount=1))
    assert locked.value.detail["code"] == "claim_locked"
    payment = CreditorPayment(
        external_id="p1", kind="payment", amount=1000, paid_on=dt.date(2024, 3, 1)
    )
    record = await client.report_payment("1", payment, idempotency_key="pay-p1")
    assert record.payment_id and record.case_id == handed.case_id


async def test_batches_paging_and_events(
    collection_sandbox: CollectionSandbox, linked: Linked
) -> None:
    client = linked.client
    debtors = [(f"C{n}", DEBTOR) for n in range(1, 4)]
    results = await client.upsert_debtors(debtors, idempotency_key="debtors-1")
    assert [r.status for r in results] == [201, 201, 201]
    claims = [(f"I{n}", invoice(n, debtor_ref=f"C{n}")) for n in range(1, 4)]
    claims.append(("I9", invoice(9, debtor_ref="C404")))
    results = await client.upsert_claims(claims, idempotency_key="claims-1")
    assert [r.status for r in results] == [201, 201, 201, 422]
    assert results[3].error is not None and results[3].error.code == "validation_failed"
    for ref, _ in claims[:3]:
        await client.handover(ref, start_step="reminder_1", idempotency_key=f"h-{ref}")
    cases = [case async for case in client.cases(limit=1)]
    assert len({c.id for c in cases}) == 3
    assert all(c.amounts.principal.original == 100_000 for c in cases)
    events = [event async for event in client.events(after=0, limit=2)]
    assert [e.sequence for e in events] == list(range(1, 7))
    pages = [page.next_after async for page in client.event_pages(after=4, limit=500)]
    assert pages == [6]
