"""Access lost while syncing, against both simulators: e-conomic revoking the grant mid-way stops
the installation's work within three calls (revoked, jobs parked, one problem), and a collection
link whose refresh is refused parks the work that needs the platform."""

from __future__ import annotations

from sync import schedules
from sync.store.installations import Installations
from sync.store.problems import Problems
from sync.store.usage import ApiUsage
from tests.integration.sync.support import running_company


async def test_a_revoked_grant_stops_every_job_within_three_calls(database_url: str) -> None:
    async with running_company(database_url, invoices=60) as company:
        queue, now = company.services.queue, company.bridge.clock()
        await queue.enqueue(
            schedules.bootstrap(company.installation.id, company.agreement), now=now
        )
        await company.settle()
        async with company.services.http.post(
            f"{company.economic.url}/_sandbox/grants/{company.agreement}/revoke"
        ) as r:
            assert r.status < 300
        usage = ApiUsage(company.bridge.db)
        calls_before = await usage.calls_24h(company.installation.id, "economic", now)
        hints = [
            schedules.invoice(company.installation.id, company.agreement, n)
            for n in sorted(company.ledger.invoices)[:20]
        ]
        await queue.enqueue_many(
            [*hints, schedules.customers(company.installation.id, company.agreement)], now=now
        )
        await company.settle(concurrency=2)
        # Counted by our own client (the simulator does not log calls it cannot authenticate).
        after = await usage.calls_24h(company.installation.id, "economic", now) - calls_before
        assert 1 <= after <= 3
        installation = await Installations(company.bridge.db).get(company.installation.id)
        assert installation is not None and installation.status == "revoked"
        jobs = await queue.list(installation_id=company.installation.id)
        waiting = [j for j in jobs if j.state not in ("succeeded",)]
        assert waiting and all(j.state == "parked" for j in waiting), {j.state for j in waiting}
        problems = await Problems(company.bridge.db).open(company.installation.id)
        assert [p.code for p in problems if p.category == "auth_lost"] == ["economic_auth_lost"]


async def test_a_collection_link_revoked_by_the_owner_parks_the_work_and_says_so(
    database_url: str,
) -> None:
    async with running_company(database_url, invoices=60) as company:
        queue, now = company.services.queue, company.bridge.clock()
        await company.collection.control("POST", f"/_sandbox/accounts/{company.account_id}/revoke")
        job = await queue.enqueue(
            schedules.bootstrap(company.installation.id, company.agreement), now=now
        )
        await company.settle()
        assert (await company.job(job)).state == "parked"
        installation = await Installations(company.bridge.db).get(company.installation.id)
        assert installation is not None
        assert installation.status == "active" and installation.collection_state == "lost"
        problems = await Problems(company.bridge.db).open(company.installation.id)
        assert [p.code for p in problems if p.category == "auth_lost"] == ["collection_auth_lost"]
        # Work queued later meets the lost link before any call and parks too.
        hint = await queue.enqueue(
            schedules.invoice(company.installation.id, company.agreement, 10001), now=now
        )
        await company.settle()
        assert (await company.job(hint)).state == "parked"
