"""Webhook ingest: acknowledged deliveries per second and latency of the collection receiver,
and the freshness a hint buys.

On loopback, a load generator in another process keeps 64 signed deliveries in flight: Debian's
wrk (`bench.ingest_wrk`, installed on first use; a fraction of the CPU an aiohttp client needs,
so the servers under test get the cores), or the aiohttp client `bench.ingest_load` where wrk
cannot be had or ``COLLECTBRIDGE_BENCH_INGEST_CLIENT=aiohttp``. Against, one after another in
the same run:

- **(a) bare**: a plain aiohttp handler answering 204, reading nothing.
- **(b0) verify only**: a plain handler that reads the body and checks its signature.
- **(b) no storage**: our app's collection receiver (`create_app`; the installation and its
  secrets from the receiver's cache, `webhooks.credentials`; the Standard Webhooks signature
  verified, the envelope parsed) with a writer that resolves at once: all but the inbox write.
- **(c) naive**: the same receiver with a writer that commits each request in a transaction of
  its own: the inbox row and, when new, its ``inbox.event`` job (ours, without group commit).
- **(d) ours**: the app's receiver as it ships, `webhooks.inbox.InboxWriter` (group commit,
  acknowledged after the commit): each batch handed to the inbox's own process,
  `webhooks.inbox_process` (one round trip over a pipe a batch, two batches in flight), which
  commits them in turn, each in one transaction (on PostgreSQL the rows, their ``inbox.event``
  jobs and the installation's status in one statement that is its own commit).
- **(d−) rows only**, a diagnosis, not a goal: (d)'s pipeline storing the inbox rows alone,
  without their ``inbox.event`` jobs: what the jobs cost (d), and how far the rows and the
  pipeline alone get on this machine.

Each variant: a warm-up second, then `SECONDS` measured; every delivery is a fresh event. Run
on a SQLite temp file and on a fresh PostgreSQL schema (``COLLECTBRIDGE_BENCH_POSTGRES_DSN``,
default the test database; skipped if unreachable).

**Freshness** (`bench.ingest_freshness`): with the app's embedded worker and both simulators, the
time from a hint's 2xx to the claim updated in the collection simulator.

Both run on uvloop when it is installed (it is not a dependency). Prints a table and the goals,
writes ``bench/results/ingest.json`` and the ingest section of ``bench/RESULTS.md``. Run:
``make bench`` or ``python -m bench.ingest``.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import os
import platform
import secrets
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
from aiohttp import web
from multidict import CIMultiDict

try:
    import uvloop
except ImportError:  # optional: the bench runs on asyncio's loop without it
    uvloop = None

from bench import ingest_wrk
from bench.apps import served
from bench.disk import DISK_SECONDS, STALL_MS, Disk, disk_syncs
from bench.ingest_freshness import (
    FRESHNESS_GOAL_S,
    FRESHNESS_HINTS,
    FRESHNESS_INVOICES,
    FRESHNESS_RATE,
    Freshness,
    freshness,
    freshness_lines,
)
from bench.ingest_load import delivery
from bench.queue import PG_DSN, Store, postgres_reachable, postgres_store, sqlite_store
from bench.report import Goal, write_results
from bench.timing import now
from plugin.app import create_app
from plugin.keys import DATABASE, SERVICES
from plugin.settings import Secret, Settings
from sync.jobs import NewJob, enqueue_in
from sync.store.db import Database
from sync.store.inbox import NewEntry, insert_entry
from sync.store.installations import Installations
from sync.store.webhook_secrets import WebhookSecrets
from sync.worker import Clock, utcnow
from webhooks.credentials import TTL_SECONDS
from webhooks.inbox import PIPELINED, InboxWriter, JobsFor
from webhooks.receivers import RECEIVER
from webhooks.verify import VerificationError, verify

CONNECTIONS = 64
SECONDS = float(os.environ.get("COLLECTBRIDGE_BENCH_INGEST_SECONDS", "6"))
ROUNDS = int(os.environ.get("COLLECTBRIDGE_BENCH_INGEST_ROUNDS", "3"))  # (b), (c), (d) in turn
WARMUP = 1.0
SECRET_KEY = "bench-ingest-secret-key-0123456789abcdef"
CLIENT = os.environ.get("COLLECTBRIDGE_BENCH_INGEST_CLIENT", "wrk")  # or "aiohttp"
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
    machine_busy_s: float = 0.0  # CPU seconds all processes used over the run (every core)
    machine_s: float = 0.0  # CPU seconds there were (cores × the run's length)
    commits: int = 0  # inbox transactions committed during the run ((c) and (d))


class Reads(msgspec.Struct, frozen=True, kw_only=True):
    """Per-request costs of the receiver measured alone, in this process: its two store reads
    (installation by key, signing secrets decrypted) and the signature check."""

    reads_ms: float
    reads_cpu_ms: float
    cached_ms: float
    verify_ms: float


class Row(msgspec.Struct, frozen=True, kw_only=True):
    engine: str
    bare: Load
    verify_only: Load
    no_storage: Load
    naive: Load
    ours: Load
    reads: Reads
    rows_only: Load | None = None
    goals: list[Goal]
    rounds: dict[str, list[float]] = {}  # every round's deliveries/s of (b), (c), (d)
    disk: Disk | None = None


# --- the writers swapped into the receiver (webhooks/ itself is unchanged) -------------------
class Instant(InboxWriter):
    """Storage switched off: every delivery is "stored" at once."""

    async def store(
        self, entry: NewEntry, jobs: Sequence[NewJob] = (), *, then: JobsFor | None = None
    ) -> bool:
        return True


class OneByOne(InboxWriter):
    """The naive receiver's storage: per request, one transaction of the inbox row and, when it
    is new, its jobs (the same rows as ours, without group commit)."""

    async def store(
        self, entry: NewEntry, jobs: Sequence[NewJob] = (), *, then: JobsFor | None = None
    ) -> bool:
        now = self.clock()
        async with self.db.transaction() as tx:
            inbox_id = await insert_entry(tx, entry, now=now)
            if inbox_id is not None:
                made = [*jobs, *(then(inbox_id) if then is not None else ())]
                await enqueue_in(tx, made, now=now)
        self.commits += 1
        return inbox_id is not None


class RowsOnly(InboxWriter):
    """(d) without the jobs: the inbox rows alone, through the same pipeline (the inbox
    process, group commit, acknowledged after the commit). A diagnosis of (d), not a goal."""

    async def store(
        self, entry: NewEntry, jobs: Sequence[NewJob] = (), *, then: JobsFor | None = None
    ) -> bool:
        return await super().store(entry)


# --- servers and the load generator ----------------------------------------------------------
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


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of all cores since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields) - idle) / tick, sum(fields) / tick


@functools.cache
def wrk() -> str | None:
    """wrk's path (installed on first use) unless the aiohttp client is asked for."""
    return ingest_wrk.ensure_wrk() if CLIENT == "wrk" else None


