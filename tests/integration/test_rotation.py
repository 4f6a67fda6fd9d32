"""Webhook secret rotation over real HTTP, on SQLite and PostgreSQL (issue 11, item 5): a company
onboarded against both simulators, then each secret rotated by its admin.

The 24 hours of overlap are judged by the app's business clock (`Wiring.clock`, the test's
`Clock`), moved by hand; Standard Webhooks timestamps stay on the wall clock.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from collections.abc import AsyncIterator

import aiohttp
import pytest

from plugin.keys import SERVICES
from sync.store.users import Role
from sync.store.webhook_secrets import OVERLAP, WebhookSecrets
from tests.fixtures.collection import CollectionSandbox
from tests.fixtures.economic import EconomicSandbox
from tests.integration.test_onboarding import (
    EVENT_TYPES,
    Answer,
    Bridge,
    control,
    our_url,
    run_bridge,
    url_secret,
)
from tests.integration.test_webhooks import event, signed

TOPICS = ("invoice", "customer", "daybook")


@pytest.fixture
async def bridge(
    database_url: str, economic_sandbox: EconomicSandbox, collection_sandbox: CollectionSandbox
) -> AsyncIterator[Bridge]:
    async with run_bridge(database_url, economic_sandbox, collection_sandbox) as running:
        answer = await running.onboard()
        assert answer.status == 200, answer
        yield running


async def rotate(bridge: Bridge, which: str, token: str | None = None) -> Answer:
    path = f"/api/v1/installations/{bridge.agreement}/webhooks/{which}/rotate"
    return await bridge.call("POST", path, token)


async def hint(url: str) -> int:
    async with aiohttp.ClientSession() as http:
        async with http.post(url.replace("[INVOICENO]", "7")) as r:
            return r.status


async def signing_secret(bridge: Bridge) -> str:
    cipher = bridge.app[SERVICES].cipher
    assert cipher is not None
    stored = WebhookSecrets(bridge.db, cipher)
    found = await stored.collection_signing_secret((await bridge.installation()).id)
    assert found is not None
    return found


async def deliver(bridge: Bridge, secret: str | list[str], event_id: str, sequence: int) -> int:
    key = (await bridge.installation()).installation_key
    body = event(event_id, sequence=sequence)
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{bridge.url}/webhooks/collection/{key}",
            data=body,
            headers=signed(secret, event_id, body),
        ) as r:
            return r.status


# -- e-conomic --------------------------------------------------------------------------------


async def test_the_economic_rotation_moves_the_subscriptions_and_keeps_the_old_url_for_a_day(
    bridge: Bridge,
) -> None:
    key = (await bridge.installation()).installation_key
    old = await url_secret(bridge)
    before = {e: s["id"] for e, s in bridge.company().webhook_subscriptions.items()}
    assert set(before) == set(EVENT_TYPES)

    answer = await rotate(bridge, "economic")
    assert answer.status == 200, answer
    assert answer.body["agreement_number"] == bridge.agreement
    assert answer.body["webhooks"]["economic"]["mode"] == "api"
    assert answer.body["webhooks"]["economic"]["legacy_urls"] is None  # nothing to paste
    new = await url_secret(bridge)
    assert new != old

    # every subscription points at the new URL of its topic, the same subscription (PUT)
    subscriptions = bridge.company().webhook_subscriptions
    assert {e: s["id"] for e, s in subscriptions.items()} == before
    for event_type, sub in subscriptions.items():
        assert sub["url"] == our_url(bridge, key, new, EVENT_TYPES[event_type])
    assert old not in str(subscriptions)
    assert "webhooks.economic_rotated" in await bridge.actions()

    old_url, new_url = our_url(bridge, key, old, "invoice"), our_url(bridge, key, new, "invoice")
    assert (await hint(old_url), await hint(new_url)) == (204, 204)
    bridge.clock.now += OVERLAP - dt.timedelta(seconds=1)
    assert (await hint(old_url), await hint(new_url)) == (204, 204)
    bridge.clock.now += dt.timedelta(seconds=1)
    assert (await hint(old_url), await hint(new_url)) == (404, 204)
    # a URL secret that was never ours is refused before and after alike
    assert await hint(our_url(bridge, key, secrets.token_urlsafe(24), "invoice")) == 404


async def test_a_second_rotation_drops_the_oldest_secret(bridge: Bridge) -> None:
    key = (await bridge.installation()).installation_key
    first = await url_secret(bridge)
    assert (await rotate(bridge, "economic")).status == 200
    second = await url_secret(bridge)
    assert (await rotate(bridge, "economic")).status == 200
    third = await url_secret(bridge)
    statuses = [await hint(our_url(bridge, key, s, "invoice")) for s in (first, second, third)]
    assert statuses == [404, 204, 204]
    for event_type, sub in bridge.company().webhook_subscriptions.items():
        assert sub["url"] == our_url(bridge, key, third, EVENT_TYPES[event_type])


async def test_a_subscription_removed_in_economic_is_made_again(bridge: Bridge) -> None:
    key = (await bridge.installation()).installation_key
    del bridge.company().webhook_subscriptions["DAYBOOK_BOOKED"]
    answer = await rotate(bridge, "economic")
    assert answer.status == 200, answer
    assert answer.body["webhooks"]["economic"]["subscriptions"] == dict.fromkeys(EVENT_TYPES, "api")
    new = await url_secret(bridge)
    subscriptions = bridge.company().webhook_subscriptions
    assert subscriptions["DAYBOOK_BOOKED"]["url"] == our_url(bridge, key, new, "daybook")
    installation = await bridge.installation()
    ids = installation.settings["webhooks"]["economic"]["subscription_ids"]
    assert ids == {e: s["id"] for e, s in subscriptions.items()}


async def test_legacy_urls_in_the_answer_carry_the_new_secret_for_admins_only(
    database_url: str, economic_sandbox: EconomicSandbox, collection_sandbox: CollectionSandbox
) -> None:
    async with run_bridge(database_url, economic_sandbox, collection_sandbox) as bridge:
        refused = {"agreement": bridge.agreement, "webhooks_api": False}
        await control(bridge.economic.url, "PUT", "/_sandbox/roles", refused)
        assert (await bridge.onboard()).status == 200
        key, old = (await bridge.installation()).installation_key, await url_secret(bridge)
        answer = await rotate(bridge, "economic")
        assert answer.status == 200, answer
        new = await url_secret(bridge)
        expected = {t: our_url(bridge, key, new, t) for t in TOPICS}
        assert answer.body["webhooks"]["economic"]["legacy_urls"] == expected
        assert old not in str(answer.body)
        assert (await hint(our_url(bridge, key, old, "invoice"))) == 204  # not yet re-pasted
        installation = await bridge.installation()
        for role in ("guest", "caseworker"):
            token = await bridge.person(f"{role}@example.com", role, installation)
            shown = (await bridge.view(token))["webhooks"]["economic"]
            assert "legacy_urls" not in shown and new not in str(shown)


@pytest.mark.parametrize("which", ["economic", "collection"])
@pytest.mark.parametrize("role", ["guest", "caseworker"])
async def test_only_an_admin_rotates(bridge: Bridge, which: str, role: Role) -> None:
    installation = await bridge.installation()
    token = await bridge.person(f"{role}@example.com", role, installation)
    url, signing = await url_secret(bridge), await signing_secret(bridge)
    (await rotate(bridge, which, token)).problem(403, "role_required")
    assert (await url_secret(bridge), await signing_secret(bridge)) == (url, signing)


# -- collection -------------------------------------------------------------------------------


async def test_the_collection_rotation_accepts_the_old_signature_for_a_day(
    bridge: Bridge,
) -> None:
    old = await signing_secret(bridge)
    (endpoint,) = [e for e in bridge.collection.state.endpoints.values() if not e.deleted]
    assert endpoint.secret == old

    answer = await rotate(bridge, "collection")
    assert answer.status == 200, answer
    assert answer.body["webhooks"]["collection"] == {"state": "ok"}
    new = await signing_secret(bridge)
    assert new != old and endpoint.secret == new and endpoint.old_secret == old
    assert "webhooks.collection_rotated" in await bridge.actions()

    assert await deliver(bridge, old, "evt_old_1", 1) == 204
    assert await deliver(bridge, new, "evt_new_1", 2) == 204
    assert await deliver(bridge, [new, old], "evt_both_1", 3) == 204  # as the platform signs
    bridge.clock.now += OVERLAP - dt.timedelta(seconds=1)
    assert await deliver(bridge, old, "evt_old_2", 4) == 204
    bridge.clock.now += dt.timedelta(seconds=1)
    assert await deliver(bridge, old, "evt_old_3", 5) == 401
    assert await deliver(bridge, new, "evt_new_2", 6) == 204
    assert await deliver(bridge, [new, old], "evt_both_2", 7) == 204
    stranger = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    assert await deliver(bridge, stranger, "evt_stranger", 8) == 401


async def test_without_a_collection_endpoint_there_is_nothing_to_rotate(
    database_url: str, economic_sandbox: EconomicSandbox, collection_sandbox: CollectionSandbox
) -> None:
    async with run_bridge(database_url, economic_sandbox, collection_sandbox) as bridge:
        (await rotate(bridge, "collection")).problem(409, "no_collection_webhook")
