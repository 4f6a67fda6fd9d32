"""The ``collectbridge`` command as an operator runs it: migrate, jobs list|retry|purge, worker,
serve; and the one line it prints when the database cannot be used."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from yarl import URL

from sync.clients.collection_auth import StoredTokens
from sync.clients.collection_tokens import DatabaseTokenStore
from sync.crypto import TokenCipher
from sync.jobs import JobQueue, NewJob
from sync.store.db import open_database
from sync.store.installations import Installations

NOW = dt.datetime.now(dt.UTC)
SECRET_KEY = "x" * 40


def cli_env(url: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "COLLECTBRIDGE_DATABASE_URL": url,
        "COLLECTBRIDGE_SECRET_KEY": SECRET_KEY,
        "COLLECTBRIDGE_ECONOMIC_APP_SECRET_TOKEN": "a",
        "COLLECTBRIDGE_ECONOMIC_APP_PUBLIC_TOKEN": "b",
        "COLLECTBRIDGE_COLLECTION_API_URL": "http://127.0.0.1:9",
        "COLLECTBRIDGE_COLLECTION_CLIENT_ID": "c",
        "COLLECTBRIDGE_COLLECTION_CLIENT_SECRET": "d",
    }


def cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plugin.cli", *args],
        env=cli_env(url),
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


async def test_jobs_list_never_shows_a_secret_from_an_older_error(tmp_path: Path) -> None:
    """An error stored before errors were scrubbed still prints masked: the listing knows the
    tokens of the installations it shows (known values) and the configured secrets."""
    url = f"sqlite:///{tmp_path}/cli.db"
    assert cli(url, "migrate").returncode == 0
    db = await open_database(url)
    try:
        installation = await Installations(db).create(
            agreement_number=4242, company_name="c", now=NOW
        )
        access, refresh = f"at_{secrets.token_urlsafe(16)}", f"rt_{secrets.token_urlsafe(16)}"
        pair = StoredTokens(access_token=access, refresh_token=refresh, expires_at=NOW)
        await DatabaseTokenStore(db, TokenCipher([SECRET_KEY])).save_tokens(
            installation.id, pair, now=NOW
        )
        job_id = await JobQueue(db).enqueue(
            NewJob(kind="sync.events", installation_id=installation.id), now=NOW
        )
        raw = f"401 Bearer {access} after {refresh} key {SECRET_KEY}"
        await db.run_script(
            f"UPDATE jobs SET state = 'dead', last_error = '{raw}' WHERE id = {job_id}"
        )
    finally:
        await db.close()
    listing = cli(url, "jobs", "list")
    assert listing.returncode == 0, listing.stderr
    assert str(job_id) in listing.stdout
    assert "401 Bearer ******** after ******** key ********" in listing.stdout
    for secret in (access, refresh, SECRET_KEY):
        assert secret not in listing.stdout + listing.stderr


@pytest.mark.postgres
def test_a_missing_postgres_database_is_named_not_called_unreachable(postgres_dsn: str) -> None:
    name = f"cb_missing_{secrets.token_hex(4)}"
    # trust authentication ignores the password, but it must still never be printed
    url = str(URL(postgres_dsn).with_password("hunter2secret").with_path(f"/{name}"))
    result = cli(url, "migrate")
    assert result.returncode == 1
    assert result.stderr == (
        f'collectbridge: database error: PostgreSQL database "{name}" does not exist '
        "(create it, or fix COLLECTBRIDGE_DATABASE_URL)\n"
    )
    assert "cannot reach" not in result.stderr
    assert "hunter2secret" not in result.stderr + result.stdout


@pytest.mark.postgres
def test_an_unknown_postgres_user_is_a_refused_login(postgres_dsn: str) -> None:
    user = f"cb_nobody_{secrets.token_hex(4)}"
    url = str(URL(postgres_dsn).with_user(user).with_password("hunter2secret"))
    result = cli(url, "migrate")
    assert result.returncode == 1
    assert result.stderr.startswith(
        f'collectbridge: database error: PostgreSQL refused user "{user}"'
    ), result.stderr
    assert "COLLECTBRIDGE_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr and "hunter2secret" not in result.stderr


def test_serve_says_where_it_listens_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    env = cli_env(f"sqlite:///{tmp_path}/serve.db") | {
        "COLLECTBRIDGE_PUBLIC_URL": "https://collect.example.com"
    }
    with subprocess.Popen(
        [sys.executable, "-m", "plugin.cli", "serve", "--port", "0", "--no-worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            ready, _, _ = select.select([process.stdout], [], [], 30)
            line = process.stdout.readline() if ready else "(nothing within 30 s)"
            assert line.startswith("collectbridge listening on http://127.0.0.1:"), line
            assert line.rstrip().endswith("(public URL https://collect.example.com)"), line
            port = int(line.split("http://127.0.0.1:", 1)[1].split()[0])
            assert port > 0  # the port bound, not the 0 asked for
            started = time.monotonic()
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=10) == 0
            assert time.monotonic() - started < 10
        finally:
            if process.poll() is None:
                process.kill()


def test_inbox_and_outbox_list_refuse_an_agreement_not_installed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    for command in ("inbox", "outbox"):
        listed = cli(url, command, "list", "--agreement", "424242")
        assert listed.returncode == 2, listed.stderr
        assert "no installation of agreement 424242" in listed.stdout
        every = cli(url, command, "list")
        assert every.returncode == 0, every.stderr
