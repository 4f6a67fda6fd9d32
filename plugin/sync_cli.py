"""``collectbridge resync <agreement> [--scope S]``: the API's ``POST …/resync``, for the operator.

Queues the scope's job (`plugin.api.jobs.resync_job`: the same kinds and dedupe keys, so a
resync asked while its job still waits answers that job) and prints its id alone on the last
line; the worker runs it. The audit log names the actor ``cli``. An agreement that is not
installed, a scope there is no job for, or a revoked or deleted installation change nothing
(exit 2).
"""

from __future__ import annotations

import sys

from plugin.api.jobs import InvalidScope, refuses_resync, resync_job
from plugin.bootstrap import open_services
from plugin.people_cli import CLI_ACTOR
from plugin.settings import Settings
from sync.store.audit import AuditLog
from sync.store.installations import Installations


async def run_resync(settings: Settings, agreement: int, scope: str) -> int:
    async with open_services(settings) as services:
        installation = await Installations(services.db).get_by_agreement(agreement)
        if installation is None:
            print(f"collectbridge: agreement {agreement} is not installed", file=sys.stderr)
            return 2
        try:
            job = resync_job(installation, scope)
        except InvalidScope as exc:
            print(f"collectbridge: {exc}", file=sys.stderr)
            return 2
        refused = refuses_resync(installation)
        if refused is not None:
            print(f"collectbridge: {refused} (nothing was queued)", file=sys.stderr)
            return 2
        now = services.clock()
        job_id = await services.queue.enqueue(job, now=now)
        await AuditLog(services.db).record(
            installation_id=installation.id,
            actor=CLI_ACTOR,
            action="installation.resync",
            at=now,
            detail={"scope": scope, "job_id": job_id},
        )
    print(f"{installation.agreement_number} {installation.company_name}: {scope} → {job.kind}")
    print(job_id)
    return 0
