"""``collectbridge jobs list|retry|purge``.

The listing prints each job's last error through `sync.redaction.scrub`, after loading the
secrets of the installations it shows, so that an error stored before errors were scrubbed
(or by a path that missed it) still shows no secret: defence in depth.
"""

from __future__ import annotations

import argparse
import builtins
import datetime as dt

from plugin.settings import Settings
from sync.clients.collection_tokens import DatabaseTokenStore
from sync.crypto import DecryptionError, TokenCipher
from sync.jobs import Job, JobQueue
from sync.redaction import scrub
from sync.store.db import Database, open_database
from sync.store.migrate import migrate


async def run_jobs_command(settings: Settings, args: argparse.Namespace) -> int:
    now = dt.datetime.now(dt.UTC)
    db = await open_database(settings.database_url)
    try:
        await migrate(db, now)
        queue = JobQueue(db)
        if args.jobs_command == "list":
            jobs = await queue.list(state=args.state, limit=args.limit)
            await _learn_secrets(db, settings, jobs)
            print(f"{'id':>8}  {'state':<9} {'kind':<28} {'inst':>6} {'tries':>5}  run_at / error")
            for j in jobs:
                # scrubbed before it is cut short: half a secret is still a secret shown
                tail = scrub(j.last_error or j.run_at.isoformat(timespec="seconds"))
                print(
                    f"{j.id:>8}  {j.state:<9} {j.kind:<28} {j.installation_id or '-':>6} "
                    f"{j.attempts:>5}  {tail[:80]}"
                )
            return 0
        if args.jobs_command == "retry":
            if args.dead:
                print(f"{await queue.retry_dead(kind=args.kind, now=now)} dead job(s) queued again")
                return 0
            if not args.ids:
                print("name job ids, or use --dead")
                return 2
            missing = [i for i in args.ids if not await queue.retry(i, now=now)]
            for job_id in missing:
                print(f"job {job_id}: not found, or not dead, parked or failed")
            print(f"{len(args.ids) - len(missing)} job(s) queued again")
            return 1 if missing else 0
        before = now - dt.timedelta(days=args.older_than_days)
        print(f"{await queue.purge(before=before, include_dead=args.include_dead)} job(s) purged")
        return 0
    finally:
        await db.close()


async def _learn_secrets(db: Database, settings: Settings, jobs: builtins.list[Job]) -> None:
    """Load (so remember, for `scrub`) the collection tokens of the installations listed."""
    if not settings.secret_keys:
        return
    store = DatabaseTokenStore(db, TokenCipher([k.reveal() for k in settings.secret_keys]))
    for installation_id in sorted({j.installation_id for j in jobs if j.installation_id}):
        try:
            await store.load_tokens(installation_id)
        except DecryptionError:
            continue  # sealed with a key no longer configured: this process cannot know them
