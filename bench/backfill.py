"""The bootstrap of one big company (`sync.backfill`), through the real worker, against a floor.

    python -m bench.backfill [--invoices 100000] [--customers 20000] [--database sqlite|postgresql]

Both simulators run in a process of their own (`bench.sandbox_process`), seeded with one company
of ``--invoices`` booked invoices and ``--customers`` customers, so this process is the app's
alone: its peak RSS (``VmHWM``, reset before each run) is the app's. In the same run:

- **floor**: a bare client (plain aiohttp, no store, no checkpoints, no fingerprints, no job
  queue, no budget accounting) pages through ``/invoices/unpaid`` and ``/customers`` at 1000 a
  page, keeps the claims in memory and writes the debtors, then the claims, to a collection
  account of its own through the batch endpoints, 500 an item. It sends the same requests for
  pages (by key, as the engine does) and the same documents (the engine's pure mapping and
  selection, so both write identical claims and debtors): what it leaves out is the machinery.
- **bootstrap**: ``sync.bootstrap`` enqueued and run by `plugin.bootstrap.build_worker` (one
  slot) over a fresh store, SQLite by default, timed from the enqueue until the job is
  recorded. The worker stops when the job has ended, so the ``sync.document`` jobs the
  bootstrap queues at its end (one e-conomic call per PDF) are counted, not run.
- **no-change cycle**: the incremental ``sync.customers`` and the daily ``sync.scan`` (checksum
  unchanged) right after, through the worker the same way.

Calls are counted by the simulators' own call logs. Each run's CPU seconds are given for this
process and for the simulators' (both on the same cores). Prints a table, writes
``bench/results/backfill.json`` and the backfill section of ``bench/RESULTS.md`` (one row set
per database engine, the last run of each kept). Run: ``make bench`` or as above. PostgreSQL:
``COLLECTBRIDGE_BENCH_POSTGRES_DSN`` (default the test database), a fresh schema per run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import re
import secrets
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

from bench.queue import PG_DSN, postgres_reachable, postgres_store, sqlite_store
from bench.report import Goal, stored_results, write_results
from bench.sandbox_process import CREDENTIALS
from bench.timing import now
from plugin.bootstrap import Services, build_worker, open_services
from plugin.jobkinds import build_handlers
from plugin.settings import Secret, Settings
from sync import schedules
from sync.clients.collection import create_account
from sync.clients.collection_auth import save_created_grant
from sync.clients.collection_tokens import DatabaseTokenStore
from sync.clients.collection_types import BatchResult, Claim, Debtor, NewAccount
from sync.clients.economic_types import BookedInvoice, Customer
from sync.company_settings import CompanySettings
from sync.jobs import Job
from sync.mapping import claim_of, debtor_of, is_open_credit_note, is_overdue
from sync.mapping import today_in_copenhagen as today_at
from sync.store.claims import Claims, Customers
from sync.store.economic_grants import EconomicGrants
from sync.store.installations import Installation, Installations
from sync.worker import JobContext

PAGE = 1000
BATCH = 500
SECRET_KEY = "bench-secret-key-" + "0123456789abcdef" * 2
RSS_GOAL_MB = 300
RUN_TIMEOUT = 1800.0  # seconds: a run that hangs fails the benchmark instead
GOALS = (
    "wall time ≤ 1.5 × the floor (the mean of the two); e-conomic calls ≤ 1.05 × the minimum "
    "(⌈unpaid invoices/1000⌉ + ⌈customers/1000⌉) + 20, PDFs apart; collection calls ≤ "
    f"⌈(claims + debtors)/500⌉ + 20; peak RSS of the app's process < {RSS_GOAL_MB} MB; a "
    "no-change cycle ≤ 3 calls"
)


class Run(msgspec.Struct, frozen=True, kw_only=True):
    """One measured run: wall time, calls per platform, CPU of each process, peak RSS."""

    seconds: float
    economic_calls: int
    collection_calls: int
    app_cpu_seconds: float
    simulator_cpu_seconds: float
    peak_rss_mb: float
    claims: int = 0
    debtors: int = 0
    load_average: float = 0.0  # of the machine over the last minute, as the run ended


class Result(msgspec.Struct, frozen=True, kw_only=True):
    engine: str
    invoices: int
    customers: int
    unpaid_invoices: int
    floor_before: Run
    bootstrap: Run
    floor_after: Run
    no_change: Run
    documents_queued: int
    economic_minimum: int
    collection_minimum: int
    goals: list[Goal]
    measured_at: str


# --- the simulators' process and the meters ------------------------------------------------
@dataclass
class Sandbox:
    economic: str
    collection: str
    agreement: int
    pid: int
    http: aiohttp.ClientSession

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def economic_calls(self) -> int:
        url = f"{self.economic}/_sandbox/calls"
        async with self.http.get(url, params={"agreement": str(self.agreement)}) as resp:
            return len((await resp.json())["items"])

    async def collection_calls(self) -> int:
        async with self.http.get(f"{self.collection}/_sandbox/calls") as resp:
            return len((await resp.json())["items"])

    async def grant(self) -> str:
        async with self.http.post(f"{self.economic}/_sandbox/grants/{self.agreement}") as resp:
            return str((await resp.json())["token"])


@asynccontextmanager
async def sandbox_process(invoices: int, customers: int) -> AsyncIterator[Sandbox]:
    command = ["-m", "bench.sandbox_process", "--invoices", str(invoices)]
    process = await asyncio.create_subprocess_exec(
        sys.executable, *command, "--customers", str(customers), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=300)
        if not line:
            raise RuntimeError("the simulators' process ended before it was ready")
        ready = json.loads(line)
        async with aiohttp.ClientSession() as http:
            yield Sandbox(
                ready["economic"], ready["collection"], ready["agreement"], process.pid, http
            )
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()


def reset_peak_rss() -> None:
    """Start this process's high-water mark afresh (Linux: ``5`` to ``clear_refs``)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_mb() -> float:
    found = re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text())
    return round(int(found.group(1)) / 1024, 1) if found else math.nan


