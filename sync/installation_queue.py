"""The job queue as the application uses it: an installation that is not running holds its jobs.

`sync.jobs.JobQueue` knows nothing of installations' statuses. The application's queue does
one thing more: a job enqueued for an installation that is ``paused``, ``revoked`` or
``deleted`` waits (``parked``) like the jobs it already had, until a resume or a reinstall
unparks them (`JobQueue.unpark_installation`).

Order matters, so that no job is left runnable while the installation is held: the job is
written first and the status read after it, and a pause writes the status before it parks
(`plugin.lifecycle`). Either the pause's park finds the new job, or this read sees the new
status and parks it. The claim itself also passes over installations that are not pending or
active (``claim_installations``), so a job claimed in the moment between the insert and the park
cannot run either: parking is what people see, the claim is what holds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sync.jobs import JobQueue, NewJob
from sync.store.db import Connection
from sync.store.installations import Installations, Status

HOLDING: frozenset[Status] = frozenset({"paused", "revoked", "deleted"})


class InstallationQueue(JobQueue):
    async def enqueue(self, job: NewJob, *, now: dt.datetime) -> int:
        job_id = await super().enqueue(job, now=now)
        if job.installation_id is not None:
            await self._hold_if_stopped(job.installation_id, now=now)
        return job_id

    async def enqueue_many(self, jobs: Iterable[NewJob], *, now: dt.datetime) -> None:
        batch = list(jobs)
        await super().enqueue_many(batch, now=now)
        held = {j.installation_id for j in batch if j.installation_id is not None}
        for installation_id in sorted(held):
            await self._hold_if_stopped(installation_id, now=now)

    async def _hold_if_stopped(self, installation_id: int, *, now: dt.datetime) -> None:
        installation = await Installations(self.db).get(installation_id)
        if installation is not None and installation.status in HOLDING:
            await self.park_installation(installation_id, now=now)


async def hold_stopped(
    conn: Connection, installation_ids: Iterable[int | None], *, now: dt.datetime
) -> None:
    """Park the jobs of those of ``installation_ids`` that are not running, inside the caller's
    transaction, after its jobs were written (the order above)."""
    installations = Installations(conn)
    for installation_id in sorted({i for i in installation_ids if i is not None}):
        found = await installations.get(installation_id)
        if found is not None and found.status in HOLDING:
            await conn.execute("park_installation_jobs", installation_id=installation_id, now=now)
