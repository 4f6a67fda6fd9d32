"""``collectbridge inbox list|replay``: the stored deliveries, and a replay of dead letters.

    collectbridge inbox list [--state S] [--agreement A] [--limit N]
    collectbridge inbox replay ID [ID …]

``list`` prints entries oldest first with their state and, scrubbed of every secret this
process can know, their error (``--state dead``: the collection events whose processing failed
for a bug). ``replay`` makes dead or rejected collection events ``new`` again and queues the job
that processes each (`sync.inbox_processing.replay`): exit 1 when one of them was not a dead or
rejected collection event.
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from plugin.listing_cli import UNKNOWN, add_listing_options, installation_of
from plugin.settings import Settings
from sync.inbox_processing import replay
from sync.installation_queue import InstallationQueue
from sync.redaction import scrub
from sync.store.db import open_database
from sync.store.inbox import INBOX_STATES, Inbox
from sync.store.migrate import migrate


def add_parser(
    sub: argparse._SubParsersAction[Any], command: Any, handler: Any
) -> argparse.ArgumentParser:
    """The ``inbox`` subcommand (``command`` builds a subcommand as `plugin.cli` does)."""
    inbox = command(sub, "inbox", "inspect stored webhook deliveries and replay dead events")
    inbox_sub = inbox.add_subparsers(
        dest="inbox_command", required=True, title="commands", metavar="COMMAND", help="one of:"
    )
    listing = command(inbox_sub, "list", "list inbox entries, oldest first")
    add_listing_options(
        listing,
        states=INBOX_STATES,
        state_help="only entries in this state; dead: failed for a bug (default: every state)",
    )
    again = command(inbox_sub, "replay", "process dead or rejected collection events again")
    again.add_argument("ids", nargs="+", type=int, help="inbox entry ids")
    inbox.set_defaults(func=handler)
    parser: argparse.ArgumentParser = inbox
    return parser


async def run_inbox_command(settings: Settings, args: argparse.Namespace) -> int:
    now = dt.datetime.now(dt.UTC)
    db = await open_database(settings.database_url)
    try:
        await migrate(db, now)
        inbox = Inbox(db)
        if args.inbox_command == "list":
            installation_id = await installation_of(db, args.agreement)
            if installation_id == UNKNOWN:
                return 2
            entries = await inbox.page(
                state=args.state, installation_id=installation_id, limit=args.limit
            )
            print(f"{'id':>8}  {'state':<9} {'topic':<22} {'agreement':>9}  {'event':<24}  error")
            for e in entries:
                head = f"{e.id:>8}  {e.state:<9} {e.topic[:22]:<22} {e.agreement_number:>9}"
                # scrubbed before it is cut short: half a secret is still a secret shown
                print(f"{head}  {(e.event_id or '-')[:24]:<24}  {scrub(e.error or '')[:80]}")
            return 0
        queue, missing = InstallationQueue(db), []
        for entry_id in args.ids:
            job_id = await replay(db, queue, entry_id, now=now)
            if job_id is None:
                missing.append(entry_id)
                print(f"inbox entry {entry_id}: not found, or not a dead or rejected event")
            else:
                print(f"inbox entry {entry_id}: new again, job {job_id}")
        return 1 if missing else 0
    finally:
        await db.close()