async def measured(
    sandbox: Sandbox,
    work: Awaitable[tuple[int, int] | None],
    written: Callable[[], Awaitable[tuple[int, int]]] | None = None,
) -> Run:
    """Run ``work`` and measure it; the claims and debtors written are what ``work`` answers,
    or what ``written`` counts once the clock has stopped."""
    economic, collection = await sandbox.economic_calls(), await sandbox.collection_calls()
    simulator = sandbox.cpu_seconds()
    reset_peak_rss()
    cpu, started = time.process_time(), time.perf_counter()
    answer = await work
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak, simulator = peak_rss_mb(), sandbox.cpu_seconds() - simulator
    claims, debtors = answer or (await written() if written else (0, 0))
    return Run(
        seconds=round(seconds, 2),
        economic_calls=await sandbox.economic_calls() - economic,
        collection_calls=await sandbox.collection_calls() - collection,
        app_cpu_seconds=round(cpu, 2),
        simulator_cpu_seconds=round(simulator, 2),
        peak_rss_mb=peak,
        claims=claims,
        debtors=debtors,
        load_average=round(os.getloadavg()[0], 2),
    )


# --- the floor: a bare client ---------------------------------------------------------------
class Pagination(msgspec.Struct, rename="camel"):
    next_page: str | None = None
    results_without_filter: int | None = None


class InvoicePage(msgspec.Struct):
    collection: list[BookedInvoice]
    pagination: Pagination


class CustomerPage(msgspec.Struct):
    collection: list[Customer]
    pagination: Pagination


async def pages(
    http: aiohttp.ClientSession,
    url: str,
    key: str,
    kind: type[InvoicePage | CustomerPage],
    headers: dict[str, str],
) -> AsyncIterator[list[Any]]:
    """Every page of a collection at 1000 a page, by key (``key$gt:<last>``)."""
    after = 0
    while True:
        params = {"skippages": "0", "pagesize": str(PAGE), "sort": key}
        if after:
            params["filter"] = f"{key}$gt:{after}"
        async with http.get(url, params=params, headers=headers) as resp:
            resp.raise_for_status()
            page = msgspec.json.decode(await resp.read(), type=kind)
        yield page.collection
        if page.pagination.next_page is None or not page.collection:
            return
        after = getattr(page.collection[-1], _attribute(key))


def _attribute(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


async def post_batch(
    http: aiohttp.ClientSession, url: str, token: str, items: list[tuple[str, Any]]
) -> set[str]:
    """One batch upsert (honouring a 429's ``Retry-After``); the refs the platform took."""
    body = msgspec.json.encode(
        {"items": [{"external_ref": ref, **msgspec.to_builtins(item)} for ref, item in items]}
    )
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Idempotency-Key": secrets.token_hex(16),
    }
    while True:
        async with http.post(url, data=body, headers=headers) as resp:
            if resp.status == 429:
                await asyncio.sleep(float(resp.headers.get("Retry-After", "1")))
                continue
            resp.raise_for_status()
            answer = msgspec.json.decode(await resp.read(), type=BatchResult)
        return {r.external_ref for r in answer.results if r.status in (200, 201) and r.external_ref}


