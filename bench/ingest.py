"""Webhook ingest: acknowledged deliveries per second and latency of the collection receiver.

On loopback, a load generator in another process (`bench.ingest_load`, an aiohttp client) keeps
64 signed deliveries in flight against, one after another in the same run:

- **(a) bare**: a plain aiohttp handler answering 204, reading nothing.
- **(b) no storage**: our app's collection receiver (`create_app`, installation and secrets read
  from the store, the Standard Webhooks signature verified, the envelope parsed) with a writer
  that resolves at once: everything but the inbox write.
- **(c) naive**: the same receiver with a writer that commits one INSERT of the inbox row per
  request, each in its own transaction (no group commit, and no job beside the row).
- **(d) ours**: the app's receiver as it ships, `webhooks.inbox.InboxWriter` (group commit, the
  row and its ``inbox.event`` job in the batch's transaction, acknowledged after the commit).

Each variant: a warm-up second, then `SECONDS` measured; every delivery is a fresh event. Run
on a SQLite temp file and on a fresh PostgreSQL schema (``COLLECTBRIDGE_BENCH_POSTGRES_DSN``,
default the test database; skipped if unreachable). Prints a table and the goals, writes
``bench/results/ingest.json`` and the ingest section of ``bench/RESULTS.md``. Run:
``make bench`` or ``python -m bench.ingest``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import platform
import secrets
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import msgspec
from aiohttp import web
from multidict import CIMultiDict

from bench.ingest_load import delivery
from bench.queue import PG_DSN, Store, postgres_reachable, postgres_store, sqlite_store
from bench.report import write_results
from bench.timing import now
from plugin.app import create_app
from plugin.keys import DATABASE, SERVICES
from plugin.settings import Secret, Settings
from sync.jobs import NewJob
from sync.store.db import Database
from sync.store.inbox import NewEntry, insert_entry
from sync.store.installations import Installations
from sync.store.webhook_secrets import WebhookSecrets
from sync.worker import Clock, utcnow
from webhooks.inbox import InboxWriter, JobsFor
from webhooks.receivers import RECEIVER
from webhooks.verify import VerificationError, verify

CONNECTIONS = 64
SECONDS = float(os.environ.get("COLLECTBRIDGE_BENCH_INGEST_SECONDS", "6"))
WARMUP = 1.0
SECRET_KEY = "bench-ingest-secret-key-0123456789abcdef"
GOALS = "(d) ≥ 0.8 × (b) and (d) ≥ 2 × (c) in acknowledged deliveries/s; (d) p99 < 50 ms"


class Load(msgspec.Struct, frozen=True, kw_only=True):
    """What the load generator measured, and the server's CPU over the same run."""

    requests: int
    acknowledged: int
    per_s: float
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int]
    client_cpu_s: float
    window_s: float
    server_cpu_s: float = 0.0
    commits: int = 0  # inbox transactions committed during the run ((c) and (d))


