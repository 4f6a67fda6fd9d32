"""The ``collectbridge`` command as an operator runs it: migrate, jobs list|retry|purge, worker."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from sync.jobs import JobQueue, NewJob
from sync.store.db import open_database

NOW = dt.datetime.now(dt.UTC)


def cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "COLLECTBRIDGE_DATABASE_URL": url,
        "COLLECTBRIDGE_SECRET_KEY": "x" * 40,
        "COLLECTBRIDGE_ECONOMIC_APP_SECRET_TOKEN": "a",
        "COLLECTBRIDGE_ECONOMIC_APP_PUBLIC_TOKEN": "b",
        "COLLECTBRIDGE_COLLECTION_API_URL": "http://127.0.0.1:9",
        "COLLECTBRIDGE_COLLECTION_CLIENT_ID": "c",
        "COLLECTBRIDGE_COLLECTION_CLIENT_SECRET": "d",
    }
    return subprocess.run(
        [sys.executable, "-m", "plugin.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_migrate_then_manage_jobs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    first = cli(url, "migrate")
    assert first.returncode == 0 and "applied: 0001_init" in first.stdout
    assert "up to date" in cli(url, "migrate").stdout

    db = await open_database(url)
    queue = JobQueue(db)
    try:
        dead = await queue.enqueue(NewJob(kind="mystery"), now=NOW)
        old = await queue.enqueue(NewJob(kind="maintenance.purge"), now=NOW)
        # a worker in burst mode: the purge runs, the unknown kind goes dead
        burst = cli(url, "worker", "--burst")
        assert burst.returncode == 0 and "2 job(s)" in burst.stdout
        listing = cli(url, "jobs", "list", "--state", "dead")
        assert listing.returncode == 0
        assert str(dead) in listing.stdout and "mystery" in listing.stdout
        assert "maintenance.purge" not in listing.stdout

        retried = cli(url, "jobs", "retry", str(dead), "999999")
        assert retried.returncode == 1
        assert (
            "job 999999: not found" in retried.stdout and "1 job(s) queued again" in retried.stdout
        )
        job = await queue.get(dead)
        assert job is not None and job.state == "queued"

        purged = cli(url, "jobs", "purge", "--older-than-days", "0")
        assert purged.returncode == 0 and "1 job(s) purged" in purged.stdout
        assert await queue.get(old) is None and await queue.get(dead) is not None
    finally:
        await db.close()


def test_an_unreachable_database_is_one_clear_line_without_the_password() -> None:
    # Port 9 (discard) refuses connections on loopback.
    result = cli("postgresql://collect:hunter2secret@127.0.0.1:9/none", "migrate")
    assert result.returncode == 1
    assert result.stderr.startswith("collectbridge: database error:")
    assert "Traceback" not in result.stderr and "hunter2secret" not in result.stderr
    assert "hunter2secret" not in result.stdout
