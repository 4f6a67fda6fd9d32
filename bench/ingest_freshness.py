"""The freshness half of `bench.ingest`: with the app's embedded worker and both simulators in a
process of their own, how long from an e-conomic hint's 2xx until the claim it concerns is
updated on the collection platform.

A company of `FRESHNESS_INVOICES` invoices is bootstrapped; then `FRESHNESS_HINTS` invoices of
open claims are each paid a tenth in the e-conomic simulator and hinted (``GET /webhooks/
economic/…/invoice?number=N``) at `FRESHNESS_RATE` a second; each is timed from the hint's 2xx
to the end of the ``sync.invoice`` job it made, which ends after the collection simulator
accepted the claim's new remaining amount.
"""

from __future__ import annotations

import asyncio
import os
import time

import msgspec

from bench.apps import served
from bench.backfill import Sandbox, app_settings, sandbox_process
from bench.backfill import install as install_company
from bench.queue import Store
from bench.report import Goal
from bench.timing import percentile
from plugin.app import create_app
from plugin.bootstrap import Services
from plugin.keys import SERVICES
from sync import schedules
from sync.jobs import Job
from sync.money import to_decimal
from sync.store.claims import Claims, StoredClaim
from sync.store.webhook_secrets import WebhookSecrets
from sync.worker import utcnow

FRESHNESS_HINTS = int(os.environ.get("COLLECTBRIDGE_BENCH_FRESHNESS_HINTS", "200"))
FRESHNESS_RATE = 20.0  # hints a second, sent at a steady pace
FRESHNESS_INVOICES = 1_200  # the company's booked invoices (enough overdue ones for the hints)
FRESHNESS_GOAL_S = 5.0
SETTLE_TIMEOUT = 600.0
_NUMBERS = msgspec.json.Encoder(decimal_format="number")


class Freshness(msgspec.Struct, frozen=True, kw_only=True):
    """Seconds from each hint's 2xx to the end of the ``sync.invoice`` job it made (which ends
    once the claim's new remaining amount was accepted by the collection simulator)."""

    engine: str
    hints: int
    rate_per_s: float
    p50_s: float
    p95_s: float
    max_s: float
    claims_updated: int  # of the hinted claims, those whose stored remaining matches the ledger
    collection_writes: int  # claim writes the collection simulator received while the hints ran
    not_succeeded: int
    goal: Goal


async def settled(services: Services) -> None:
    """Wait until no job is running or due (the bootstrap's follow-ups done). The waiting jobs
    are read before the running ones: a job claimed between the two reads is then seen running
    (read the other way round, it was in neither, and the last hint's job was judged while it
    ran: 3 runs in 12 measured)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while time.monotonic() < deadline:
        waiting = [
            *await services.queue.list(state="queued", limit=10_000),
            *await services.queue.list(state="failed", limit=10_000),
        ]
        running = await services.queue.list(state="running", limit=1)
        if not running and not any(j.run_at <= services.clock() for j in waiting):
            return
        await asyncio.sleep(0.25)
    raise RuntimeError("the jobs did not settle")


async def succeeded(services: Services, job_id: int) -> None:
    """Wait until the job has succeeded (through its retries, if any)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while time.monotonic() < deadline:
        job = await services.queue.get(job_id)
        if job is not None and job.state == "succeeded":
            return
        if job is None or job.state in ("dead", "parked"):
            detail = job.last_error if job is not None else "gone"
            raise RuntimeError(f"job {job_id} did not succeed: {detail}")
        await asyncio.sleep(0.25)
    raise RuntimeError(f"job {job_id} did not finish")


async def claim_writes(sandbox: Sandbox) -> int:
    async with sandbox.http.get(f"{sandbox.collection}/_sandbox/calls") as resp:
        calls = (await resp.json())["items"]
    return sum(1 for c in calls if c["path"].startswith("/v1/claims") and c["method"] != "GET")


