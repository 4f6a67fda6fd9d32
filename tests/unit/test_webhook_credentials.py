"""`webhooks.credentials`: what is kept, for how long, and what makes it go.

The store is a table in the test (`Store`): the cache's port is a function reading a key, so
these tests give it one that counts its reads; the receivers' own reads run in
tests/integration/test_webhooks_credentials.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field

import pytest

from sync.store.installations import Installation, Status
from tests.fixtures.conditions import NOW, Clock
from webhooks.credentials import (
    MAX_KNOWN,
    Credentials,
    Kind,
    Known,
    Loaded,
    forget_installation,
)


def installation(installation_id: int, status: Status = "active") -> Installation:
    return Installation(
        id=installation_id,
        agreement_number=1000 + installation_id,
        installation_key=f"key{installation_id}",
        company_name="c",
        status=status,
        collection_state="none",
        collection_account_id=None,
        settings={},
        created_at=NOW,
        updated_at=NOW,
    )


@dataclass
class Store:
    """Keys → (installation, secrets), read with a count; ``gate`` holds reads back."""

    rows: dict[str, tuple[Installation, tuple[str, ...]]] = field(default_factory=dict)
    reads: list[str | None] = field(default_factory=list)
    changes_at: dt.datetime | None = None
    gate: asyncio.Event | None = None
    failing: bool = False

    async def read(self, key: str | None, kind: Kind, now: dt.datetime) -> Loaded:
        self.reads.append(key)
        found = self.rows.get(key or "")  # read now, answered once the gate opens
        if self.gate is not None:
            await self.gate.wait()
        if self.failing:
            raise ConnectionError("the store is down")
        if found is None:
            return Loaded(Known(None, ()))
        return Loaded(Known(*found), self.changes_at)


class Ticker:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.at = 100.0

    def __call__(self) -> float:
        return self.at


@pytest.fixture
def store() -> Store:
    return Store(rows={"key1": (installation(1), ("whsec_one",))})


def cache_of(store: Store, clock: Clock, ticker: Ticker, **kw: int) -> Credentials:
    return Credentials(store.read, clock=clock, ttl=5.0, monotonic=ticker, **kw)


async def test_a_key_is_read_once_within_the_ttl(store: Store) -> None:
    clock, ticker = Clock(NOW), Ticker()
    cache = cache_of(store, clock, ticker)
    first = await cache.get("key1", "signing")
    ticker.at += 4.9
    assert await cache.get("key1", "signing") == first
    assert first.secrets == ("whsec_one",) and store.reads == ["key1"]
    ticker.at += 0.2  # past the TTL: read again
    await cache.get("key1", "signing")
    assert store.reads == ["key1", "key1"]


async def test_each_kind_is_its_own_entry(store: Store) -> None:
    cache = cache_of(store, Clock(NOW), Ticker())
    await cache.get("key1", "signing")
    await cache.get("key1", "url")
    await cache.get("key1", "url")
    assert store.reads == ["key1", "key1"]


async def test_the_business_clock_leaving_the_window_reads_again(store: Store) -> None:
    clock = Clock(NOW)
    cache = cache_of(store, clock, Ticker())
    await cache.get("key1", "signing")
    clock.now = NOW + dt.timedelta(hours=25)  # a test moving the clock past an overlap
    await cache.get("key1", "signing")
    clock.now = NOW  # and back
    await cache.get("key1", "signing")
    assert len(store.reads) == 3


async def test_a_list_with_the_previous_secret_ends_with_its_overlap(store: Store) -> None:
    clock = Clock(NOW)
    store.rows["key1"] = (installation(1), ("whsec_new", "whsec_old"))
    store.changes_at = NOW + dt.timedelta(seconds=1)
    cache = cache_of(store, clock, Ticker())
    await cache.get("key1", "signing")
    clock.now = NOW + dt.timedelta(milliseconds=999)
    await cache.get("key1", "signing")
    assert len(store.reads) == 1
    clock.now = NOW + dt.timedelta(seconds=1)  # the overlap is over: the store decides
    store.rows["key1"] = (installation(1), ("whsec_new",))
    assert (await cache.get("key1", "signing")).secrets == ("whsec_new",)


async def test_unknown_keys_are_cached_in_a_bounded_pool_of_their_own(store: Store) -> None:
    cache = cache_of(store, Clock(NOW), Ticker(), max_unknown=10)
    await cache.get("key1", "signing")
    for n in range(50):  # a flood of made-up keys
        assert await cache.get(f"nosuch{n}", "signing") == Known(None, ())
    assert len(cache) == 1 + 10
    reads = len(store.reads)
    await cache.get("key1", "signing")  # the known key was not pushed out
    await cache.get("nosuch49", "signing")  # the newest unknown ones are kept
    assert len(store.reads) == reads


async def test_strings_that_are_no_key_share_one_entry_and_are_never_looked_up(
    store: Store,
) -> None:
    cache = cache_of(store, Clock(NOW), Ticker())
    for weird in ("no such key", "a/b", "x" * 65, "", "ключ"):
        assert await cache.get(weird, "url") == Known(None, ())
    assert store.reads == [None] and len(cache) == 1


async def test_known_keys_are_bounded_oldest_out(store: Store) -> None:
    assert MAX_KNOWN >= 1_000
    store.rows = {f"key{n}": (installation(n), ("whsec_x",)) for n in range(1, 6)}
    cache = cache_of(store, Clock(NOW), Ticker(), max_known=3)
    for n in (1, 2, 3, 1, 4):  # 1 used again: 2 is the least recently used, and goes
        await cache.get(f"key{n}", "signing")
    store.reads.clear()
    await cache.get("key1", "signing")
    await cache.get("key2", "signing")
    assert store.reads == ["key2"]


async def test_an_installation_without_a_secret_yet_is_never_kept(store: Store) -> None:
    store.rows["key2"] = (installation(2), ())
    cache = cache_of(store, Clock(NOW), Ticker())
    await cache.get("key2", "signing")
    store.rows["key2"] = (installation(2), ("whsec_first",))  # onboarding stores it
    assert (await cache.get("key2", "signing")).secrets == ("whsec_first",)


async def test_forgetting_an_installation_reads_it_again(store: Store) -> None:
    cache = cache_of(store, Clock(NOW), Ticker())
    other = cache_of(store, Clock(NOW), Ticker())
    await cache.get("key1", "signing")
    await other.get("key1", "signing")
    store.rows["key1"] = (installation(1, "revoked"), ("whsec_one",))
    forget_installation(1)  # every cache of the process
    assert (await cache.get("key1", "signing")).installation == installation(1, "revoked")
    assert (await other.get("key1", "signing")).installation == installation(1, "revoked")
    forget_installation(99)  # another installation: nothing of this one goes
    await cache.get("key1", "signing")
    assert len(store.reads) == 4


async def test_concurrent_misses_share_one_read(store: Store) -> None:
    store.gate = asyncio.Event()
    cache = cache_of(store, Clock(NOW), Ticker())
    waiting = [asyncio.create_task(cache.get("key1", "signing")) for _ in range(20)]
    await asyncio.sleep(0)
    store.gate.set()
    answers = await asyncio.gather(*waiting)
    assert store.reads == ["key1"] and all(a is answers[0] for a in answers)


async def test_a_read_in_flight_when_forgotten_is_not_kept(store: Store) -> None:
    store.gate = asyncio.Event()
    cache = cache_of(store, Clock(NOW), Ticker())
    stale = asyncio.create_task(cache.get("key1", "signing"))
    for _ in range(3):
        await asyncio.sleep(0)
    assert store.reads == ["key1"]  # on its way, with the row as it was
    store.rows["key1"] = (installation(1, "revoked"), ("whsec_one",))
    forget_installation(1)  # the status changes while the read is on its way
    store.gate.set()
    assert (await stale).installation == installation(1)  # its own requests get it
    assert (await cache.get("key1", "signing")).installation == installation(1, "revoked")
    assert store.reads == ["key1", "key1"]


async def test_a_request_that_goes_away_does_not_cancel_the_read(store: Store) -> None:
    store.gate = asyncio.Event()
    cache = cache_of(store, Clock(NOW), Ticker())
    leaving = asyncio.create_task(cache.get("key1", "signing"))
    staying = asyncio.create_task(cache.get("key1", "signing"))
    await asyncio.sleep(0)
    leaving.cancel()
    store.gate.set()
    assert (await staying).secrets == ("whsec_one",)
    assert store.reads == ["key1"]


async def test_a_failed_read_fails_its_requests_and_is_not_kept(store: Store) -> None:
    store.failing = True
    cache = cache_of(store, Clock(NOW), Ticker())
    with pytest.raises(ConnectionError):
        await cache.get("key1", "signing")
    store.failing = False
    assert (await cache.get("key1", "signing")).secrets == ("whsec_one",)
    assert len(store.reads) == 2
