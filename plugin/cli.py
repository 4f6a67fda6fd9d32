"""The ``collectbridge`` command: serve, worker, migrate, jobs, sandbox, demo."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
from collections.abc import Callable, Sequence

from plugin import logs
from plugin.settings import REQUIRED_TO_SERVE, Settings, SettingsError, load_settings
from sync.store.db import DatabaseError


def _settings(require: tuple[str, ...] = ()) -> Settings:
    settings = load_settings(os.environ, require=require)
    logs.configure(settings.log_level, settings.log_format, settings.secret_values())
    return settings


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from plugin.app import create_app

    settings = _settings(REQUIRED_TO_SERVE)
    web.run_app(
        create_app(settings, run_worker=not args.no_worker),
        host=args.host,
        port=args.port,
        print=None,
    )
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


def cmd_sandbox(args: argparse.Namespace) -> int:
    from plugin.sandbox_cli import run_sandbox

    return asyncio.run(run_sandbox(args, os.environ))


def cmd_demo(args: argparse.Namespace) -> int:
    from plugin.demo import run_demo

    return asyncio.run(run_demo(args, os.environ))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="collectbridge", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="the web app, with an embedded worker")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--no-worker", action="store_true", help="run no embedded worker")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="a worker process (run any number with PostgreSQL)")
    worker.add_argument("--burst", action="store_true", help="run what is due, then exit")
    worker.add_argument("--concurrency", type=int, default=None)
    worker.set_defaults(func=cmd_worker)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)

    jobs = sub.add_parser("jobs", help="inspect and manage jobs")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", required=True)
    listing = jobs_sub.add_parser("list")
    listing.add_argument(
        "--state", choices=["queued", "running", "succeeded", "failed", "parked", "dead"]
    )
    listing.add_argument("--limit", type=int, default=50)
    retry = jobs_sub.add_parser("retry")
    retry.add_argument("ids", nargs="*", type=int, help="job ids; none with --dead")
    retry.add_argument("--dead", action="store_true", help="every dead job")
    retry.add_argument("--kind", default=None, help="with --dead: only this kind")
    purge = jobs_sub.add_parser("purge")
    purge.add_argument("--older-than-days", type=float, default=14)
    purge.add_argument("--include-dead", action="store_true")
    jobs.set_defaults(func=cmd_jobs)

    sandbox = sub.add_parser("sandbox", help="run both platform simulators")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--economic-port", type=int, default=8081)
    sandbox.add_argument("--collection-port", type=int, default=8082)
    sandbox.add_argument("--seed", type=int, default=1)
    sandbox.add_argument("--companies", type=int, default=3)
    sandbox.add_argument("--invoices", type=int, default=200)
    sandbox.set_defaults(func=cmd_sandbox)

    demo = sub.add_parser("demo", help="simulators, the app and a demo company, on SQLite")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--economic-port", type=int, default=8081)
    demo.add_argument("--collection-port", type=int, default=8082)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--invoices", type=int, default=200)
    demo.set_defaults(func=cmd_demo)
    return parser


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
