"""The ``collectbridge`` command: serve, worker, migrate, jobs, users, tokens, disconnect, resync,
onboard, sandbox, demo.

Help texts are plain text (argparse prints them as written) and every option shows its default.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from plugin import logs
from plugin.settings import REQUIRED_TO_SERVE, Settings, SettingsError, load_settings
from sync.store.db import DatabaseError

if TYPE_CHECKING:
    from aiohttp import web

DESCRIPTION = (
    "collectbridge keeps a debt-collection account in step with a Visma e-conomic company's "
    "books. Configuration comes from COLLECTBRIDGE_* environment variables "
    "(docs/operator-guide.md)."
)
EPILOG = "Run collectbridge COMMAND --help for the options of one command."


def _settings(require: tuple[str, ...] = ()) -> Settings:
    settings = load_settings(os.environ, require=require)
    logs.configure(settings.log_level, settings.log_format, settings.secret_values())
    return settings


def cmd_serve(args: argparse.Namespace) -> int:
    from plugin.app import create_app

    settings = _settings(REQUIRED_TO_SERVE)
    app = create_app(settings, run_worker=not args.no_worker)
    return asyncio.run(serve(app, args.host, args.port, settings.public_url))


def listening_line(host: str, port: int, public_url: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"collectbridge listening on http://{shown}:{port} (public URL {public_url})"


async def serve(app: web.Application, host: str, port: int, public_url: str) -> int:
    """Serve ``app`` until SIGINT/SIGTERM, saying once where it listens (the port bound, so
    ``--port 0`` shows the one picked)."""
    from aiohttp import web

    from plugin.sandbox_cli import stop_requested

    runner = web.AppRunner(app, access_log_class=logs.masked_access_logger())
    await runner.setup()  # opens and migrates the database: its errors surface here
    try:
        await web.TCPSite(runner, host, port).start()
        stop = stop_requested()
        print(listening_line(host, runner.addresses[0][1], public_url), flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from plugin.bootstrap import run_worker

    settings = _settings(REQUIRED_TO_SERVE)
    ran = asyncio.run(run_worker(settings, burst=args.burst, concurrency=args.concurrency))
    print(f"worker stopped after {ran} job(s)")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from sync.store.db import open_database
    from sync.store.migrate import migrate

    settings = _settings()

    async def run() -> list[str]:
        db = await open_database(settings.database_url)
        try:
            return [f"{m.version:04d}_{m.name}" for m in await migrate(db, dt.datetime.now(dt.UTC))]
        finally:
            await db.close()

    applied = asyncio.run(run())
    print("applied: " + ", ".join(applied) if applied else "the schema is up to date")
    return 0


def cmd_jobs(args: argparse.Namespace) -> int:
    from plugin.jobs_cli import run_jobs_command

    return asyncio.run(run_jobs_command(_settings(), args))


def cmd_outbox(args: argparse.Namespace) -> int:
    from plugin.outbox_cli import run_outbox_command

    return asyncio.run(run_outbox_command(_settings(), args))


def cmd_inbox(args: argparse.Namespace) -> int:
    from plugin.inbox_cli import run_inbox_command

    return asyncio.run(run_inbox_command(_settings(), args))


def cmd_people(args: argparse.Namespace) -> int:
    from plugin.people_cli import run_people_command

    return asyncio.run(run_people_command(_settings(), args))


def cmd_disconnect(args: argparse.Namespace) -> int:
    from plugin.installations_cli import run_disconnect

    return asyncio.run(run_disconnect(_settings(), args.agreement))


def cmd_resync(args: argparse.Namespace) -> int:
    from plugin.sync_cli import run_resync

    return asyncio.run(run_resync(_settings(), args.agreement, args.scope))


def cmd_onboard(args: argparse.Namespace) -> int:
    from plugin.onboarding_cli import run_onboard

    return asyncio.run(run_onboard(_settings(), args.agreement, defaults=args.defaults))


def cmd_sandbox(args: argparse.Namespace) -> int:
    from plugin.sandbox_cli import run_sandbox

    return asyncio.run(run_sandbox(args, os.environ))


def cmd_demo(args: argparse.Namespace) -> int:
    from plugin.demo import run_demo

    return asyncio.run(run_demo(args, os.environ))


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds "(default: …)" to each option's help, except for flags and options whose help
    already says what happens when they are left out (a default of None)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False):
            return action.help
        return super()._get_help_string(action)


def command(sub: argparse._SubParsersAction[Any], name: str, text: str) -> argparse.ArgumentParser:
    """A subcommand whose own --help opens with its one-line summary as a sentence."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=text, description=f"{text[0].upper()}{text[1:]}."
    )
    return parser


