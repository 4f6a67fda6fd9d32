"""``Idempotency-Key`` replays and conflicts; creditor payments keyed by ``external_id``."""

from __future__ import annotations

from tests.contract.collection.support import account_api, claim, debtor, problem_shape_ok
from tests.fixtures.collection import CollectionSandbox


async def test_same_key_same_body_replays(collection_sandbox: CollectionSandbox) -> None:
    api = await account_api(collection_sandbox)
    await api("PUT", "/v1/debtors/C1", debtor())
    await api("PUT", "/v1/claims/1001", claim())
    key = {"Idempotency-Key": "handover-1001"}
    first = await api(
        "POST", "/v1/claims/1001/handover", {"start_step": "reminder_1", "note": "x"}, key
    )
    assert first.status == 202 and "Idempotent-Replayed" not in first.headers
    # The same JSON value with its keys in another order is the same body.
    replay = await api(
        "POST", "/v1/claims/1001/handover", {"note": "x", "start_step": "reminder_1"}, key
    )
    assert replay.status == 202
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.body == first.body
    assert len(collection_sandbox.state.cases) == 1
    other = await api("POST", "/v1/claims/1001/handover", {"start_step": "collection_notice"}, key)
    assert other.status == 409
    assert problem_shape_ok(other.body, 409, "idempotency_key_reused")
    without_key = await api("POST", "/v1/claims/1001/handover", {"start_step": "reminder_1"})
    assert without_key.status == 409 and without_key.body["code"] == "conflict"


async def test_keys_are_kept_24_hours(collection_sandbox: CollectionSandbox) -> None:
    api = await account_api(collection_sandbox)
    key = {"Idempotency-Key": "endpoint-1"}
    body = {"url": "http://127.0.0.1:9/hook", "event_types": ["*"]}
    first = await api("POST", "/v1/webhook-endpoints", body, key)
    assert first.status == 201
    replay = await api("POST", "/v1/webhook-endpoints", body, key)
    assert replay.body["secret"] == first.body["secret"]
    collection_sandbox.wall.skip(24 * 3600 + 1)
    api.token = (await collection_sandbox.link())["access_token"]
    fresh = await api("POST", "/v1/webhook-endpoints", body, key)
    assert fresh.status == 201 and "Idempotent-Replayed" not in fresh.headers
    assert fresh.body["id"] != first.body["id"]


async def test_creditor_payment_keyed_by_external_id(collection_sandbox: CollectionSandbox) -> None:
    api = await account_api(collection_sandbox)
    await api("PUT", "/v1/debtors/C1", debtor())
    await api("PUT", "/v1/claims/1001", claim())
    await api("POST", "/v1/claims/1001/handover", {"start_step": "collection_notice"})
    payment = {"external_id": "pay-1", "kind": "payment", "amount": 50_000, "paid_on": "2024-03-01"}
    first = await api("POST", "/v1/claims/1001/payments", payment)
    assert first.status == 201 and first.body["payment_id"]
    again = await api("POST", "/v1/claims/1001/payments", payment)
    assert again.status == 200 and again.body == first.body
    other = await api("POST", "/v1/claims/1001/payments", {**payment, "amount": 1})
    assert other.status == 409 and other.body["code"] == "conflict"
    received = [
        e.data
        for e in collection_sandbox.state.events[collection_sandbox.account_ids[0]]
        if e.type == "payment.received"
    ]
    assert len(received) == 1 and received[0]["source"] == "creditor"