async def floor(
    http: aiohttp.ClientSession, sandbox: Sandbox, grant: str, token: str
) -> tuple[int, int]:
    """Page the invoices, page the customers writing their debtors, write the claims; the
    claims and debtors the platform took."""
    headers = {"X-AppSecretToken": CREDENTIALS.app_secret_token, "X-AgreementGrantToken": grant}
    today = today_at(now())
    claims: list[Claim] = []
    async for items in pages(
        http, f"{sandbox.economic}/invoices/unpaid", "bookedInvoiceNumber", InvoicePage, headers
    ):
        for invoice in items:
            if is_overdue(invoice, today=today) or is_open_credit_note(invoice):
                # remaining_base (the only use of the base currency) is not sent
                draft = claim_of(invoice, base_currency="DKK").value
                if draft is not None:
                    claims.append(draft.claim)
    owing = {int(c.debtor_ref) for c in claims if c.kind == "invoice"}
    settings, debtors, pending = CompanySettings(), set[str](), list[tuple[str, Debtor]]()
    url = f"{sandbox.collection}/v1/debtors/batch"
    async for customers in pages(
        http, f"{sandbox.economic}/customers", "customerNumber", CustomerPage, headers
    ):
        for customer in (c for c in customers if c.customer_number in owing):
            debtor = debtor_of(customer, settings).value
            if debtor is not None:
                pending.append((str(customer.customer_number), debtor))
        while len(pending) >= BATCH:
            debtors |= await post_batch(http, url, token, pending[:BATCH])
            del pending[:BATCH]
    if pending:
        debtors |= await post_batch(http, url, token, pending)
    sendable = [(str(c.invoice_number), c) for c in claims if c.debtor_ref in debtors]
    taken = 0
    for start in range(0, len(sendable), BATCH):
        chunk = sendable[start : start + BATCH]
        taken += len(await post_batch(http, f"{sandbox.collection}/v1/claims/batch", token, chunk))
    return taken, len(debtors)


# --- the app: an installation, and jobs through the real worker -----------------------------
def app_settings(database_url: str, sandbox: Sandbox) -> Settings:
    return Settings(
        database_url=database_url,
        secret_keys=(Secret(SECRET_KEY),),
        economic_app_secret_token=Secret(CREDENTIALS.app_secret_token),
        economic_app_public_token=Secret(CREDENTIALS.app_public_token),
        economic_api_url=sandbox.economic,
        economic_openapi_url=sandbox.economic,
        collection_api_url=sandbox.collection,
        collection_client_id=CREDENTIALS.client_id,
        collection_client_secret=Secret(CREDENTIALS.client_secret),
        log_level="WARNING",
    )


async def new_account(services: Services, sandbox: Sandbox, agreement: int) -> Any:
    """A collection account (the partner flow) for ``agreement``, with its grant."""
    name = f"Bench {agreement}"
    return await create_account(
        services.http,
        base_url=sandbox.collection,
        client_id=CREDENTIALS.client_id,
        client_secret=CREDENTIALS.client_secret,
        account=NewAccount(
            name=name,
            country="DK",
            email=f"bogholder@{agreement}.example",
            base_currency="DKK",
            external_ref=f"economic:{agreement}",
        ),
        idempotency_key=f"account:{agreement}",
    )


async def install(services: Services, sandbox: Sandbox) -> Installation:
    """The company installed with a stored grant and linked to a new collection account."""
    assert services.cipher is not None
    at = services.clock()
    installation = await Installations(services.db).activate(
        agreement_number=sandbox.agreement, company_name="Bench ApS", now=at
    )
    grants = EconomicGrants(services.db, services.cipher)
    await grants.save(installation.id, await sandbox.grant(), now=at)
    created = await new_account(services, sandbox, sandbox.agreement)
    store = DatabaseTokenStore(services.db, services.cipher)
    await save_created_grant(store, installation.id, created, now=at)
    found = await Installations(services.db).get(installation.id)
    assert found is not None
    return found


async def run_jobs(services: Services, jobs: list[int]) -> list[Job]:
    """Run the worker (one slot, handlers of these jobs' kinds only) until ``jobs`` have ended;
    priorities put them before the queued PDF jobs, which the stop leaves queued."""
    kinds = {job.kind for job in [await services.queue.get(j) for j in jobs] if job is not None}
    every = build_handlers(services)
    stop = asyncio.Event()
    left = set(jobs)

    def until_done(handler: Callable[[JobContext], Awaitable[None]]) -> Any:
        async def run(ctx: JobContext) -> None:
            try:
                await handler(ctx)
            finally:
                left.discard(ctx.job.id)
                if not left:
                    stop.set()

        return run

    worker = build_worker(services, {k: until_done(every[k]) for k in kinds}, concurrency=1)
    await asyncio.wait_for(worker.run(stop), timeout=RUN_TIMEOUT)
    ended = [await services.queue.get(job_id) for job_id in jobs]
    return [job for job in ended if job is not None]


