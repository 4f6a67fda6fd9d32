"""The receivers' cache of installations and secrets (`webhooks.credentials`) over real HTTP, on
SQLite and PostgreSQL: what this process changes is seen by the next delivery (a disconnect,
e-conomic's access lost, a rotation, a first secret), what another process changes within the
cache's TTL, and an unknown key is read from the store no more often than a known one.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets

from plugin.api.webhooks import rotate_economic
from plugin.keys import SERVICES
from plugin.lifecycle import Lifecycle
from sync.store.installations import Installations
from sync.store.webhook_secrets import OVERLAP, WebhookSecrets
from tests.integration.test_api import NOW, Bridge
from tests.integration.test_webhooks import (
    bridge,
    collection_url,
    company,
    deliver,
    event,
    hint_url,
    jobs,
    send,
    signed,
)
from webhooks.credentials import Credentials
from webhooks.receivers import RECEIVER

__all__ = ["bridge"]  # the fixture, shared with test_webhooks


async def hint(url: str) -> int:
    return (await send("POST", url)).status


async def test_a_disconnect_is_gone_at_the_next_delivery(bridge: Bridge) -> None:
    c = await company(bridge, 1001)
    assert (await deliver(bridge, c, "evt_1")).status == 204  # the key is cached now
    assert await hint(hint_url(bridge, c, "invoice", "number=1")) == 204
    await Lifecycle(bridge.app[SERVICES]).disconnect(c.installation, actor="admin@example.com")
    assert (await deliver(bridge, c, "evt_2")).status == 410
    assert await hint(hint_url(bridge, c, "invoice", "number=2")) == 410


async def test_economic_access_lost_is_gone_at_the_next_delivery(bridge: Bridge) -> None:
    c = await company(bridge, 1001)
    assert (await deliver(bridge, c, "evt_1")).status == 204
    await Lifecycle(bridge.app[SERVICES]).economic_access_lost(c.id)
    assert (await deliver(bridge, c, "evt_2")).status == 410


async def test_a_rotated_url_secret_works_at_once_and_the_old_one_for_the_overlap(
    bridge: Bridge,
) -> None:
    c = await company(bridge, 1001)
    old_url = hint_url(bridge, c, "invoice", "number=1")
    assert await hint(old_url) == 204  # cached with the one secret there is
    await rotate_economic(bridge.app[SERVICES], c.installation, actor="admin@example.com")
    cipher = bridge.app[SERVICES].cipher
    assert cipher is not None
    new = await WebhookSecrets(bridge.db, cipher).stored_url_secret(c.id)
    assert new is not None and new != c.url_secret
    new_url = hint_url(bridge, c, "invoice", "number=1", secret=new)
    assert (await hint(new_url), await hint(old_url)) == (204, 204)
    bridge.clock.now = NOW + OVERLAP - dt.timedelta(seconds=1)
    assert (await hint(new_url), await hint(old_url)) == (204, 204)
    bridge.clock.now = NOW + OVERLAP  # within the cache's TTL of the last read, yet refused
    assert (await hint(new_url), await hint(old_url)) == (204, 404)


async def test_a_first_signing_secret_is_used_by_the_next_delivery(bridge: Bridge) -> None:
    installation = await bridge.company(1001)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    body = event("evt_1")
    url = collection_url(bridge, installation.installation_key)
    assert (await send("POST", url, body, signed(secret, "evt_1", body))).status == 401
    cipher = bridge.app[SERVICES].cipher
    assert cipher is not None
    await WebhookSecrets(bridge.db, cipher).save_collection_signing_secret(
        installation.id, secret, now=NOW
    )  # as onboarding stores it, which tells no cache
    assert (await send("POST", url, body, signed(secret, "evt_1", body))).status == 204


async def test_another_process_revoking_is_seen_within_the_ttl(bridge: Bridge) -> None:
    receiver = bridge.app[RECEIVER]
    elapsed = [0.0]  # the cache's monotonic seconds, moved by the test
    receiver.credentials = Credentials(
        receiver.read, clock=bridge.clock, ttl=0.5, monotonic=lambda: elapsed[0]
    )
    c = await company(bridge, 1001)
    assert (await deliver(bridge, c, "evt_1")).status == 204
    # Another process revokes it: this one is not told (no forget_installation here).
    await Installations(bridge.db).set_status(c.id, "revoked", now=NOW)
    await bridge.app[SERVICES].queue.park_installation(c.id, now=NOW)
    stale = (await deliver(bridge, c, "evt_2")).status
    elapsed[0] += 0.6  # past the TTL
    assert (await deliver(bridge, c, "evt_3")).status == 410
    # Stored within the TTL or not, no job of the revoked installation runs: the writer reads
    # the status again after its commit and parks what it enqueued.
    assert stale in (204, 410)
    assert {j.state for j in await jobs(bridge)} == {"parked"}


async def test_an_unknown_key_is_read_as_rarely_as_a_known_one(bridge: Bridge) -> None:
    c = await company(bridge, 1001)
    cache = bridge.app[RECEIVER].credentials
    body = event("evt_1")
    made_up = collection_url(bridge, "nosuchkey0123456789abc")
    before = cache.loads
    for n in range(5):
        answer = await send("POST", made_up, body, signed(c.signing_secret, "evt_1", body))
        assert answer.status == 404
        assert (await deliver(bridge, c, f"evt_{n}")).status == 204
    assert cache.loads - before == 2  # one read of each key
