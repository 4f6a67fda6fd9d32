"""Collection events from the inbox into effects: once each, whether they came by webhook or feed.

    outcome = await EventProcessor(db, installation, clock=clock).run(inbox_id)  # inbox.event
    run = await read_feed(db, queue, installation, client, clock=clock)         # sync.events
    await sweep(db, queue, now=now)              # jobs for new rows that have none (start-up)
    await replay(db, queue, inbox_id, now=now)   # a dead (or rejected) event processed again

Once: an event is one inbox row whatever way it came (its dedupe key is
``collection:<installation id>:<event id>``, the feed's copies stored through the same
`insert_entry`), and its row is *taken* (marked ``processed``) in the transaction of its effects:
claim states, timeline entries, problems, and the jobs it makes (``pushback.*``, a gap's
``sync.events``), enqueued with `sync.jobs.enqueue_in`. A crash before the commit leaves the
row ``new`` with nothing done; a run after the commit finds it taken and does nothing. Taking
the row first locks it, so a concurrent run of the same event waits and then finds it taken.

Failures: a body that is no event of the contract's shape is ``rejected`` (nothing to retry);
an event of a type we do not know is processed as skipped, with a note; a failure of the
platform or the database is the job's to retry (the row stays ``new``); anything else is a bug:
the row is ``dead`` with the error, the job dead too, until a replay (`replay`, the API's and
the CLI's ``inbox replay``), or a retry of that job, runs it again.

Sequences (`sync.events.track`): the events stream of `sync.store.sync_state` keeps the
account's highest contiguous sequence as its ``cursor`` and the sequences seen beyond it in its
checkpoint (``seen``), updated under a row lock (`lock_event_stream`) in the event's
transaction; an event stored but not processed yet counts as seen (its row will be processed). An
event beyond the cursor's next with no stored event in between opens a gap: ``sync.events`` is
queued a little later (`GAP_GRACE`: a delivery merely overtaken by the next one arrives
meanwhile). The feed read
stores every event after the cursor, page by page with the cursor saved in each page's
transaction, then moves the cursor to the feed's end: nothing at or below it can be missing.

Order: nothing assumes events arrive in order. A ``case.opened`` processed after the case's
``case.closed`` (a timeline entry) puts its claims straight into the closed state; claim states
move by compare-and-set from the state they were read in.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal, Protocol

import msgspec

from sync import schedules
from sync.clients.collection_tokens import AUTH_LOST, AUTH_LOST_MESSAGE, AUTH_LOST_SUBJECT
from sync.clients.collection_types import EventsPage
from sync.company_settings import company_settings
from sync.events import (
    CloseCase,
    Effect,
    Event,
    LinkLost,
    Note,
    OpenCase,
    PushPayment,
    PushWriteOff,
    Rejected,
    Unknown,
    UnreadableEvent,
    caught_up,
    decode,
    effects,
    sequence_of,
    track,
)
from sync.installation_queue import HOLDING
from sync.jobs import JobQueue, NewJob, enqueue_in
from sync.redaction import scrub
from sync.retry import classify
from sync.store.claims import Claims, ClaimState
from sync.store.db import Connection, Database
from sync.store.inbox import Inbox, NewEntry, Timeline, collection_key, insert_entry
from sync.store.installations import Installation, Installations
from sync.store.problems import Problems
from sync.store.sync_state import SyncState
from sync.store.writeoffs import WriteOffs

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]
STREAM = "events"
GAP_GRACE = dt.timedelta(seconds=15)
EVENTS_EVERY = schedules.EVENTS_EVERY
SWEEP_BATCH = 500
STORED_LOOKUP = 1000  # waiting events read for their sequences when a gap seems to open
MAX_ERROR = 2000
# A case's end: its claims' state (domain.md; the same as push-back's `sync.outcomes`).
ENDS: dict[str, ClaimState] = {"paid": "closed", "withdrawn": "withdrawn", "written_off": "closed"}
# States a claim may be in when the platform opens its case (ours may lag behind the platform's).
BEFORE_CASE: frozenset[ClaimState] = frozenset(
    {"monitoring", "awaiting_approval", "scheduled", "held", "in_collection"}
)
_ENCODER = msgspec.json.Encoder()


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """How one ``inbox.event`` ended: ``not_waiting`` when the row was processed already."""

    state: Literal["processed", "skipped", "rejected", "not_waiting"]
    gap: bool = False
    jobs: int = 0
    link_lost: bool = False


class EventProcessor:
    """One installation's collection events, each in the transaction that takes its row."""

    def __init__(self, db: Database, installation: Installation, *, clock: Clock) -> None:
        self.db = db
        self.installation = installation
        self.settings = company_settings(installation.settings)
        self.clock = clock

    @property
    def agreement(self) -> int:
        return self.installation.agreement_number

    async def run(self, inbox_id: int) -> Outcome:
        """Process one stored event; a bug buries its row (``dead``) and is raised again."""
        try:
            outcome = await self.process(inbox_id)
        except Exception as exc:
            if classify(exc) == "dead":
                await self.bury(inbox_id, exc)
            raise
        if outcome.link_lost or (outcome.jobs and self.installation.status in HOLDING):
            # A lost link parks the jobs that need the platform, as the client's 401 does.
            await JobQueue(self.db).park_installation(self.installation.id, now=self.clock())
        return outcome

    async def bury(self, inbox_id: int, exc: BaseException) -> None:
        error = scrub(f"{type(exc).__name__}: {exc}")[:MAX_ERROR]
        log.error("a collection event could not be processed", exc_info=exc)
        await Inbox(self.db).bury(inbox_id, error=error, now=self.clock())

    async def process(self, inbox_id: int) -> Outcome:
        now = self.clock()
        async with self.db.transaction() as tx:
            inbox = Inbox(tx)
            if not await inbox.take(inbox_id, now=now):
                return Outcome(state="not_waiting")
            entry = await inbox.get(inbox_id)
            assert entry is not None
            if entry.installation_id != self.installation.id:
                raise LookupError(f"inbox entry {inbox_id} is another installation's")
            try:
                event = decode(entry.body or b"")
            except UnreadableEvent as exc:
                await inbox.set_outcome(inbox_id, "rejected", error=str(exc)[:MAX_ERROR], now=now)
                log.warning("a collection event was rejected: %s", exc)
                return Outcome(state="rejected")
            if isinstance(event, Unknown):
                note = f"skipped: the event type {event.type!r} is not one this version knows"
                await inbox.set_outcome(inbox_id, "processed", error=note, now=now)
                log.warning("a collection event of an unknown type was skipped: %s", event.type)
                gap = await self._track(tx, event.sequence, now)
                jobs = [self._gap_fill(now)] if gap else []
                return await self._enqueued(tx, jobs, Outcome(state="skipped", gap=gap), now)
            payload: dict[str, Any] = msgspec.json.decode(entry.body or b"{}")
            lost = False
            jobs = []
            for effect in effects(event):
                jobs.extend(await self._apply(tx, effect, event, payload, now))
                lost = lost or isinstance(effect, LinkLost)
            # The stream last, just before the commit: its row lock is held the shortest.
            gap = await self._track(tx, event.sequence, now)
            if gap:
                jobs.insert(0, self._gap_fill(now))
            outcome = Outcome(state="processed", gap=gap, link_lost=lost)
            return await self._enqueued(tx, jobs, outcome, now)

    def _gap_fill(self, now: dt.datetime) -> NewJob:
        """The feed read a gap asks for, once an overtaken delivery had time to arrive."""
        return schedules.events(self.installation.id, self.agreement, run_at=now + GAP_GRACE)

    async def _enqueued(
        self, tx: Connection, jobs: list[NewJob], outcome: Outcome, now: dt.datetime
    ) -> Outcome:
        await enqueue_in(tx, jobs, now=now)
        return msgspec.structs.replace(outcome, jobs=len(jobs))

    async def _track(self, tx: Connection, sequence: int, now: dt.datetime) -> bool:
        """Note ``sequence`` seen; whether a gap is open below the sequences seen. (The stream
        is locked at once: an event processed is almost always beyond the cursor, and an
        unlocked look first would cost it one more statement.)"""
        cursor, seen = await _locked_stream(tx, self.installation.id, now)
        if sequence <= cursor:  # nothing to note: the cursor only grows
            return False
        moved, beyond = track(cursor, seen, sequence)
        if beyond:
            # Events stored but not processed yet (overtaken by this one) leave no gap.
            bodies = await Inbox(tx).waiting_bodies(self.installation.id, limit=STORED_LOOKUP)
            for stored in filter(None, map(sequence_of, bodies)):
                moved, beyond = track(moved, beyond, stored)
        await _save_stream(tx, self.installation.id, moved, beyond, now)
        return bool(beyond)

    async def _apply(
        self,
        tx: Connection,
        effect: Effect,
        event: Event,
        payload: dict[str, Any],
        now: dt.datetime,
    ) -> list[NewJob]:
        inst, agreement = self.installation.id, self.agreement
        match effect:
            case OpenCase():
                await self._open_case(tx, effect, now)
            case CloseCase():
                return await self._close_case(tx, effect, now)
            case Note():
                await Timeline(tx).add(
                    inst,
                    event.id,
                    kind=effect.kind,
                    at=event.occurred_at,
                    detail=dict(effect.detail),
                    case_id=effect.case_id,
                    invoice_number=effect.invoice,
                )
            case PushPayment():
                job = schedules.pushback_payment(
                    inst, agreement, effect.payment_id, effect.case_id, payload
                )
                return [job]
            case PushWriteOff():
                return [schedules.pushback_writeoff(inst, agreement, effect.case_id, payload)]
            case Rejected():
                await self._rejected(tx, effect, now)
            case LinkLost():
                await self._link_lost(tx, now)
        return []

    async def _open_case(self, tx: Connection, effect: OpenCase, now: dt.datetime) -> None:
        closed = await Timeline(tx).closed(self.installation.id, effect.case_id)
        state: ClaimState = ENDS[str(closed.detail["reason"])] if closed else "in_collection"
        claims = Claims(tx)
        for number in effect.invoices:
            claim = await claims.get(self.installation.id, number)
            if claim is None or claim.state not in BEFORE_CASE:
                continue
            await tx.execute(
                "open_claim_in_case",
                installation_id=self.installation.id,
                invoice_number=number,
                expected=claim.state,
                state=state,
                case_id=effect.case_id,
                now=now,
            )

    async def _close_case(
        self, tx: Connection, effect: CloseCase, now: dt.datetime
    ) -> list[NewJob]:
        inst = self.installation.id
        numbers = set(await WriteOffs(tx).claims_of_case(inst, effect.case_id))
        numbers.update(effect.invoices)
        claims = Claims(tx)
        customers: set[int] = set()
        for number in sorted(numbers):
            claim = await claims.get(inst, number)
            if claim is None:
                continue
            customers.add(claim.customer_number)
            if claim.state == "in_collection":
                await claims.change_state(claim, state=ENDS[effect.reason], now=now)
        if effect.reason != "written_off" or not self.settings.barred_on_close:
            return []
        return [schedules.pushback_barred(inst, self.agreement, c) for c in sorted(customers)]

    async def _rejected(self, tx: Connection, effect: Rejected, now: dt.datetime) -> None:
        ref = str(effect.invoice) if effect.invoice is not None else effect.claim_ref
        await Problems(tx).record(
            installation_id=self.installation.id,
            category="rejected_by_collector",
            code="claim_rejected",
            # The handover's own problems share the subject: one problem, cleared by a handover.
            subject=f"handover:{ref}",
            message=(
                f"The collection platform rejected invoice {ref} ({effect.code or 'no code'}): "
                f"{effect.detail or 'no reason given'}. Give the customer in e-conomic what the "
                "collector needs to reach them (an address, e-mail or e-invoice identifier); "
                "the claim is handed over again by the policy or an admin's approval."
            ),
            detail={"code": effect.code, "detail": effect.detail, "claim_ref": effect.claim_ref},
            now=now,
        )

    async def _link_lost(self, tx: Connection, now: dt.datetime) -> None:
        """The owner revoked the app on the platform: what the client records on a 401 that
        survives a refresh (`sync.clients.collection_tokens`), one problem while open."""
        await tx.execute("mark_collection_lost", id=self.installation.id, now=now)
        await Problems(tx).record(
            installation_id=self.installation.id,
            category="auth_lost",
            code=AUTH_LOST,
            subject=AUTH_LOST_SUBJECT,
            message=AUTH_LOST_MESSAGE,
            detail={"platform": {"event": "account.grant_revoked"}},
            now=now,
        )


