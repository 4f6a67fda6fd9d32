"""Installations, API usage, leases and problems on both engines."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sync.errors import ValidationError
from sync.jobs import JobQueue, NewJob
from sync.store.db import Database
from sync.store.installations import Installations
from sync.store.leases import Leases
from sync.store.problems import Problems
from sync.store.usage import ApiUsage

NOW = dt.datetime(2026, 11, 23, 12, 0, 30, tzinfo=dt.UTC)


async def test_reinstall_keeps_the_same_installation(db: Database) -> None:
    installations = Installations(db)
    first = await installations.create(agreement_number=9001, company_name="A/S", now=NOW)
    again = await installations.create(agreement_number=9001, company_name="B A/S", now=NOW)
    assert again.id == first.id
    assert again.installation_key == first.installation_key
    assert again.company_name == "B A/S"
    assert (await installations.get_by_key(first.installation_key)) == again
    await installations.set_status(first.id, "revoked", now=NOW)
    revoked = await installations.get_by_agreement(9001)
    assert revoked is not None and revoked.status == "revoked" and revoked.revoked_at == NOW


async def test_api_usage_is_a_rolling_24h_window(db: Database) -> None:
    inst = await Installations(db).create(agreement_number=1, company_name="x", now=NOW)
    usage = ApiUsage(db)
    for minutes_ago in (0, 0, 1, 60 * 23, 60 * 25):
        at = NOW - dt.timedelta(minutes=minutes_ago)
        await usage.record_api_call(inst.id, "economic", at)
    await usage.record_api_call(inst.id, "collection", NOW)
    assert await usage.calls_24h(inst.id, "economic", NOW) == 4
    assert await usage.calls_24h(inst.id, "collection", NOW) == 1
    assert await usage.calls_24h(inst.id, "economic", NOW + dt.timedelta(hours=24, minutes=2)) == 0
    assert await usage.purge(NOW) == 1


async def test_budget_wait_tells_when_the_window_has_room_again(db: Database) -> None:
    inst = await Installations(db).create(agreement_number=2, company_name="x", now=NOW)
    usage = ApiUsage(db)
    for minutes_ago in (0, 0, 1, 60 * 23):
        await usage.record_api_call(inst.id, "economic", NOW - dt.timedelta(minutes=minutes_ago))
    assert await usage.budget_wait(inst.id, "economic", limit=5, now=NOW) == 0
    # Full at 4: room opens when the bucket of 23 hours ago has left the window entirely
    # (NOW is 30 s into its minute).
    assert await usage.budget_wait(inst.id, "economic", limit=4, now=NOW) == 3660 - 30
    assert await usage.budget_wait(inst.id, "economic", limit=2, now=NOW) == 24 * 3600 + 60 - 30


async def test_lease_is_exclusive_until_it_expires(db: Database) -> None:
    leases = Leases(db)
    assert await leases.acquire("refresh:1", "a", ttl=30, now=NOW)
    assert not await leases.acquire("refresh:1", "b", ttl=30, now=NOW)
    assert await leases.acquire("refresh:1", "a", ttl=30, now=NOW)  # re-entrant for the holder
    # It runs out (by the server's clock on PostgreSQL, the one passed in on SQLite).
    await db.run_script("UPDATE leases SET until = '2000-01-01T00:00:00.000000Z'")
    assert await leases.acquire("refresh:1", "b", ttl=30, now=NOW)
    assert not await leases.release("refresh:1", "a")
    assert await leases.release("refresh:1", "b")
    assert await leases.acquire("refresh:1", "c", ttl=30, now=NOW)


async def test_problems_are_counted_while_open(db: Database) -> None:
    inst = await Installations(db).create(agreement_number=2, company_name="x", now=NOW)
    problems = Problems(db)
    job_id = await JobQueue(db).enqueue(
        NewJob(kind="push_claim", installation_id=inst.id, dedupe_key="claim:7"), now=NOW
    )
    job = await JobQueue(db).get(job_id)
    assert job is not None
    exc = ValidationError(
        "debtor has no address", detail={"field": "address"}, platform="collection"
    )
    await problems.record_job_problem(job, exc, NOW)
    await problems.record_job_problem(job, exc, NOW + dt.timedelta(minutes=1))
    [problem] = await problems.open(inst.id)
    assert problem.occurrences == 2
    assert problem.category == "rejected_by_collector"
    assert problem.code == "validation_failed"
    assert problem.detail == {"detail": {"field": "address"}}
    assert await problems.resolve(problem.id, now=NOW)
    assert await problems.open(inst.id) == []


async def test_problems_of_no_installation_are_counted_too(db: Database) -> None:
    problems = Problems(db)
    kwargs: dict[str, Any] = {
        "installation_id": None,
        "category": "rejected_by_collector",
        "code": "configuration_error",
        "subject": "collection:client",
        "message": "client credentials refused",
    }
    first = await problems.record(**kwargs, now=NOW)
    again = await problems.record(**kwargs, now=NOW + dt.timedelta(minutes=1))
    assert first == again
    assert await problems.resolve(first, now=NOW)
    assert await problems.record(**kwargs, now=NOW) != first
