"""The job kinds this application runs, and their handlers, built over the shared adapters.

Each sync handler reads its installation, builds the clients (`plugin.connections`) and an
`sync.engine.Engine` for it, and hands over to the engine's job (`sync.backfill`,
`sync.handover`, …). Kinds and dedupe keys are DESIGN.md's (Jobs).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

from plugin.bootstrap import Services
from plugin.connections import Connections
from plugin.notices import send_notices
from sync import schedules
from sync.backfill import Backfill, Reference, reference_data
from sync.budget import Pace
from sync.clients.collection import CollectionClient
from sync.clients.economic import EconomicClient
from sync.company_settings import company_settings
from sync.documents import send_document
from sync.engine import Engine
from sync.handover import Handover
from sync.inbox_processing import EventProcessor, next_events, read_feed, sweep
from sync.jobs import NewJob
from sync.keeping import Keeper
from sync.outcomes import WriteOffPushback, bar_customer
from sync.own_payments import OutboxOwnPayments
from sync.pushback import Pushback, Rereads, reread_job
from sync.retention import purge_expired, purge_processed_hints
from sync.store.accounts import Accounts
from sync.store.installations import Installation, Installations
from sync.store.sessions import Sessions
from sync.store.sync_state import SyncState
from sync.store.usage import ApiUsage
from sync.worker import Handler, JobContext

JOB_RETENTION = dt.timedelta(days=14)


class Prepared:
    """What a sync job works with: its installation, clients and engine, and the reference
    data they were built from (read once a job)."""

    def __init__(
        self,
        installation: Installation,
        economic: EconomicClient,
        collection: CollectionClient | None,
        engine: Engine,
        reference: Reference,
    ) -> None:
        self.installation = installation
        self.economic = economic
        self.collection = collection
        self.engine = engine
        self.reference = reference

    async def pushback(self) -> Pushback:
        """The job's push-back, over the reference data read already."""
        return await Pushback.for_job(self.engine, self.economic, reference=self.reference)


async def prepare(
    services: Services, ctx: JobContext, *, collection: bool = True, pace: Pace = "prompt"
) -> Prepared:
    installation_id = ctx.job.installation_id
    if installation_id is None:
        raise LookupError(f"job {ctx.job.id} ({ctx.job.kind}) names no installation")
    installation = await Installations(services.db).get(installation_id)
    if installation is None:
        raise LookupError(f"installation {installation_id} does not exist")
    connections = Connections(services)
    economic = await connections.economic(installation, pace=pace)
    reference = await reference_data(
        economic, SyncState(services.db), installation.id, now=services.clock()
    )
    writer = connections.collection(installation) if collection else None
    engine = Engine(
        services.db,
        installation,
        company_settings(installation.settings),
        collection=writer,
        queue=services.queue,
        clock=services.clock,
        base_currency=reference.base_currency,
    )
    return Prepared(installation, economic, writer, engine, reference)