async def drive(url: str, signing_secret: str, prefix: str) -> Load:
    """One run of the load generator against ``url``: wrk (`bench.ingest_wrk`) when it can be
    had, else the aiohttp client (`bench.ingest_load`). The server's CPU is this process's, over
    the measured run (with the aiohttp client, whose warm-up is in its process, the warm-up
    included)."""
    if (path := wrk()) is not None:
        with ingest_wrk.feeds(signing_secret, prefix, seconds=SECONDS, warmup=WARMUP) as feed:
            await ingest_wrk.run(path, url, feed.warm, connections=CONNECTIONS, seconds=WARMUP)
            return await measured(
                ingest_wrk.run(path, url, feed.measured, connections=CONNECTIONS, seconds=SECONDS)
            )
    return await measured(aiohttp_client(url, signing_secret, prefix))


async def aiohttp_client(url: str, signing_secret: str, prefix: str) -> dict[str, object]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.ingest_load",
        *("--url", url, "--secret", signing_secret, "--prefix", prefix),
        *("--connections", str(CONNECTIONS), "--seconds", str(SECONDS), "--warmup", str(WARMUP)),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    if process.returncode != 0 or not out:
        raise RuntimeError(f"the load generator failed ({process.returncode})")
    result: dict[str, object] = json.loads(out)
    return result