class Parser(argparse.ArgumentParser):
    """An `argparse.ArgumentParser` whose subcommands (built with ``type(self)``) share the
    formatter."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="collectbridge", description=DESCRIPTION, epilog=EPILOG)
    sub = parser.add_subparsers(
        dest="command", required=True, title="commands", metavar="COMMAND", help="one of:"
    )

    serve = command(sub, "serve", "the web app, with an embedded worker")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument(
        "--port", type=int, default=8080, help="port to listen on; 0 picks a free one"
    )
    serve.add_argument(
        "--no-worker",
        action="store_true",
        help="run no embedded worker (run collectbridge worker processes instead)",
    )
    serve.set_defaults(func=cmd_serve)

    worker = command(sub, "worker", "a worker process (run any number with PostgreSQL)")
    worker.add_argument("--burst", action="store_true", help="run the jobs due, then exit")
    worker.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="jobs run at once (default: COLLECTBRIDGE_WORKER_CONCURRENCY, itself 8 when unset)",
    )
    worker.set_defaults(func=cmd_worker)

    command(sub, "migrate", "apply database migrations").set_defaults(func=cmd_migrate)

    jobs = command(sub, "jobs", "inspect and manage jobs")
    jobs_sub = jobs.add_subparsers(
        dest="jobs_command", required=True, title="commands", metavar="COMMAND", help="one of:"
    )
    listing = command(jobs_sub, "list", "list jobs, newest first")
    listing.add_argument(
        "--state",
        choices=["queued", "running", "succeeded", "failed", "parked", "dead"],
        help="only jobs in this state (default: every state)",
    )
    listing.add_argument("--limit", type=int, default=50, help="list at most this many jobs")
    retry = command(jobs_sub, "retry", "run dead, parked or failed jobs again now")
    retry.add_argument("ids", nargs="*", type=int, help="job ids; none with --dead")
    retry.add_argument("--dead", action="store_true", help="every dead job")
    retry.add_argument(
        "--kind", default=None, help="with --dead: only jobs of this kind (default: every kind)"
    )
    purge = command(jobs_sub, "purge", "delete finished jobs")
    purge.add_argument(
        "--older-than-days",
        type=float,
        default=14,
        help="delete the jobs that finished more than this many days ago",
    )
    purge.add_argument(
        "--include-dead", action="store_true", help="delete dead jobs too, not only succeeded ones"
    )
    jobs.set_defaults(func=cmd_jobs)

    from plugin.outbox_cli import add_parser as add_outbox_parser

    add_outbox_parser(sub, command, cmd_outbox)

    from plugin.inbox_cli import add_parser as add_inbox_parser

    add_inbox_parser(sub, command, cmd_inbox)

    users = command(sub, "users", "manage the people who may see companies")
    users_sub = users.add_subparsers(
        dest="users_command", required=True, title="commands", metavar="COMMAND", help="one of:"
    )
    create_user = command(users_sub, "create", "create a user, or change their role")
    create_user.add_argument("--email", required=True, help="the person's e-mail address")
    create_user.add_argument(
        "--role",
        required=True,
        choices=["guest", "caseworker", "admin"],
        help="guest reads; caseworker also resyncs and works claims; admin also changes settings",
    )
    create_user.add_argument(
        "--agreement",
        type=int,
        action="append",
        help="a company (agreement number) to give the role in; repeat for more "
        "(default: every installation)",
    )
    users.set_defaults(func=cmd_people)

    tokens = command(sub, "tokens", "manage personal API tokens")
    tokens_sub = tokens.add_subparsers(
        dest="tokens_command", required=True, title="commands", metavar="COMMAND", help="one of:"
    )
    create_token = command(
        tokens_sub, "create", "create an API token for a user; printed alone on the last line"
    )
    create_token.add_argument("--email", required=True, help="the e-mail address of the user")
    create_token.add_argument(
        "--name", default=None, help="a label to tell the token by (default: none)"
    )
    tokens.set_defaults(func=cmd_people)

    disconnect = command(
        sub, "disconnect", "disconnect a company: revoked, jobs parked, collection grant revoked"
    )
    disconnect.add_argument("agreement", type=int, help="the company's agreement number")
    disconnect.set_defaults(func=cmd_disconnect)

    onboard = command(
        sub, "onboard", "onboard a company: collection account, journal, accounts, webhooks"
    )
    onboard.add_argument("agreement", type=int, help="the company's agreement number")
    onboard.add_argument(
        "--defaults",
        action="store_true",
        help="onboard with every default and print the bootstrap job id (without it: print "
        "what the defaults would be, change nothing, exit 2)",
    )
    onboard.set_defaults(func=cmd_onboard)

    resync = command(sub, "resync", "sync a company again: queue the job and print its id")
    resync.add_argument("agreement", type=int, help="the company's agreement number")
    resync.add_argument(
        "--scope",
        default="all",
        help="all (the bootstrap), customers, invoices (a full scan), events, or invoice:N "
        "(one invoice)",
    )
    resync.set_defaults(func=cmd_resync)

    sandbox = command(sub, "sandbox", "run both platform simulators")
    sandbox.add_argument("--host", default="127.0.0.1", help="address both simulators listen on")
    _simulator_options(sandbox)
    sandbox.add_argument("--companies", type=int, default=3, help="companies to seed")
    sandbox.add_argument(
        "--invoices", type=int, default=200, help="invoices seeded for each company"
    )
    sandbox.set_defaults(func=cmd_sandbox)

    demo = command(sub, "demo", "simulators, the app and a demo company, on SQLite")
    demo.add_argument("--port", type=int, default=8080, help="port of the app")
    _simulator_options(demo)
    demo.add_argument(
        "--invoices",
        type=int,
        default=None,
        help="invoices of the largest company (default 20000; the others 2000 and 400 at most)",
    )
    demo.add_argument(
        "--reset", action="store_true", help="start from an empty var/demo (default: keep it)"
    )
    demo.set_defaults(func=cmd_demo)
    return parser


def _simulator_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--economic-port",
        type=int,
        default=8081,
        help="port of the e-conomic simulator (REST, Webhooks and Journals APIs)",
    )
    parser.add_argument(
        "--collection-port", type=int, default=8082, help="port of the collection simulator"
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="seed of the simulated data (same seed, same data)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except SettingsError as exc:
        print(f"collectbridge: configuration error: {exc}", file=sys.stderr)
        return 2
    except DatabaseError as exc:
        # Outages and refused URLs get one line, not a traceback (messages carry no secrets).
        print(f"collectbridge: database error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