class Goal(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    measured: float
    limit: float
    met: bool


class Reads(msgspec.Struct, frozen=True, kw_only=True):
    """Per-request costs of the receiver measured alone, in this process: its two store reads
    (installation by key, signing secrets decrypted) and the signature check."""

    reads_ms: float
    reads_cpu_ms: float
    verify_ms: float


class Row(msgspec.Struct, frozen=True, kw_only=True):
    engine: str
    bare: Load
    verify_only: Load
    no_storage: Load
    naive: Load
    ours: Load
    reads: Reads
    goals: list[Goal]


# --- the writers swapped into the receiver (webhooks/ itself is unchanged) -------------------
class Instant(InboxWriter):
    """Storage switched off: every delivery is "stored" at once."""

    async def store(
        self, entry: NewEntry, jobs: Sequence[NewJob] = (), *, then: JobsFor | None = None
    ) -> bool:
        return True


class OneByOne(InboxWriter):
    """The naive receiver's storage: one transaction, one INSERT, per request."""

    async def store(
        self, entry: NewEntry, jobs: Sequence[NewJob] = (), *, then: JobsFor | None = None
    ) -> bool:
        async with self.db.transaction() as tx:
            new = await insert_entry(tx, entry, now=self.clock()) is not None
        self.commits += 1
        return new


# --- servers and the load generator ----------------------------------------------------------
@asynccontextmanager
async def served(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def bare_app() -> web.Application:
    async def accept(request: web.Request) -> web.Response:
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/webhooks/collection/{installation_key}", accept)
    return app


def verify_only_app(signing_secret: str) -> web.Application:
    """A bare handler that reads the body and verifies its signature, nothing else."""

    async def accept(request: web.Request) -> web.Response:
        try:
            verify(await request.read(), request.headers, [signing_secret], time.time())
        except VerificationError:
            return web.Response(status=401)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/webhooks/collection/{installation_key}", accept)
    return app


async def drive(url: str, signing_secret: str, prefix: str) -> Load:
    """One run of the load generator against ``url``; the server's CPU is this process's."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.ingest_load",
        *("--url", url, "--secret", signing_secret, "--prefix", prefix),
        *("--connections", str(CONNECTIONS), "--seconds", str(SECONDS), "--warmup", str(WARMUP)),
        stdout=asyncio.subprocess.PIPE,
    )
    cpu = time.process_time()
    out, _ = await process.communicate()
    cpu = time.process_time() - cpu
    if process.returncode != 0 or not out:
        raise RuntimeError(f"the load generator failed ({process.returncode})")
    return msgspec.convert({**json.loads(out), "server_cpu_s": round(cpu, 2)}, Load)


async def installation(db: Database, app: web.Application) -> tuple[str, str]:
    """An active installation with a signing secret stored, as onboarding leaves it."""
    made = await Installations(db).activate(agreement_number=1001, company_name="c", now=now())
    signing_secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    cipher = app[SERVICES].cipher
    assert cipher is not None
    await WebhookSecrets(db, cipher).save_collection_signing_secret(
        made.id, signing_secret, now=now()
    )
    return made.installation_key, signing_secret


async def through_receiver(
    url: str, app: web.Application, signer: tuple[str, str], writer: InboxWriter | None
) -> Load:
    """Run the load with ``writer`` in the receiver (None: the app's own)."""
    receiver = app[RECEIVER]
    ours = receiver.writer
    if writer is not None:
        receiver.writer = writer
    key, signing_secret = signer
    used = receiver.writer
    commits = used.commits
    try:
        load = await drive(f"{url}/webhooks/collection/{key}", signing_secret, secrets.token_hex(4))
    finally:
        receiver.writer = ours
    return msgspec.structs.replace(load, commits=used.commits - commits)


async def measure(engine: str, store: Store) -> Row:
    async with served(bare_app()) as url:
        bare = await drive(f"{url}/webhooks/collection/k", "whsec_" + "A" * 44, "bare")
    print(f"  {engine:<10} (a) bare        {progress(bare)}", flush=True)
    signing = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    async with served(verify_only_app(signing)) as url:
        verify_only = await drive(f"{url}/webhooks/collection/k", signing, "verify")
    print(f"  {engine:<10} (b0) verify     {progress(verify_only)}", flush=True)
    async with store() as database_url:
        settings = Settings(database_url=database_url, secret_keys=(Secret(SECRET_KEY),))
        clock: Clock = utcnow
        app = create_app(settings, run_worker=False, clock=clock)
        async with served(app) as url:
            db = app[DATABASE]
            signer = await installation(db, app)
            reads = await time_reads(app, *signer)
            no_storage = await through_receiver(url, app, signer, Instant(db, clock=clock))
            print(f"  {engine:<10} (b) no storage  {progress(no_storage)}", flush=True)
            naive = await through_receiver(url, app, signer, OneByOne(db, clock=clock))
            print(f"  {engine:<10} (c) naive       {progress(naive)}", flush=True)
            ours = await through_receiver(url, app, signer, None)
            print(f"  {engine:<10} (d) ours        {progress(ours)}", flush=True)
    return Row(
        engine=engine,
        bare=bare,
        verify_only=verify_only,
        no_storage=no_storage,
        naive=naive,
        ours=ours,
        reads=reads,
        goals=goals(no_storage, naive, ours),
    )


async def time_reads(app: web.Application, key: str, signing_secret: str, n: int = 300) -> Reads:
    receiver = app[RECEIVER]
    found = await receiver.installation(key)
    assert found is not None
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        await receiver.installation(key)
        await receiver.signing_secrets(found.id)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    body, headers = delivery(base64.b64decode(signing_secret.removeprefix("whsec_")), "e", "0")
    started = time.perf_counter()
    for _ in range(n):
        verify(body, CIMultiDict(headers), [signing_secret], 0)
    checked = time.perf_counter() - started
    return Reads(
        reads_ms=round(wall / n * 1000, 3),
        reads_cpu_ms=round(cpu / n * 1000, 3),
        verify_ms=round(checked / n * 1000, 3),
    )


def goals(no_storage: Load, naive: Load, ours: Load) -> list[Goal]:
    def ratio(a: float, b: float) -> float:
        return round(a / b, 2) if b else float("inf")

    vs_b, vs_c = ratio(ours.per_s, no_storage.per_s), ratio(ours.per_s, naive.per_s)
    return [
        Goal(name="(d) / (b) deliveries/s", measured=vs_b, limit=0.8, met=vs_b >= 0.8),
        Goal(name="(d) / (c) deliveries/s", measured=vs_c, limit=2.0, met=vs_c >= 2.0),
        Goal(name="(d) p99 ms", measured=ours.p99_ms, limit=50.0, met=ours.p99_ms < 50.0),
    ]


# --- reporting -------------------------------------------------------------------------------
def progress(load: Load) -> str:
    return (
        f"{load.per_s:>7,.0f}/s  p50 {load.p50_ms:6.1f} ms  p99 {load.p99_ms:6.1f} ms  "
        f"answers {load.statuses}"
    )


HEADER = (
    "| engine | variant | acknowledged/s | p50 ms | p99 ms | non-2xx | server CPU s "
    "| client CPU s | commits |"
)
RULE = "|---|---|---:|---:|---:|---:|---:|---:|---:|"
VARIANTS = (
    ("bare", "(a) bare 204"),
    ("verify_only", "(b0) bare handler, verify only"),
    ("no_storage", "(b) signed, no storage"),
    ("naive", "(c) naive, 1 commit/request"),
    ("ours", "(d) ours, group commit"),
)


def table_lines(r: Row) -> list[str]:
    lines = []
    for field, label in VARIANTS:
        x: Load = getattr(r, field)
        failed = x.requests - x.acknowledged
        commits = f"{x.commits:,}" if field in ("naive", "ours") else "–"
        lines.append(
            f"| {r.engine} | {label} | {x.per_s:,.0f} | {x.p50_ms:.1f} | {x.p99_ms:.1f} "
            f"| {failed} | {x.server_cpu_s:.1f} | {x.client_cpu_s:.1f} | {commits} |"
        )
    return lines


def cpu_ms(x: Load) -> float:
    """Server CPU per delivery (the CPU covers the warm-up too, at about the same rate)."""
    return x.server_cpu_s / max(1.0, x.per_s * (WARMUP + x.window_s)) * 1000


def why(r: Row) -> str:
    """The measured reasons, for each goal this engine misses."""
    b, c, d, reads = r.no_storage, r.naive, r.ours, r.reads
    parts = []
    if not (r.goals[0].met and r.goals[1].met):
        parts.append(
            f"(b) serves {b.per_s:,.0f}/s against {r.verify_only.per_s:,.0f}/s for verification "
            f"alone, at {cpu_ms(b):.2f} ms of server CPU a delivery against "
            f"{cpu_ms(r.verify_only):.2f} ms; of the difference, its two store reads (installation "
            f"by key, signing secrets decrypted), timed one at a time, take "
            f"{reads.reads_ms:.2f} ms "
            f"({reads.reads_cpu_ms:.2f} ms CPU), the HMAC {reads.verify_ms:.3f} ms."
        )
    if not r.goals[0].met:
        per_commit = d.per_s * (WARMUP + d.window_s) / max(1, d.commits)
        parts.append(
            f"(d) costs {cpu_ms(d):.2f} ms of server CPU per delivery against (b)'s "
            f"{cpu_ms(b):.2f} ms: the inbox row and its job, about {per_commit:.0f} deliveries "
            "a commit, on the same event loop and connections as the reads."
        )
    if not r.goals[1].met:
        parts.append(
            f"Group commit cut commits from {c.commits:,} to {d.commits:,}, but the naive variant "
            f"already reaches {c.per_s / b.per_s:.0%} of (b) (naive {cpu_ms(c):.2f} ms CPU a "
            "delivery), so with reads this costly no writer can make (d) 2 × (c)."
            if 2 * c.per_s > b.per_s
            else f"Group commit cut commits from {c.commits:,} to {d.commits:,}."
        )
    if not r.goals[2].met:
        parts.append(
            f"With {CONNECTIONS} deliveries in flight, latency ≈ {CONNECTIONS} / rate (Little's "
            f"law) = {CONNECTIONS / d.per_s * 1000:.0f} ms at {d.per_s:,.0f}/s (p50 measured "
            f"{d.p50_ms:.0f} ms); p99 < 50 ms needs well over {CONNECTIONS / 0.05:,.0f}/s."
        )
    return f"{r.engine}: " + " ".join(parts) if parts else ""


def goal_lines(rows: list[Row]) -> list[str]:
    lines = ["| engine | goal | measured | limit | met |", "|---|---|---:|---:|---|"]
    for r in rows:
        for g in r.goals:
            met = "met" if g.met else "**not met**"
            lines.append(f"| {r.engine} | {g.name} | {g.measured} | {g.limit} | {met} |")
    return lines


async def main() -> int:
    started = time.perf_counter()
    print(f"ingest benchmark: {CONNECTIONS} connections, {SECONDS:.0f} s a variant")
    rows = [await measure("sqlite", sqlite_store)]
    if await postgres_reachable():
        rows.append(await measure("postgresql", postgres_store))
    else:
        print(f"  postgresql skipped: {PG_DSN} unreachable")
    table = "\n".join([HEADER, RULE, *(line for r in rows for line in table_lines(r))])
    took = time.perf_counter() - started
    load_average = os.getloadavg()[0]
    notes = (
        f"{CONNECTIONS} connections from an aiohttp client in another process, on loopback; "
        f"{WARMUP:.0f} s warm-up, then {SECONDS:.0f} s measured per variant; every delivery a "
        "fresh signed event of about 170 bytes. (b)–(d) are the same app and receiver "
        "(installation and secrets read from the store per request); only the writer differs. "
        "Server CPU is the benchmark process's (the app) over the run, warm-up included; the "
        "client shares the machine's cores. No access log, no uvloop.\n\n"
        f"Goals: {GOALS}.\n\n"
        f"Measured {now().isoformat(timespec='seconds')} on {os.cpu_count()} cores, load "
        f"average {load_average:.1f} (other work was running); the run took {took:.0f} s."
    )
    reasons = [f"- {text}" for r in rows if (text := why(r))]
    markdown = "\n".join([table, "", *goal_lines(rows), "", *reasons, "", notes])
    print(f"{markdown}")
    meta = {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "connections": CONNECTIONS,
        "seconds_per_variant": SECONDS,
        "load_average": round(load_average, 2),
        "seconds": round(took, 1),
        "measured_at": now().isoformat(timespec="seconds"),
    }
    write_results(
        "ingest",
        {"meta": meta, "goals": GOALS, "rows": [msgspec.to_builtins(r) for r in rows]},
        markdown,
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