async def measured(run: Coroutine[Any, Any, dict[str, object]]) -> Load:
    """``run``'s load, with this process's CPU and the machine's over it."""
    cpu = time.process_time()
    busy_before, total_before = machine_cpu()
    result = await run
    cpu = time.process_time() - cpu
    busy_after, total_after = machine_cpu()
    return msgspec.convert(
        {
            **result,
            "server_cpu_s": round(cpu, 2),
            "machine_busy_s": round(busy_after - busy_before, 2),
            "machine_s": round(total_after - total_before, 2),
        },
        Load,
    )


async def quiesce(database_url: str) -> None:
    """Leave the store as each variant found it: what the previous one wrote checkpointed, and
    on PostgreSQL vacuumed and analysed, so that no variant pays for the last one's writes (an
    autovacuum of the inbox after (c)'s thousands of commits, a checkpoint)."""
    if database_url.startswith("sqlite:///"):
        path = database_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as lite:
            lite.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    pg = await asyncpg.connect(database_url, timeout=10)
    try:
        await pg.execute("VACUUM ANALYZE inbox")
        await pg.execute("VACUUM ANALYZE jobs")
        await pg.execute("CHECKPOINT")
    finally:
        await pg.close()


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
        # The disk the commits flush to (PostgreSQL's data is on the same disk here), alone.
        folder = (
            str(Path(database_url.removeprefix("sqlite:///")).parent)
            if database_url.startswith("sqlite:///")
            else tempfile.gettempdir()
        )
        disk = await asyncio.to_thread(disk_syncs, folder)
        print(
            f"  {engine:<10} disk fdatasync p50 {disk.p50_ms:.2f} ms  p99 {disk.p99_ms:.2f} ms  "
            f"max {disk.max_ms:.0f} ms  stalls over {STALL_MS:.0f} ms {disk.stalls}",
            flush=True,
        )
        settings = Settings(database_url=database_url, secret_keys=(Secret(SECRET_KEY),))
        clock: Clock = utcnow
        app = create_app(settings, run_worker=False, clock=clock)
        async with served(app) as url:
            db = app[DATABASE]
            signer = await installation(db, app)
            reads = await time_reads(app, *signer)
            # (b) and (d) back to back in each round, so that a pair sees the machine alike
            # (its speed drifts over minutes); (c) after them.
            rows_only = RowsOnly(db, clock=clock, process=True)
            rows_only.start()
            writers: dict[str, Callable[[], InboxWriter | None]] = {
                "no_storage": lambda: Instant(db, clock=clock),
                "ours": lambda: None,
                "rows_only": lambda: rows_only,
                "naive": lambda: OneByOne(db, clock=clock),
            }
            runs: dict[str, list[Load]] = {name: [] for name in writers}
            try:
                for round_ in range(1, ROUNDS + 1):
                    for name, writer in writers.items():
                        await quiesce(database_url)
                        runs[name].append(await through_receiver(url, app, signer, writer()))
                        label = f"{LABELS[name]} {round_}/{ROUNDS}"
                        print(f"  {engine:<10} {label:<18} {progress(runs[name][-1])}", flush=True)
            finally:
                await rows_only.close()
    no_storage, naive, ours = (median_run(runs[name]) for name in ("no_storage", "naive", "ours"))
    return Row(
        engine=engine,
        bare=bare,
        verify_only=verify_only,
        no_storage=no_storage,
        naive=naive,
        ours=ours,
        reads=reads,
        rows_only=median_run(runs["rows_only"]),
        goals=goals(no_storage, naive, ours),
        rounds={name: [x.per_s for x in loads] for name, loads in runs.items()},
        disk=disk,
    )


async def time_reads(app: web.Application, key: str, signing_secret: str, n: int = 300) -> Reads:
    """The receiver's lookup timed alone: the store's two reads (what a miss of its cache costs,
    what every delivery cost before the cache) and a hit; and the HMAC."""
    receiver = app[RECEIVER]
    clock = receiver.wiring.clock
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        await receiver.read(key, "signing", clock())
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    await receiver.known(key, "signing")
    started = time.perf_counter()
    for _ in range(n):
        await receiver.known(key, "signing")
    hit = time.perf_counter() - started
    body, headers = delivery(base64.b64decode(signing_secret.removeprefix("whsec_")), "e", "0")
    started = time.perf_counter()
    for _ in range(n):
        verify(body, CIMultiDict(headers), [signing_secret], 0)
    checked = time.perf_counter() - started
    return Reads(
        reads_ms=round(wall / n * 1000, 3),
        reads_cpu_ms=round(cpu / n * 1000, 3),
        cached_ms=round(hit / n * 1000, 4),
        verify_ms=round(checked / n * 1000, 3),
    )


