"""The token-refresh lease fences its holder: a holder whose lease ran out, or passed to another
process, can no longer record a refresh or store a pair. On PostgreSQL the lease is judged by
the database server's clock, so a worker whose clock runs ahead cannot take a live lease."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

import pytest

from sync.clients.collection_auth import StoredTokens
from sync.clients.collection_tokens import DatabaseTokenStore
from sync.crypto import TokenCipher
from sync.store.db import Database
from sync.store.installations import Installations
from sync.store.leases import Leases

CIPHER = TokenCipher(["lease-test-secret-key-0123456789abcdef"])


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def pair(name: str) -> StoredTokens:
    return StoredTokens(
        access_token=f"at_{name}",
        refresh_token=f"rt_{name}",
        expires_at=utcnow() + dt.timedelta(hours=1),
    )


async def expire_leases(db: Database) -> None:
    """Every lease ran out long ago (by any clock): a holder stalled past its lease."""
    await db.run_script("UPDATE leases SET until = '2000-01-01T00:00:00.000000Z'")


async def linked(db: Database) -> tuple[int, DatabaseTokenStore]:
    created = await Installations(db).create(agreement_number=4711, company_name="c", now=utcnow())
    store = DatabaseTokenStore(db, CIPHER)
    assert await store.save_tokens(created.id, pair("first"), now=utcnow())
    return created.id, store


async def stored_refresh_token(store: DatabaseTokenStore, installation_id: int) -> str:
    tokens = await store.load_tokens(installation_id)
    assert tokens is not None
    return tokens.refresh_token


async def test_a_holder_whose_lease_passed_cannot_store_a_pair(db: Database) -> None:
    installation_id, store = await linked(db)
    assert await store.acquire_refresh_lock(installation_id, "a", now=utcnow(), ttl=30)
    assert await store.save_tokens(installation_id, pair("a1"), now=utcnow(), holder="a")
    await expire_leases(db)
    assert await store.acquire_refresh_lock(installation_id, "b", now=utcnow(), ttl=30)
    assert await store.save_tokens(installation_id, pair("b1"), now=utcnow(), holder="b")

    assert not await store.save_tokens(installation_id, pair("a2"), now=utcnow(), holder="a")
    assert not await store.mark_refreshing(installation_id, "rt_b1", now=utcnow(), holder="a")
    stored = await store.load_tokens(installation_id)
    assert stored is not None and stored.refresh_token == "rt_b1" and stored.refreshing is None
    # Nor does a stale holder's release end the new holder's lease.
    await store.release_refresh_lock(installation_id, "a")
    assert await store.save_tokens(installation_id, pair("b2"), now=utcnow(), holder="b")
    assert await stored_refresh_token(store, installation_id) == "rt_b2"


async def test_a_lease_that_ran_out_fences_even_before_anyone_takes_it(db: Database) -> None:
    installation_id, store = await linked(db)
    assert await store.acquire_refresh_lock(installation_id, "a", now=utcnow(), ttl=30)
    await expire_leases(db)
    assert not await store.save_tokens(installation_id, pair("a1"), now=utcnow(), holder="a")
    assert await stored_refresh_token(store, installation_id) == "rt_first"
    # Taken again, it is held again.
    assert await store.acquire_refresh_lock(installation_id, "a", now=utcnow(), ttl=30)
    assert await store.save_tokens(installation_id, pair("a1"), now=utcnow(), holder="a")
    assert await stored_refresh_token(store, installation_id) == "rt_a1"


async def test_a_released_lease_fences_its_former_holder(db: Database) -> None:
    installation_id, store = await linked(db)
    assert await store.acquire_refresh_lock(installation_id, "a", now=utcnow(), ttl=30)
    await store.release_refresh_lock(installation_id, "a")
    assert not await store.save_tokens(installation_id, pair("a1"), now=utcnow(), holder="a")
    # A new grant (link, partner flow) is no refresh and needs no lease.
    assert await store.save_tokens(installation_id, pair("relinked"), now=utcnow())
    assert await stored_refresh_token(store, installation_id) == "rt_relinked"


@pytest.mark.postgres
async def test_postgres_judges_a_lease_by_the_server_clock(
    postgres_url: str, db_for: Callable[[str], Awaitable[Database]]
) -> None:
    leases = Leases(await db_for(postgres_url))
    fast = utcnow() + dt.timedelta(hours=1)  # a worker whose clock runs an hour ahead
    assert await leases.acquire("refresh:1", "a", ttl=30, now=utcnow())
    assert not await leases.acquire("refresh:1", "b", ttl=30, now=fast)
    # Nor does a clock that runs behind cut a lease short: it lasts ttl by the server's clock.
    slow = utcnow() - dt.timedelta(hours=1)
    assert await leases.acquire("refresh:2", "a", ttl=30, now=slow)
    assert not await leases.acquire("refresh:2", "b", ttl=30, now=utcnow())