# -- the events feed ------------------------------------------------------------------------------


class EventFeed(Protocol):
    """What the feed read needs of `sync.clients.collection.CollectionClient`."""

    def event_pages(self, *, after: int, limit: int = 500) -> AsyncIterator[EventsPage]: ...


class FeedRun(msgspec.Struct, frozen=True, kw_only=True):
    """A feed read: ``filled`` events no webhook had brought, the cursor it ended on."""

    pages: int
    events: int
    filled: int
    cursor: int


async def read_feed(
    db: Database, installation: Installation, feed: EventFeed, *, clock: Clock
) -> FeedRun:
    """Store every event after the cursor (page by page, each page and the cursor in one
    transaction) and queue the processing of those not stored before."""
    inst = installation.id
    cursor = int((await SyncState(db).get(inst, STREAM)).cursor or 0)
    pages = events = filled = 0
    async for page in feed.event_pages(after=cursor):
        now = clock()
        async with db.transaction() as tx:
            jobs: list[NewJob] = []
            for event in page.items:
                entry = NewEntry(
                    source="collection",
                    installation_id=inst,
                    dedupe_key=collection_key(inst, event.id),
                    topic=event.type[:100],
                    headers={"via": "feed"},
                    body=_ENCODER.encode(event),
                )
                inbox_id = await insert_entry(tx, entry, now=now)
                if inbox_id is not None:
                    jobs.append(
                        schedules.inbox_event(
                            inst, installation.agreement_number, event.id, inbox_id=inbox_id
                        )
                    )
            await enqueue_in(tx, jobs, now=now)
            seen_cursor, seen = await _locked_stream(tx, inst, now)
            cursor, beyond = caught_up(seen_cursor, seen, page.next_after)
            await _save_stream(tx, inst, cursor, beyond, now)
        pages, events, filled = pages + 1, events + len(page.items), filled + len(jobs)
    await SyncState(db).succeeded(inst, STREAM, complete=True, now=clock())
    return FeedRun(pages=pages, events=events, filled=filled, cursor=cursor)


