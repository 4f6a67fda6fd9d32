"""The job kinds this application runs, and their handlers, built over the shared adapters."""

from __future__ import annotations

import datetime as dt

from plugin.bootstrap import Services
from sync.store.usage import ApiUsage
from sync.worker import Handler, JobContext

JOB_RETENTION = dt.timedelta(days=14)


def build_handlers(services: Services) -> dict[str, Handler]:
    async def purge(ctx: JobContext) -> None:
        """Housekeeping: forget finished jobs after two weeks and API buckets after a day."""
        now = ctx.now()
        await services.queue.purge(before=now - JOB_RETENTION)
        await ApiUsage(services.db).purge(now)

    return {"maintenance.purge": purge}
