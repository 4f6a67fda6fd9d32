"""The per-account rate limit, injected faults and the ``/_sandbox/calls`` log."""

from __future__ import annotations

import asyncio

from sandbox.collection.ratelimit import Bucket, take
from tests.contract.collection.support import account_api, problem_shape_ok
from tests.fixtures.collection import CollectionSandbox


def test_token_bucket_refills_at_the_rate() -> None:
    bucket, wait = take(None, now=100.0, rate=20.0, burst=40)
    assert wait is None and bucket.tokens == 39.0
    empty = Bucket(0.0, 100.0)
    assert take(empty, now=100.0, rate=20.0, burst=40)[1] == 1 / 20
    assert take(empty, now=100.1, rate=20.0, burst=40)[1] is None
    assert take(empty, now=1000.0, rate=20.0, burst=40)[0].tokens == 39.0


async def test_burst_beyond_40_is_rate_limited(collection_sandbox: CollectionSandbox) -> None:
    api = await account_api(collection_sandbox)
    replies = await asyncio.gather(*(api("GET", "/v1/account") for _ in range(60)))
    limited = [r for r in replies if r.status == 429]
    assert 1 <= len(limited) <= 20
    assert sum(r.status == 200 for r in replies) >= 40
    assert problem_shape_ok(limited[0].body, 429, "rate_limited")
    assert int(limited[0].headers["Retry-After"]) >= 1
    other = await account_api(collection_sandbox, collection_sandbox.account_ids[1])
    assert (await other("GET", "/v1/account")).status == 200  # per account


async def test_injected_faults_and_the_calls_log(collection_sandbox: CollectionSandbox) -> None:
    sandbox = collection_sandbox
    api = await account_api(sandbox)
    since = sandbox.state.now_rfc3339()
    await sandbox.control("POST", "/_sandbox/faults", {"status": 503, "rate": 1.0, "count": 2})
    statuses = [(await api("GET", "/v1/account")).status for _ in range(3)]
    assert statuses == [503, 503, 200]
    await sandbox.control(
        "POST", "/_sandbox/faults", {"status": 429, "rate": 1.0, "retry_after": 7}
    )
    limited = await api("GET", "/v1/account")
    assert limited.status == 429 and limited.headers["Retry-After"] == "7"
    await sandbox.control("POST", "/_sandbox/faults", {})
    async with sandbox.session.get(
        f"{sandbox.url}/_sandbox/calls", params={"since": since}
    ) as resp:
        calls = (await resp.json())["items"]
    account_calls = [
        (c["method"], c["path"], c["status"]) for c in calls if c["path"] == "/v1/account"
    ]
    assert account_calls == [("GET", "/v1/account", s) for s in (503, 503, 200, 429)]
    assert all(c["at"] >= since for c in calls)
