"""``collectbridge outbox list|retry``: the writes to either platform, and a person's retry.

    collectbridge outbox list [--state S] [--agreement A] [--limit N]
    collectbridge outbox retry ID [ID …]

``list`` prints the writes oldest first with their state and, scrubbed of every secret this
process can know, the platform's last error. ``retry`` sets failed or dead writes pending again
and queues the job that sends each (`sync.outbox.retry_item`; a dead one goes under a new key
generation): exit 1 when one of them was not failed or dead.
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from plugin.listing_cli import UNKNOWN, add_listing_options, installation_of
from plugin.settings import Settings
from sync.jobs import JobQueue
from sync.outbox import retry_item
from sync.redaction import scrub
from sync.store.db import open_database
from sync.store.installations import Installations
from sync.store.migrate import migrate
from sync.store.outbox import OUTBOX_STATES, Outbox


def add_parser(
    sub: argparse._SubParsersAction[Any], command: Any, handler: Any
) -> argparse.ArgumentParser:
    """The ``outbox`` subcommand (``command`` builds a subcommand as `plugin.cli` does)."""
    outbox = command(sub, "outbox", "inspect and retry the writes to either platform")
    outbox_sub = outbox.add_subparsers(
        dest="outbox_command", required=True, title="commands", metavar="COMMAND", help="one of:"
    )
    listing = command(outbox_sub, "list", "list writes, oldest first")
    add_listing_options(
        listing, states=OUTBOX_STATES, state_help="only writes in this state (default: all)"
    )
    retry = command(outbox_sub, "retry", "send failed or dead writes again (queues their jobs)")
    retry.add_argument("ids", nargs="+", type=int, help="outbox item ids")
    outbox.set_defaults(func=handler)
    parser: argparse.ArgumentParser = outbox
    return parser


async def run_outbox_command(settings: Settings, args: argparse.Namespace) -> int:
    now = dt.datetime.now(dt.UTC)
    db = await open_database(settings.database_url)
    try:
        await migrate(db, now)
        outbox = Outbox(db)
        agreements = {i.id: i.agreement_number for i in await Installations(db).list()}
        if args.outbox_command == "list":
            installation_id = await installation_of(db, args.agreement)
            if installation_id == UNKNOWN:
                return 2
            items = await outbox.list(
                installation_id=installation_id, state=args.state, limit=args.limit
            )
            head = f"{'id':>8}  {'state':<8} {'operation':<18} {'agreement':>9} {'tries':>5}"
            print(f"{head}  key / error")
            for item in items:
                tail = scrub(item.last_error or item.idempotency_key)
                print(
                    f"{item.id:>8}  {item.state:<8} {item.operation:<18} "
                    f"{agreements.get(item.installation_id, '-'):>9} {item.attempts:>5}  "
                    f"{tail[:80]}"
                )
            return 0
        queue = JobQueue(db)
        missing = []
        for item_id in args.ids:
            retried = await retry_item(outbox, queue, item_id, now=now)
            if retried is None:
                missing.append(item_id)
                print(f"outbox item {item_id}: not found, or not failed or dead")
            else:
                print(f"outbox item {item_id}: pending again, job {retried.job_id}")
        return 1 if missing else 0
    finally:
        await db.close()