def median_run(loads: list[Load]) -> Load:
    """The round of median throughput (the machine is shared: single runs vary a lot)."""
    return sorted(loads, key=lambda x: x.per_s)[len(loads) // 2]


def paired(r: Row) -> list[float]:
    """(d) / (b) of each round: the two run back to back, so the machine's drift over the
    minutes of a run weighs less on it than on the ratio of the medians."""
    b, d = r.rounds.get("no_storage", []), r.rounds.get("ours", [])
    return [d_ / b_ if b_ else 0.0 for b_, d_ in zip(b, d, strict=True)]


LABELS = {
    "no_storage": "(b) no storage",
    "naive": "(c) naive",
    "ours": "(d) ours",
    "rows_only": "(d−) rows only",
}


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
    "| client CPU s | machine busy | commits |"
)
RULE = "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
VARIANTS = (
    ("bare", "(a) bare 204"),
    ("verify_only", "(b0) bare handler, verify only"),
    ("no_storage", "(b) signed, no storage"),
    ("naive", "(c) naive, 1 commit/request"),
    ("ours", "(d) ours, group commit"),
    ("rows_only", "(d−) ours without the jobs (diagnosis)"),
)


def table_lines(r: Row) -> list[str]:
    lines = []
    for field, label in VARIANTS:
        x: Load | None = getattr(r, field)
        if x is None:
            continue
        failed = x.requests - x.acknowledged
        commits = f"{x.commits:,}" if field in ("naive", "ours", "rows_only") else "–"
        lines.append(
            f"| {r.engine} | {label} | {x.per_s:,.0f} | {x.p50_ms:.1f} | {x.p99_ms:.1f} "
            f"| {failed} | {x.server_cpu_s:.1f} | {x.client_cpu_s:.1f} | {busy(x):.0%} "
            f"| {commits} |"
        )
    return lines


def cpu_ms(x: Load) -> float:
    """Server CPU per delivery (with the aiohttp client the CPU covers its warm-up too, at
    about the same rate; with wrk the measured run only)."""
    seconds = x.window_s if wrk() is not None else WARMUP + x.window_s
    return x.server_cpu_s / max(1.0, x.per_s * seconds) * 1000


