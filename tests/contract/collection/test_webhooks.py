"""Standard Webhooks deliveries, secret rotation, retries, disabling and the events feed."""

from __future__ import annotations

import json

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from sandbox.collection.signing import SignatureError, sign, verify
from tests.contract.collection.support import (
    Api,
    account_api,
    claim,
    debtor,
)
from tests.fixtures.collection import CollectionSandbox
from tests.fixtures.conditions import eventually
from tests.fixtures.receiver import webhook_receiver

# The example from the Standard Webhooks specification.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def spec_headers(
    signature: str = SPEC_SIGNATURE, timestamp: int = SPEC_TIMESTAMP
) -> dict[str, str]:
    return {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def test_specification_vector() -> None:
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE
    verify(SPEC_BODY, spec_headers(), [SPEC_SECRET], now=SPEC_TIMESTAMP + 10)
    verify(
        SPEC_BODY, spec_headers("v1,bm90IGl0 " + SPEC_SIGNATURE), [SPEC_SECRET], now=SPEC_TIMESTAMP
    )


@pytest.mark.parametrize(
    ("body", "headers", "now"),
    [
        (b'{"test": 2432232315}', spec_headers(), SPEC_TIMESTAMP),
        (SPEC_BODY, spec_headers(), SPEC_TIMESTAMP + 301),
        (SPEC_BODY, spec_headers(), SPEC_TIMESTAMP - 301),
        (SPEC_BODY, spec_headers("v2," + SPEC_SIGNATURE[3:]), SPEC_TIMESTAMP),
        (SPEC_BODY, {"webhook-id": SPEC_ID}, SPEC_TIMESTAMP),
    ],
)
def test_specification_vector_rejections(body: bytes, headers: dict[str, str], now: int) -> None:
    with pytest.raises(SignatureError):
        verify(body, headers, [SPEC_SECRET], now=now)


async def handover_one(api: Api) -> str:
    await api("PUT", "/v1/debtors/C1", debtor())
    await api("PUT", "/v1/claims/1001", claim())
    reply = await api("POST", "/v1/claims/1001/handover", {"start_step": "reminder_1"})
    return str(reply.body["case_id"])


async def test_deliveries_verify_with_the_reference_library(
    collection_sandbox: CollectionSandbox,
) -> None:
    api = await account_api(collection_sandbox)
    async with webhook_receiver() as receiver:
        created = await api(
            "POST", "/v1/webhook-endpoints", {"url": receiver.url, "event_types": ["*"]}
        )
        assert created.status == 201
        secret = created.body["secret"]
        assert secret.startswith("whsec_")
        case_id = await handover_one(api)
        seen = {}
        for _ in range(2):  # case.opened and letter.sent, in any order
            delivery = await receiver.next()
            payload = Webhook(secret).verify(delivery.body, delivery.headers)
            assert delivery.headers["webhook-id"] == payload["id"]
            seen[payload["type"]] = payload
        assert set(seen) == {"case.opened", "letter.sent"}
        opened = seen["case.opened"]
        assert opened["data"] == {
            "case_id": case_id,
            "debtor_ref": "C1",
            "claim_refs": ["1001"],
            "step": "reminder_1",
        }
        assert opened["account_id"] == collection_sandbox.account_ids[0]
        assert sorted(p["sequence"] for p in seen.values()) == [1, 2]
        assert opened["occurred_at"].startswith("2024-03-01T")
        assert seen["letter.sent"]["data"]["channel"] == "email"
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(delivery.body + b" ", delivery.headers)


async def test_rotation_signs_with_both_secrets_for_24_hours(
    collection_sandbox: CollectionSandbox,
) -> None:
    api = await account_api(collection_sandbox)
    async with webhook_receiver() as receiver:
        created = await api(
            "POST", "/v1/webhook-endpoints", {"url": receiver.url, "event_types": ["case.opened"]}
        )
        endpoint_id, old = created.body["id"], created.body["secret"]
        rotated = await api("POST", f"/v1/webhook-endpoints/{endpoint_id}/rotate-secret")
        assert rotated.status == 200
        new = rotated.body["secret"]
        assert new != old
        await handover_one(api)
        delivery = await receiver.next()
        assert len(delivery.headers["webhook-signature"].split(" ")) == 2
        Webhook(old).verify(delivery.body, delivery.headers)
        Webhook(new).verify(delivery.body, delivery.headers)
        endpoint = collection_sandbox.state.endpoints[endpoint_id]
        endpoint.old_secret_until = collection_sandbox.wall() - 1  # the 24 hours are over
        await api("PUT", "/v1/debtors/C2", debtor())
        await api("PUT", "/v1/claims/2002", claim("C2"))
        await api("POST", "/v1/claims/2002/handover", {"start_step": "reminder_1"})
        later = await receiver.next()
        assert len(later.headers["webhook-signature"].split(" ")) == 1
        Webhook(new).verify(later.body, later.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(old).verify(later.body, later.headers)


async def test_failed_deliveries_are_retried_on_the_schedule(
    collection_sandbox: CollectionSandbox,
) -> None:
    api = await account_api(collection_sandbox)
    async with webhook_receiver(statuses=[500, 503]) as receiver:
        await api(
            "POST", "/v1/webhook-endpoints", {"url": receiver.url, "event_types": ["case.opened"]}
        )
        await handover_one(api)
        attempts = [await receiver.next() for _ in range(3)]
    assert len({a.headers["webhook-id"] for a in attempts}) == 1
    assert [d["status"] for d in collection_sandbox.state.deliveries] == [500, 503, 200]


async def test_endpoint_failing_the_whole_schedule_is_disabled(
    collection_sandbox: CollectionSandbox,
) -> None:
    api = await account_api(collection_sandbox)
    async with webhook_receiver(statuses=[500] * 10) as receiver:
        created = await api(
            "POST", "/v1/webhook-endpoints", {"url": receiver.url, "event_types": ["case.opened"]}
        )
        await handover_one(api)
        endpoint = collection_sandbox.state.endpoints[created.body["id"]]
        await eventually(lambda: not endpoint.enabled)
    assert len(collection_sandbox.state.deliveries) == 4  # the first try and 3 retries
    listed = await api("GET", "/v1/webhook-endpoints")
    assert listed.body["items"][0]["enabled"] is False


async def test_events_feed_fills_gaps(collection_sandbox: CollectionSandbox) -> None:
    api = await account_api(collection_sandbox)
    await collection_sandbox.control("POST", "/_sandbox/faults", {"drop_webhooks_rate": 1.0})
    async with webhook_receiver() as receiver:
        await api("POST", "/v1/webhook-endpoints", {"url": receiver.url, "event_types": ["*"]})
        await handover_one(api)
        await collection_sandbox.control("POST", "/_sandbox/clock", {"advance_days": 10})
        assert receiver.received == []
    assert all(d["dropped"] for d in collection_sandbox.state.deliveries)
    page = await api("GET", "/v1/events?after=0&limit=2")
    assert [e["sequence"] for e in page.body["items"]] == [1, 2]
    assert page.body["next_after"] == 2
    rest = await api("GET", f"/v1/events?after={page.body['next_after']}")
    types = [e["type"] for e in page.body["items"] + rest.body["items"]]
    assert types == ["case.opened", "letter.sent", "case.step_changed", "letter.sent"]
    assert rest.body["next_after"] == 4
    caught_up = await api("GET", "/v1/events?after=4")
    assert caught_up.body == {"items": [], "next_after": 4}
    step = rest.body["items"][0]
    assert step["data"]["from_step"] == "reminder_1" and step["data"]["to_step"] == "reminder_2"
    assert step["occurred_at"].startswith("2024-03-11T")
    assert json.loads(json.dumps(step)) == step
    bad = await api("GET", "/v1/events?limit=501")
    assert bad.status == 400