async def bootstrap(services: Services, installation: Installation) -> None:
    job = schedules.bootstrap(installation.id, installation.agreement_number)
    [done] = await run_jobs(services, [await services.queue.enqueue(job, now=services.clock())])
    if done.state != "succeeded":
        raise RuntimeError(f"the bootstrap ended {done.state}: {done.last_error}")


async def pushed(services: Services, installation: Installation) -> tuple[int, int]:
    """The claims and debtors the collection account holds, by our store."""
    claims = await Claims(services.db).after(installation.id, limit=10_000_000)
    debtors = await Customers(services.db).pushed_fingerprints(installation.id)
    return (
        sum(c.pushed_fingerprint is not None for c in claims),
        sum(p is not None for p in debtors.values()),
    )


async def no_change_cycle(services: Services, installation: Installation) -> None:
    at = services.clock()
    ids, agreement = installation.id, installation.agreement_number
    jobs = [
        schedules.customers(ids, agreement, run_at=at),
        schedules.scan(ids, agreement, run_at=at),
    ]
    ended = await run_jobs(services, [await services.queue.enqueue(j, now=at) for j in jobs])
    failed = [f"{j.kind} {j.state}: {j.last_error}" for j in ended if j.state != "succeeded"]
    if failed:
        raise RuntimeError(f"the no-change cycle failed: {failed}")


async def documents_queued(services: Services) -> int:
    """The ``sync.document`` jobs waiting (one installation in the benchmark's store)."""
    counts = await services.queue.counts()
    return sum(n for kind, state, n in counts if kind == "sync.document" and state == "queued")


# --- one measurement ------------------------------------------------------------------------
async def measure(engine: str, invoices: int, customers: int) -> Result:
    """Floor, bootstrap, floor again (the two floors bracket the bootstrap in time, so load
    from elsewhere on the machine weighs on both sides alike), then the no-change cycle."""
    store = sqlite_store if engine == "sqlite" else postgres_store
    async with sandbox_process(invoices, customers) as sandbox, store() as url:
        async with open_services(app_settings(url, sandbox)) as services:
            installation = await install(services, sandbox)
            grant = await sandbox.grant()

            async def bare(account: int) -> Run:
                # An account of its own: the floor's writes never meet the bootstrap's.
                token = (await new_account(services, sandbox, account)).grant.access_token
                return await measured(sandbox, floor(services.http, sandbox, grant, token))

            before = await bare(sandbox.agreement + 1)
            print(f"  floor: {before.seconds:.1f} s", flush=True)
            boot = await measured(
                sandbox,
                bootstrap(services, installation),
                lambda: pushed(services, installation),
            )
            print(f"  bootstrap: {boot.seconds:.1f} s", flush=True)
            after = await bare(sandbox.agreement + 2)
            print(f"  floor again: {after.seconds:.1f} s", flush=True)
            cycle = await measured(sandbox, no_change_cycle(services, installation))
            documents = await documents_queued(services)
            unpaid = await unpaid_count(sandbox, grant)
    runs = Result(
        engine=engine,
        invoices=invoices,
        customers=customers,
        unpaid_invoices=unpaid,
        floor_before=before,
        bootstrap=boot,
        floor_after=after,
        no_change=cycle,
        documents_queued=documents,
        economic_minimum=math.ceil(unpaid / PAGE) + math.ceil(customers / PAGE),
        collection_minimum=math.ceil((boot.claims + boot.debtors) / BATCH),
        goals=[],
        measured_at=now().isoformat(timespec="seconds"),
    )
    return msgspec.structs.replace(runs, goals=judged(runs))


async def unpaid_count(sandbox: Sandbox, grant: str) -> int:
    headers = {"X-AppSecretToken": CREDENTIALS.app_secret_token, "X-AgreementGrantToken": grant}
    url = f"{sandbox.economic}/invoices/unpaid"
    async with sandbox.http.get(url, params={"pagesize": "1"}, headers=headers) as resp:
        return int((await resp.json())["pagination"]["results"])


