"""The collection client's in-process retries against the simulator (see `sync.clients.retrying`).

Regression tests for the review of the shared retry module: a ``Retry-After`` over 30 s on a 5xx
used to be slept through inside the call, and every 5xx used to be retried in-process.
"""

from __future__ import annotations

import pytest

from sync.errors import RateLimitedError, TransientError
from tests.fixtures.collection import CollectionSandbox
from tests.integration.collection.conftest import Linked
from tests.integration.collection.test_client import calls, seconds


async def test_long_retry_after_on_a_503_is_raised_not_waited(
    collection_sandbox: CollectionSandbox, linked: Linked
) -> None:
    since = collection_sandbox.state.now_rfc3339()
    await collection_sandbox.control(
        "POST", "/_sandbox/faults", {"status": 503, "rate": 1.0, "retry_after": 120}
    )
    with pytest.raises(TransientError) as caught:
        await linked.client.account()
    assert not isinstance(caught.value, RateLimitedError)
    assert caught.value.code == "unavailable" and caught.value.retry_after == 120
    assert [c["status"] for c in await calls(collection_sandbox, since, "/v1/account")] == [503]


async def test_short_retry_after_on_a_503_is_waited_out(
    collection_sandbox: CollectionSandbox, linked: Linked
) -> None:
    since = collection_sandbox.state.now_rfc3339()
    await collection_sandbox.control(
        "POST", "/_sandbox/faults", {"status": 503, "count": 1, "retry_after": 1}
    )
    assert (await linked.client.account()).id == collection_sandbox.account_ids[0]
    made = await calls(collection_sandbox, since, "/v1/account")
    assert [c["status"] for c in made] == [503, 200]
    assert seconds(made[1]["at"]) - seconds(made[0]["at"]) >= 1.0


@pytest.mark.parametrize("status", [501, 505])
async def test_other_5xx_are_unavailable_without_in_process_retries(
    collection_sandbox: CollectionSandbox, linked: Linked, status: int
) -> None:
    since = collection_sandbox.state.now_rfc3339()
    await collection_sandbox.control("POST", "/_sandbox/faults", {"status": status})
    with pytest.raises(TransientError) as caught:
        await linked.client.account()
    assert caught.value.code == "unavailable" and caught.value.retry_after is None
    assert [c["status"] for c in await calls(collection_sandbox, since, "/v1/account")] == [status]