def why(r: Row) -> str:
    """The measured reasons, for each goal this engine misses."""
    b, c, d, reads = r.no_storage, r.naive, r.ours, r.reads
    parts = []
    if not r.goals[0].met:
        per_commit = d.per_s * (WARMUP + d.window_s) / max(1, d.commits)
        cycle_ms = (WARMUP + d.window_s) / max(1, d.commits) * 1000
        writers = PIPELINED
        parts.append(
            f"(d) has up to {writers} batch{'es' if writers > 1 else ''} in flight: "
            f"{d.commits:,} commits of about {per_commit:.0f} deliveries, one every "
            f"{cycle_ms:.1f} ms (each batch's commit in the inbox process, one after another, "
            "on a machine whose cores the app, the load generator and the database share); a "
            "delivery waits for the batches committing when it came and then its own, "
            f"so with {CONNECTIONS} in flight (d)'s "
            f"p50 is {d.p50_ms:.1f} ms against (b)'s {b.p50_ms:.1f} ms. The app spends "
            f"{cpu_ms(d):.3f} ms of CPU a delivery in (d) against {cpu_ms(b):.3f} ms in (b) (the "
            "batches handed over; the inbox process's work is not in it), and the machine is "
            f"busy {busy(b):.0%} in (b) and "
            f"{busy(d):.0%} in (d), the database's server included. (b) itself runs at "
            f"{b.per_s / r.bare.per_s:.0%} of the bare handler (a) (its lookup a cache hit of "
            f"{reads.cached_ms * 1000:.0f} µs, a miss {reads.reads_ms:.2f} ms once per key every "
            f"{TTL_SECONDS:.0f} s; the HMAC {reads.verify_ms * 1000:.0f} µs)."
        )
        if (rows := r.rows_only) is not None:
            server = "" if r.engine == "sqlite" else "the database server, "
            parts.append(
                f"Without its jobs ((d−): the inbox rows alone, through the same pipeline) the "
                f"receiver acknowledges {rows.per_s:,.0f}/s, {rows.per_s / b.per_s:.2f} × (b), "
                f"in {rows.commits:,} commits: {server}"
                "the inbox process, the app and the load generator share the machine's cores, so "
                "every CPU millisecond a batch costs the database is one the receiver lacks."
            )
    if not r.goals[1].met:
        parts.append(
            f"Group commit cut commits from {c.commits:,} to {d.commits:,}; the naive variant "
            f"reaches {c.per_s / b.per_s:.0%} of (b) (naive {cpu_ms(c):.3f} ms server CPU a "
            "delivery)."
        )
    if not r.goals[2].met:
        parts.append(
            f"(d)'s p50 is {d.p50_ms:.0f} ms (≈ {CONNECTIONS} in flight / {d.per_s:,.0f}/s, "
            f"Little's law: {CONNECTIONS / d.per_s * 1000:.0f} ms) and its p99 {d.p99_ms:.0f} ms; "
            f"(b)'s p99 is {b.p99_ms:.0f} ms and the bare handler's {r.bare.p99_ms:.0f} ms in the "
            "same run: the tail is the requests waiting for CPU on a saturated machine, and "
            "for the batch that commits before theirs."
        )
        if r.disk is not None and r.disk.stalls:
            parts.append(
                f"The disk, timed alone in the same run, flushed 8 KiB in {r.disk.p50_ms:.2f} ms "
                f"at the median but stalled over {STALL_MS:.0f} ms {r.disk.stalls} times in "
                f"{DISK_SECONDS:.0f} s (longest {r.disk.max_ms:.0f} ms): a commit waiting for "
                "such a stall holds every delivery of its batch and of the batches behind it, "
                f"about {CONNECTIONS} requests each time, so a few stalls a run are the 99th "
                "percentile ((b) writes nothing)."
            )
    return f"{r.engine}: " + " ".join(parts) if parts else ""


def busy(x: Load) -> float:
    """The share of the machine's cores busy over the run (any process)."""
    return x.machine_busy_s / max(0.001, x.machine_s)


def goal_lines(rows: list[Row], fresh: list[Freshness]) -> list[str]:
    lines = ["| engine | goal | measured | limit | met |", "|---|---|---:|---:|---|"]
    judged = [(r.engine, g) for r in rows for g in r.goals] + [(f.engine, f.goal) for f in fresh]
    for engine, g in judged:
        met = "met" if g.met else "**not met**"
        lines.append(f"| {engine} | {g.name} | {g.measured} | {g.limit} | {met} |")
    return lines


