"""The daily e-conomic budget spent as `sync.budget` says: a backfill keeps to its hourly share
and pauses (never fails) when it is used up, while prompt work still goes through."""

from __future__ import annotations

from sync import budget, schedules
from sync.store.usage import ApiUsage
from tests.integration.sync.support import running_company

LIMIT = 48  # bulk work: 4 calls an hour, 38 a day


async def test_a_backfill_spreads_over_hours_and_leaves_room_for_hints(database_url: str) -> None:
    async with running_company(
        database_url, invoices=60, app={"economic_daily_budget": LIMIT}
    ) as company:
        clock, queue = company.bridge.clock, company.services.queue
        usage = ApiUsage(company.bridge.db)
        job_id = await queue.enqueue(
            schedules.bootstrap(company.installation.id, company.agreement), now=clock()
        )
        hours = 0
        while (job := await company.job(job_id)).state != "succeeded":
            assert job.state in ("queued", "failed"), job.last_error
            assert job.attempts <= 1, "a budget pause spends no attempt"
            # One run at a time: concurrent runs may each make one call past the hour's share
            # (the check and the count are two statements), which this test does not measure.
            await company.settle(concurrency=1)
            used = await usage.calls_within(
                company.installation.id, "economic", clock(), budget.HOUR
            )
            assert used <= budget.bulk_hour_limit(LIMIT)
            job = await company.job(job_id)
            if job.state == "failed":
                assert job.error_code == "budget_exhausted"
                assert job.run_at > clock(), "rescheduled for when the hour has room"
                # Prompt work is not held back by the paused backfill.
                hint = await queue.enqueue(
                    schedules.invoice(company.installation.id, company.agreement, 10001),
                    now=clock(),
                )
                await company.settle()
                assert (await company.job(hint)).state == "succeeded"
                clock.now = job.run_at
                hours += 1
            assert hours < 10
        assert hours >= 1, "the backfill needed more than one hour's share"
        assert company.platform_claims()