async def _locked_stream(
    tx: Connection, installation_id: int, now: dt.datetime
) -> tuple[int, frozenset[int]]:
    """The events stream's cursor and seen sequences, its row locked until the commit."""
    await tx.execute("lock_event_stream", installation_id=installation_id, checkpoint={}, now=now)
    state = await SyncState(tx).get(installation_id, STREAM)
    seen = state.checkpoint.get("seen", [])
    return int(state.cursor or 0), frozenset(int(s) for s in seen)


async def _save_stream(
    tx: Connection, installation_id: int, cursor: int, seen: frozenset[int], now: dt.datetime
) -> None:
    await SyncState(tx).save(
        installation_id, STREAM, checkpoint={"seen": sorted(seen)}, cursor=str(cursor), now=now
    )


# -- sweep and replay -----------------------------------------------------------------------------


async def sweep(
    db: Database, queue: JobQueue, *, now: dt.datetime, installation_id: int | None = None
) -> int:
    """Queue the processing of every collection event still ``new`` (of one installation, or
    all): one whose job was lost or never made. A queued job absorbs its twin; a run that finds
    its row taken does nothing, so sweeping again is harmless. How many were queued."""
    inbox, after, total = Inbox(db), 0, 0
    while rows := await inbox.waiting(
        installation_id=installation_id, after=after, limit=SWEEP_BATCH
    ):
        jobs = [
            schedules.inbox_event(r.installation_id, r.agreement_number, r.event_id, inbox_id=r.id)
            for r in rows
        ]
        await queue.enqueue_many(jobs, now=now)
        total, after = total + len(rows), rows[-1].id
    return total


async def replay(db: Database, queue: JobQueue, inbox_id: int, *, now: dt.datetime) -> int | None:
    """A dead or rejected collection event ``new`` again and its processing queued: the job's
    id, or None when the entry is not a dead or rejected collection event. (Reopened first: a
    crash before the job is queued leaves a ``new`` row, which the next sweep picks up.)"""
    inbox = Inbox(db)
    entry = await inbox.get(inbox_id)
    if entry is None or entry.installation_id is None or entry.event_id is None:
        return None
    installation = await Installations(db).get(entry.installation_id)
    if installation is None or not await inbox.reopen(inbox_id):
        return None
    job = schedules.inbox_event(
        installation.id, installation.agreement_number, entry.event_id, inbox_id=inbox_id
    )
    return await queue.enqueue(job, now=now)


def next_events(installation_id: int, agreement: int, *, now: dt.datetime) -> list[NewJob]:
    """The feed's next safety-net read (the chain of ``sync.events``)."""
    return [schedules.events(installation_id, agreement, run_at=now + EVENTS_EVERY)]