async def main() -> int:
    started = time.perf_counter()
    loop = "uvloop" if uvloop is not None else "asyncio"
    print(f"ingest benchmark: {CONNECTIONS} connections, {SECONDS:.0f} s a run, {loop}")
    engines: list[tuple[str, Store]] = [("sqlite", sqlite_store)]
    if await postgres_reachable():
        engines.append(("postgresql", postgres_store))
    else:
        print(f"  postgresql skipped: {PG_DSN} unreachable")
    rows = [await measure(engine, store) for engine, store in engines]
    fresh = []
    for engine, store in engines:
        fresh.append(await freshness(engine, store))
        f = fresh[-1]
        print(f"  {engine:<10} freshness  p50 {f.p50_s:.2f} s  p95 {f.p95_s:.2f} s", flush=True)
    table = "\n".join([HEADER, RULE, *(line for r in rows for line in table_lines(r))])
    took = time.perf_counter() - started
    load_average = os.getloadavg()[0]
    uv = "uvloop in the app and the client" if uvloop is not None else "no uvloop (not installed)"
    if wrk() is not None:
        generator = "wrk in another process (one thread; `bench.ingest_wrk`)"
        cpu_over = "the measured run"
    else:
        generator = "an aiohttp client in another process (`bench.ingest_load`; no wrk)"
        cpu_over = "the run, the client's warm-up included"
    notes = (
        f"{CONNECTIONS} connections from {generator}, on loopback; "
        f"{WARMUP:.0f} s warm-up, then {SECONDS:.0f} s measured per run; every delivery a "
        f"fresh signed event of about 170 bytes. (b), (d), (d−) and (c) run in turn (the pair the "
        f"first goal compares back to back), {ROUNDS} rounds, the store checkpointed (and on "
        "PostgreSQL vacuumed) before each run; each is shown by its round of median throughput "
        "(every round's rate above the goals, as the machine is shared and single runs vary by "
        "2× or more). (b)–(d−) are the same app and receiver (the "
        "installation and its secrets from the receiver's cache, `webhooks.credentials`, read "
        f"from the store once per key every {TTL_SECONDS:.0f} s); only the writer differs. "
        f"Server CPU is the benchmark process's (the app) over {cpu_over} ((d)'s inbox "
        "process, `webhooks.inbox_process`, is not in it but in machine busy); "
        "machine busy is every process's CPU (client, app, PostgreSQL, other work) over all "
        f"cores. No access log; {uv}.\n\n"
        "Freshness: the app with its embedded worker (`create_app`, default settings; the inbox "
        "writer wakes the worker after each commit that enqueued jobs, so a hint's job does not "
        "wait for the worker's next poll) and both simulators in another process; a company of "
        f"{FRESHNESS_INVOICES:,} invoices bootstrapped, then {FRESHNESS_HINTS} open claims' "
        f"invoices each paid a tenth in the e-conomic simulator and hinted, {FRESHNESS_RATE:.0f} "
        "hints a second; each timed from the hint's 2xx to the end of its `sync.invoice` job, "
        "which ends once the collection simulator accepted the claim's new remaining amount "
        "(claims updated: stored remaining lowered and pushed).\n\n"
        f"Goals: {GOALS}; freshness p95 < {FRESHNESS_GOAL_S:.0f} s.\n\n"
        f"Measured {now().isoformat(timespec='seconds')} on {os.cpu_count()} cores, load "
        f"average {load_average:.1f} (other work was running); the run took {took:.0f} s."
    )
    reasons = [f"- {text}" for r in rows if (text := why(r))]
    rounds = [
        f"- {r.engine}, deliveries/s of each round: "
        + "; ".join(
            f"{LABELS[name]} {', '.join(f'{v:,.0f}' for v in rates)}"
            for name, rates in r.rounds.items()
        )
        + f"; (d) / (b) within each round {', '.join(f'{v:.2f}' for v in paired(r))} (median "
        f"{sorted(paired(r))[len(paired(r)) // 2]:.2f}; the goal is judged on the medians above)"
        for r in rows
    ]
    rounds += [
        f"- {r.engine}, the disk timed alone before its runs: fdatasync of 8 KiB p50 "
        f"{r.disk.p50_ms:.2f} ms, p99 {r.disk.p99_ms:.2f} ms, longest {r.disk.max_ms:.0f} ms, "
        f"{r.disk.stalls} over {STALL_MS:.0f} ms in {DISK_SECONDS:.0f} s"
        for r in rows
        if r.disk is not None
    ]
    markdown = "\n".join(
        [
            table,
            "",
            *rounds,
            "",
            *freshness_lines(fresh),
            "",
            *goal_lines(rows, fresh),
            "",
            *reasons,
            "",
            notes,
        ]
    )
    print(f"{markdown}")
    meta = {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "connections": CONNECTIONS,
        "seconds_per_run": SECONDS,
        "rounds": ROUNDS,
        "event_loop": loop,
        "load_average": round(load_average, 2),
        "seconds": round(took, 1),
        "measured_at": now().isoformat(timespec="seconds"),
    }
    write_results(
        "ingest",
        {
            "meta": meta,
            "goals": GOALS,
            "rows": [msgspec.to_builtins(r) for r in rows],
            "freshness": [msgspec.to_builtins(f) for f in fresh],
        },
        markdown,
    )
    return 0


def run(main: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """``main()`` on uvloop when it is installed, on asyncio's own loop otherwise."""
    if uvloop is not None:
        return int(uvloop.run(main()))
    return asyncio.run(main())


if __name__ == "__main__":
    sys.exit(run(main))