def build_handlers(services: Services) -> dict[str, Handler]:
    async def purge(ctx: JobContext) -> None:
        """Housekeeping: forget finished jobs after two weeks, API buckets, failed sign-ins and
        processed e-conomic hints (each topic's newest kept) after a day, expired sessions;
        purge the personal data of installations revoked longer than the retention; put back
        any periodic chain that broke (housekeeping's own included: tomorrow)."""
        now = ctx.now()
        await services.queue.purge(before=now - JOB_RETENTION)
        await ApiUsage(services.db).purge(now)
        await purge_expired(services.db, now=now, default_days=services.settings.retention_days)
        await purge_processed_hints(services.db, now=now)
        await Sessions(services.db).purge(before=now)
        await Accounts(services.db).purge_failures(before=now - dt.timedelta(days=1))
        await ensure_schedules(services)

    async def notices(ctx: JobContext) -> None:
        """New open problems and announced handovers into one notice per company, mailed to
        its admins (`plugin.notices`); then the next run."""
        await send_notices(services.db, services.settings, now=ctx.now())
        following = schedules.notices(run_at=services.clock() + schedules.NOTICES_EVERY)
        await services.queue.enqueue(following, now=services.clock())

    async def bootstrap(ctx: JobContext) -> None:
        """The first sync, and any full resync: resumes its checkpoint after a crash."""
        job = await prepare(services, ctx, pace="bulk")
        await Backfill(job.engine, job.economic, ctx.progress).run()
        await _chain(services, job, schedules.periodic_jobs)

    async def handover(ctx: JobContext) -> None:
        job = await prepare(services, ctx)
        assert job.collection is not None
        invoice = int(ctx.payload["invoice"])
        reason = str(ctx.payload.get("reason", "policy"))
        await Handover(job.engine, job.economic, job.collection).run(invoice, reason=reason)

    async def customers(ctx: JobContext) -> None:
        job = await prepare(services, ctx)
        await keeper(job).changed_customers()
        await _chain(services, job, _next_customers)

    async def customer(ctx: JobContext) -> None:
        job = await prepare(services, ctx)
        old = ctx.payload.get("old")
        number = int(ctx.payload["customer"])
        await keeper(job).one_customer(number, old=int(old) if old is not None else None)

    async def invoice(ctx: JobContext) -> None:
        job = await prepare(services, ctx)
        await keeper(job).one_invoice(int(ctx.payload["invoice"]))

    async def remainders(ctx: JobContext) -> None:
        job = await prepare(services, ctx, collection=False)
        await keeper(job).remainders()
        # the day-book hint: our vouchers the bookkeeper booked are re-read (`sync.pushback`)
        await services.queue.enqueue(
            reread_job(job.installation.id, job.engine.agreement), now=services.clock()
        )

    async def scan(ctx: JobContext) -> None:
        job = await prepare(services, ctx, pace="bulk")
        await keeper(job).scan(ctx.progress, full=bool(ctx.payload.get("full")))
        await _chain(services, job, _next_scan)

    async def reconcile(ctx: JobContext) -> None:
        job = await prepare(services, ctx)
        await keeper(job).reconcile(int(ctx.payload["invoice"]))

    async def pushback_payment(ctx: JobContext) -> None:
        """A collector's payment as one draft voucher in the app's journal (`sync.pushback`)."""
        job = await prepare(services, ctx, collection=False)
        pushback = await job.pushback()
        await pushback.payment(ctx.payload["event"])

    async def pushback_book(ctx: JobContext) -> None:
        """The app's journal booked after our vouchers (auto-booking; `sync.pushback`)."""
        job = await prepare(services, ctx, collection=False)
        pushback = await job.pushback()
        await pushback.book_journal(int(ctx.payload["journal_number"]))

    async def pushback_reread(ctx: JobContext) -> None:
        """The remainders our booked vouchers lowered, re-read for the whole installation."""
        job = await prepare(services, ctx)
        own = OutboxOwnPayments(job.engine.db, job.economic, clock=job.engine.clock)
        # The keeper shares the re-read's view of our drops (it hands over what it read).
        reconciler = Keeper(job.engine, job.economic, job.collection, own=own)
        await Rereads(job.engine, job.economic, reconciler, own).run()

    async def pushback_writeoff(ctx: JobContext) -> None:
        """A written-off case: its proposal stored, its voucher posted once approved."""
        job = await prepare(services, ctx, collection=False)
        pushback = await job.pushback()
        await WriteOffPushback(pushback).run(ctx.payload["event"])

    async def pushback_barred(ctx: JobContext) -> None:
        """The customer of a written-off case marked barred in e-conomic."""
        job = await prepare(services, ctx, collection=False)
        pushback = await job.pushback()
        customer = int(ctx.payload["customer"])
        await bar_customer(pushback, job.economic, customer, job_id=ctx.job.id)

    async def document(ctx: JobContext) -> None:
        job = await prepare(services, ctx, pace="bulk")
        assert job.collection is not None
        await send_document(job.engine, job.economic, job.collection, int(ctx.payload["invoice"]))

    async def inbox_event(ctx: JobContext) -> None:
        """One stored collection event into its effects, once (`sync.inbox_processing`)."""
        installation = await _installation(services, ctx)
        processor = EventProcessor(services.db, installation, clock=services.clock)
        outcome = await processor.run(int(ctx.payload["inbox_id"]))
        if outcome.gap:
            services.metrics.event_gap()

    async def events(ctx: JobContext) -> None:
        """The collection events feed after the last contiguous sequence: a gap filled, or the
        safety net every 5 minutes; first the events still new get their jobs (a sweep)."""
        installation = await _installation(services, ctx)
        now = services.clock()
        await sweep(services.db, services.queue, now=now, installation_id=installation.id)
        feed = Connections(services).collection(installation)
        run = await read_feed(services.db, installation, feed, clock=services.clock)
        services.metrics.events_filled_from_feed(run.filled)
        chained = next_events(installation.id, installation.agreement_number, now=services.clock())
        await services.queue.enqueue_many(chained, now=services.clock())

    handlers: dict[str, Callable[[JobContext], Awaitable[None]]] = {
        "maintenance.purge": purge,
        "notices.send": notices,
        "sync.bootstrap": bootstrap,
        "sync.customers": customers,
        "sync.customer": customer,
        "sync.invoice": invoice,
        "sync.remainders": remainders,
        "sync.scan": scan,
        "sync.reconcile": reconcile,
        "sync.document": document,
        "handover.claim": handover,
        "pushback.payment": pushback_payment,
        "pushback.writeoff": pushback_writeoff,
        "pushback.barred": pushback_barred,
        "pushback.book": pushback_book,
        "pushback.reread": pushback_reread,
        "sync.events": events,
        "inbox.event": inbox_event,
    }
    return handlers


