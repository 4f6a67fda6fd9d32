"""`Leases.hold`: one holder at a time, a busy lease a wait that gives up without spending the
job's attempt, and a renewal that never takes back a lease that expired or passed on."""

from __future__ import annotations

import datetime as dt

import pytest

from sync.errors import LeaseBusyError
from sync.store.db import Database
from sync.store.leases import Leases
from tests.store.test_refresh_lease import expire_leases


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def test_a_renewal_never_takes_back_a_lease_that_passed(db: Database) -> None:
    leases = Leases(db)
    assert await leases.acquire("push", "a", ttl=30, now=utcnow())
    assert await leases.renew("push", "a", ttl=30, now=utcnow())
    await expire_leases(db)  # a stalled past it
    assert not await leases.renew("push", "a", ttl=30, now=utcnow())
    assert await leases.acquire("push", "b", ttl=30, now=utcnow())
    assert await leases.release("push", "b")
    # Free again (no row): taking it is for acquire, never for a's renewal.
    assert not await leases.renew("push", "a", ttl=30, now=utcnow())
    assert await leases.acquire("push", "c", ttl=30, now=utcnow())


async def test_a_held_lease_is_waited_for_then_given_up_without_an_attempt(db: Database) -> None:
    leases = Leases(db)
    async with leases.hold("push", ttl=30, wait=5, clock=utcnow) as held:
        assert not held.lost
        with pytest.raises(LeaseBusyError) as busy:
            async with leases.hold("push", ttl=30, wait=0.05, clock=utcnow):
                raise AssertionError("held twice")
        assert busy.value.spends_attempt is False and busy.value.retry_after
    # Given back when the block ended: the next holder takes it at once.
    async with leases.hold("push", ttl=30, wait=0, clock=utcnow) as again:
        assert again.holder != held.holder
