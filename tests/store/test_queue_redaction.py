"""A job's stored error passes the one redaction: a secret in an exception text never reaches
``last_error`` (so neither the CLI, the API nor the pages can show it)."""

from __future__ import annotations

import datetime as dt
import secrets

from sync.jobs import JobQueue, NewJob
from sync.redaction import MASK, remember_secrets
from sync.store.db import Database

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


async def test_a_failed_jobs_error_is_stored_without_a_known_secret(db: Database) -> None:
    secret = f"at_{secrets.token_urlsafe(16)}"  # e.g. an access token loaded for the job
    remember_secrets(secret)
    queue = JobQueue(db)
    job_id = await queue.enqueue(NewJob(kind="sync.customer"), now=NOW)
    batch = await queue.claim(worker_id="w", limit=1, cap=10, lease_seconds=30, now=NOW)
    [job] = batch.jobs
    assert job.id == job_id
    await queue.fail(
        job.id, batch.token, state="dead", run_at=NOW, error=f"boom {secret}", code="bug", now=NOW
    )
    stored = await queue.get(job.id)
    assert stored is not None and stored.last_error is not None
    assert secret not in stored.last_error and f"boom {MASK}" in stored.last_error
