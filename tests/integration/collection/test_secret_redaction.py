"""Secrets the collection platform hands us are known to the redaction as they arrive: a
refreshed token pair (before it is even stored), a webhook signing secret when an endpoint is
created or its secret rotated. Each test starts as a process that has seen none of them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import msgspec
import pytest

from sync import redaction
from sync.clients.collection_auth import StoredTokens
from sync.redaction import MASK, SecretRegistry, scrub
from tests.fixtures.collection import CollectionSandbox
from tests.integration.collection.conftest import Linked


@pytest.fixture
def fresh_secrets() -> Iterator[SecretRegistry]:
    with redaction.fresh_process() as registry:
        yield registry


async def test_webhook_signing_secrets_are_masked_once_received(
    collection_sandbox: CollectionSandbox, linked: Linked, fresh_secrets: SecretRegistry
) -> None:
    endpoint = await linked.client.create_webhook_endpoint(
        "https://app.example/webhooks/collection/k", idempotency_key="endpoint:1"
    )
    assert endpoint.secret is not None
    assert scrub(f"signed with {endpoint.secret}") == f"signed with {MASK}"
    rotated = await linked.client.rotate_webhook_secret(endpoint.id, idempotency_key="rotate:1")
    assert rotated != endpoint.secret
    assert scrub(f"signed with {rotated}") == f"signed with {MASK}"


async def test_a_refreshed_pair_is_masked_as_soon_as_it_arrives(
    collection_sandbox: CollectionSandbox, linked: Linked
) -> None:
    current = await linked.store.load_tokens(linked.installation_id)
    assert current is not None
    expired = msgspec.structs.replace(current, expires_at=dt.datetime.now(dt.UTC))
    await linked.store.save_tokens(linked.installation_id, expired, now=dt.datetime.now(dt.UTC))
    seen: list[str] = []

    async def look_before_it_is_stored(answer: object) -> None:
        assert answer.refresh_token is not None  # type: ignore[attr-defined]
        seen.append(scrub(f"{answer.access_token} {answer.refresh_token}"))  # type: ignore[attr-defined]

    linked.client.tokens.after_token_answer = look_before_it_is_stored  # the crash tests' seam
    with redaction.fresh_process():  # none of the new pair known yet
        await linked.client.account()
        assert seen == [f"{MASK} {MASK}"]
        stored = await linked.store.load_tokens(linked.installation_id)
        assert isinstance(stored, StoredTokens)
        assert scrub(stored.access_token) == MASK