async def _installation(services: Services, ctx: JobContext) -> Installation:
    """The job's installation, for jobs that need neither client built up front."""
    installation_id = ctx.job.installation_id
    found = await Installations(services.db).get(installation_id) if installation_id else None
    if found is None:
        raise LookupError(f"job {ctx.job.id} ({ctx.job.kind}): no such installation")
    return found


def keeper(job: Prepared) -> Keeper:
    """The keeper of a job, told which remainder drops our own vouchers caused (no echo)."""
    own = OutboxOwnPayments(job.engine.db, job.economic, clock=job.engine.clock)
    return Keeper(job.engine, job.economic, job.collection, own=own)


def _next_customers(installation_id: int, agreement: int, *, now: dt.datetime) -> list[NewJob]:
    return [schedules.customers(installation_id, agreement, run_at=now + schedules.CUSTOMERS_EVERY)]


def _next_scan(installation_id: int, agreement: int, *, now: dt.datetime) -> list[NewJob]:
    return [schedules.scan(installation_id, agreement, run_at=now + schedules.SCAN_EVERY)]


async def _chain(
    services: Services,
    job: Prepared,
    following: Callable[..., list[NewJob]],
) -> None:
    """Queue the next runs of periodic work (a queued twin keeps its earlier time)."""
    now = services.clock()
    jobs = following(job.installation.id, job.installation.agreement_number, now=now)
    await services.queue.enqueue_many(jobs, now=now)


async def ensure_schedules(services: Services) -> int:
    """Put the periodic jobs of every onboarded, running installation (and the housekeeping)
    in the queue unless they are there; how many installations were looked at."""
    now = services.clock()
    jobs = [
        schedules.housekeeping(run_at=now + schedules.HOUSEKEEPING_EVERY),
        schedules.notices(run_at=now + schedules.NOTICES_EVERY),
    ]
    installations = await Installations(services.db).list()
    running = [
        i for i in installations if i.status == "active" and company_settings(i.settings).onboarded
    ]
    for installation in running:
        jobs.extend(
            schedules.periodic_jobs(installation.id, installation.agreement_number, now=now)
        )
        if installation.collection_state == "ok":  # the events feed read at once: start-up
            jobs.append(schedules.events(installation.id, installation.agreement_number))
    await services.queue.enqueue_many(jobs, now=now)
    await sweep(services.db, services.queue, now=now)  # stored events whose job was lost
    return len(running)