async def pay_part(sandbox: Sandbox, claim: StoredClaim) -> None:
    """A payment the creditor received directly: the invoice's remainder drops by a tenth."""
    amount = to_decimal(max(1, claim.remaining // 10), claim.currency)
    async with sandbox.http.post(
        f"{sandbox.economic}/_sandbox/invoices/{claim.invoice_number}/payments",
        data=_NUMBERS.encode({"agreement": sandbox.agreement, "amount": amount}),
        headers={"Content-Type": "application/json"},
    ) as resp:
        if resp.status >= 300:
            raise RuntimeError(f"the payment was refused: {resp.status} {await resp.text()}")


async def freshness(engine: str, store: Store) -> Freshness:
    """The company bootstrapped through the app's own worker; then, at `FRESHNESS_RATE`, an
    invoice of an open claim paid in part in the e-conomic simulator and its hint sent; each
    hint timed from its 2xx to the end of the re-fetch job it made (job rows, by wall clock)."""
    async with sandbox_process(FRESHNESS_INVOICES, FRESHNESS_INVOICES // 4) as sandbox:
        async with store() as database_url:
            app = create_app(app_settings(database_url, sandbox), clock=utcnow)
            async with served(app) as url:
                services = app[SERVICES]
                assert services.cipher is not None
                company = await install_company(services, sandbox)
                secret = await WebhookSecrets(services.db, services.cipher).economic_url_secret(
                    company.id, now=utcnow()
                )
                bootstrap = schedules.bootstrap(company.id, company.agreement_number)
                await succeeded(services, await services.queue.enqueue(bootstrap, now=utcnow()))
                await settled(services)
                open_claims = [
                    c
                    for c in await Claims(services.db).after(company.id, limit=100_000)
                    if c.state not in ("closed", "withdrawn") and c.remaining >= 10
                ]
                if len(open_claims) < FRESHNESS_HINTS:
                    raise RuntimeError(f"only {len(open_claims)} open claims for the hints")
                hinted = open_claims[:FRESHNESS_HINTS]
                base = f"{url}/webhooks/economic/{company.installation_key}/{secret}/invoice"
                writes = await claim_writes(sandbox)
                acknowledged: dict[int, float] = {}
                started = time.perf_counter()
                for n, claim in enumerate(hinted):
                    await asyncio.sleep(
                        max(0.0, started + n / FRESHNESS_RATE - time.perf_counter())
                    )
                    await pay_part(sandbox, claim)
                    async with sandbox.http.get(f"{base}?number={claim.invoice_number}") as resp:
                        if resp.status != 204:
                            raise RuntimeError(f"a hint was answered {resp.status}")
                    acknowledged[claim.invoice_number] = time.time()
                await settled(services)
                writes = await claim_writes(sandbox) - writes
                return await judged_freshness(
                    engine, services, company.id, hinted, acknowledged, writes
                )


async def judged_freshness(
    engine: str,
    services: Services,
    installation_id: int,
    hinted: list[StoredClaim],
    acknowledged: dict[int, float],
    writes: int,
) -> Freshness:
    ended: dict[int, Job] = {}
    for job in await services.queue.list(installation_id=installation_id, limit=100_000):
        if job.kind == "sync.invoice" and job.finished_at is not None:
            number = int(job.payload["invoice"])
            if number in acknowledged and (number not in ended or job.id > ended[number].id):
                ended[number] = job
    seconds = [
        max(0.0, job.finished_at.timestamp() - acknowledged[number])
        for number, job in ended.items()
        if job.finished_at is not None
    ]
    after = {
        c.invoice_number: c for c in await Claims(services.db).after(installation_id, limit=100_000)
    }
    updated = sum(
        1
        for c in hinted
        if (found := after.get(c.invoice_number)) is not None
        and found.remaining < c.remaining
        and found.pushed_fingerprint == found.fingerprint
    )
    not_succeeded = len(acknowledged) - sum(j.state == "succeeded" for j in ended.values())
    p95 = round(percentile(seconds, 95), 3) if seconds else float("inf")
    return Freshness(
        engine=engine,
        hints=len(acknowledged),
        rate_per_s=FRESHNESS_RATE,
        p50_s=round(percentile(seconds, 50), 3) if seconds else float("inf"),
        p95_s=p95,
        max_s=round(max(seconds), 3) if seconds else float("inf"),
        claims_updated=updated,
        collection_writes=writes,
        not_succeeded=not_succeeded,
        goal=Goal(
            name="freshness p95 s",
            measured=p95,
            limit=FRESHNESS_GOAL_S,
            met=p95 < FRESHNESS_GOAL_S and not_succeeded == 0 and updated == len(hinted),
        ),
    )


FRESHNESS_HEADER = (
    "| engine | hints | pace /s | p50 s | p95 s | max s | claims updated "
    "| claim writes | not succeeded |"
)
FRESHNESS_RULE = "|---|---:|---:|---:|---:|---:|---:|---:|---:|"


def freshness_lines(results: list[Freshness]) -> list[str]:
    return [
        FRESHNESS_HEADER,
        FRESHNESS_RULE,
        *(
            f"| {f.engine} | {f.hints} | {f.rate_per_s:.0f} | {f.p50_s:.2f} | {f.p95_s:.2f} "
            f"| {f.max_s:.2f} | {f.claims_updated} | {f.collection_writes} | {f.not_succeeded} |"
            for f in results
        ),
    ]