def judged(r: Result) -> list[Goal]:
    """Each goal against its limit; the wall time against the mean of the two floors."""
    floor_seconds = (r.floor_before.seconds + r.floor_after.seconds) / 2
    economic_limit = round(1.05 * r.economic_minimum + 20, 1)
    cycle_calls = r.no_change.economic_calls + r.no_change.collection_calls
    measures = [
        ("wall time / floor", round(r.bootstrap.seconds / floor_seconds, 2), 1.5),
        ("e-conomic calls", r.bootstrap.economic_calls, economic_limit),
        ("collection calls", r.bootstrap.collection_calls, r.collection_minimum + 20),
        ("no-change cycle calls", cycle_calls, 3),
    ]
    goals = [Goal(name=n, measured=m, limit=limit, met=m <= limit) for n, m, limit in measures]
    peak = r.bootstrap.peak_rss_mb
    goals.insert(
        3, Goal(name="peak RSS MB", measured=peak, limit=RSS_GOAL_MB, met=peak < RSS_GOAL_MB)
    )
    return goals


# --- reporting ------------------------------------------------------------------------------
RUNS_HEADER = (
    "| engine | run | wall s | e-conomic calls | collection calls | claims | debtors "
    "| app CPU s | simulators CPU s | peak RSS MB | load |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)
GOALS_HEADER = "| engine | goal | measured | limit | met |\n|---|---|---:|---:|---|"


def run_lines(r: Result) -> list[str]:
    runs = {
        "floor": r.floor_before,
        "bootstrap": r.bootstrap,
        "floor again": r.floor_after,
        "no-change cycle": r.no_change,
    }
    return [
        f"| {r.engine} | {name} | {x.seconds:.1f} | {x.economic_calls} | {x.collection_calls} "
        f"| {x.claims or '–'} | {x.debtors or '–'} | {x.app_cpu_seconds:.1f} "
        f"| {x.simulator_cpu_seconds:.1f} | {x.peak_rss_mb:.0f} | {x.load_average:.1f} |"
        for name, x in runs.items()
    ]


def goal_lines(r: Result) -> list[str]:
    def number(value: float) -> str:
        return f"{value:g}"

    return [
        f"| {r.engine} | {g.name} | {number(g.measured)} | {number(g.limit)} "
        f"| {'met' if g.met else '**not met**'} |"
        for g in r.goals
    ]


def sizes(r: Result) -> str:
    return (
        f"{r.engine}: {r.invoices:,} invoices ({r.unpaid_invoices:,} unpaid) and "
        f"{r.customers:,} customers; minimum calls: e-conomic {r.economic_minimum} "
        f"(⌈unpaid/1000⌉ + ⌈customers/1000⌉), collection {r.collection_minimum} "
        f"(⌈(claims + debtors)/500⌉); {r.documents_queued:,} PDF jobs queued by the bootstrap "
        f"(one e-conomic call each, not run here); measured {r.measured_at}."
    )


def markdown(results: list[Result]) -> str:
    return "\n".join(
        [
            RUNS_HEADER,
            *(line for r in results for line in run_lines(r)),
            "",
            GOALS_HEADER,
            *(line for r in results for line in goal_lines(r)),
            "",
            *(f"- {sizes(r)}" for r in results),
            "",
            f"Goals: {GOALS}. The floor pages by key like the engine and writes the same "
            "documents through the same pure mapping; it keeps no store, no checkpoints, no "
            "fingerprints, no job queue. Peak RSS is the app process's high-water mark, reset "
            "before each run; the simulators run in another process on the same cores. Load: "
            "the machine's one-minute load average as the run ended (other work on the "
            "machine slows every run; the floors bracket the bootstrap so it weighs on both).",
        ]
    )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    if args.database == "postgresql" and not await postgres_reachable():
        print(f"postgresql unreachable at {PG_DSN}")
        return 1
    started = time.perf_counter()
    print(f"backfill benchmark: {args.invoices:,} invoices, {args.customers:,} customers")
    result = await measure(args.database, args.invoices, args.customers)
    results = {**stored_results("backfill", Result), result.engine: result}
    ordered = [results[e] for e in ("sqlite", "postgresql") if e in results]
    text = markdown(ordered)
    print(f"\n{text}\n")
    for goal in result.goals:
        verdict = "met" if goal.met else "NOT MET"
        print(f"  {goal.name}: {goal.measured:g} (limit {goal.limit:g}) {verdict}")
    took = time.perf_counter() - started
    meta = {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "seconds": round(took, 1),
    }
    write_results(
        "backfill",
        {"meta": meta, "goals": GOALS, "results": [msgspec.to_builtins(r) for r in ordered]},
        text,
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
