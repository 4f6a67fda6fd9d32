"""The durable inbox writer: group commit of concurrent deliveries, acknowledged after the commit.

    writer = InboxWriter(db, clock=clock); writer.start()
    new = await writer.store(entry, jobs)     # True: stored, False: a duplicate of a stored one
    new = await writer.store(entry, then=f)   # f(inbox id) → the jobs that need the row's id
    await writer.close()                      # at shutdown: what is queued is committed first

One writer per process. A request hands its delivery over and awaits a future; the writer
takes every delivery waiting (up to `MAX_BATCH`) as soon as one of its slots is free (`writers`
batches in flight at once), and commits them in one transaction: each inbox row inserted
unless its dedupe key is stored (a duplicate is success), and, for the rows that are new, their
jobs enqueued beside them (``jobs``, and what ``then`` makes of the new row's id: a collection
event's ``inbox.event`` names its row; ``then`` may run on SQLite's own thread, so it must be a
plain function of the id). So a burst
costs one commit (one fsync) per batch rather than one per request, and a hint's job exists
exactly when its inbox row does. Futures are resolved only once the transaction has committed.
When the database is unavailable, every request of the batch gets `InboxUnavailable` (a 503:
both platforms retry) and nothing of the batch was stored; when it refuses the batch for another
reason (one delivery it will not take), each delivery is tried in a transaction of its own, so
one bad delivery never takes the others of its batch down with it, retry after retry.

There is no timer: while one batch commits, the next one gathers, so an idle inbox commits a
lone delivery at once and a busy one commits larger batches. Under load a batch costs what its
waits on the event loop cost (each round trip or hop back to the loop waits its turn behind the
requests being served), so a batch is one of each:

- With ``process`` (as the app runs it, on a SQLite file or on PostgreSQL): the batch handed
  to a process of its own (`webhooks.inbox_process`: one round trip over a pipe), which stores
  it in one transaction and answers after the commit; the ids the jobs of ``then`` need are
  reserved ahead by the previous batch. Up to `PIPELINED` batches are in flight: the next one
  waits in the pipe while one commits, and the process commits them one after another, on a
  loop of its own. No task stands between the pipe and the batches: an answer is read in the
  loop's own callback, which answers its batch's requests and, in the same turn, sends the
  deliveries that gathered meanwhile (`_send`, `_answered`); a task that read it and a task
  that took the next batch would each have waited a turn behind the requests being served,
  the milliseconds the measured pipeline lost. In this process, SQLite's thread would take
  Python's interpreter lock back after every step of every statement, each time waiting for
  the event loop's thread, and a PostgreSQL batch would follow the last one only once the
  writer's task had its turn on the loop. A batch goes the slower way, in a task
  (`_commit`), when the process is not running yet (it is started) or the stock of ids
  reserved ahead is short (some are reserved first). Where the process cannot be started at
  all (`ProcessUnstartable`: no such program, no room or no leave for another process), the
  writer says so once in the log and writes in the app's process from then on, the ways below.
- On PostgreSQL without ``process``, one statement sent outside any transaction, so it is its
  own commit and one round trip (`sync.store.inbox.store_batch`: the rows, the jobs of those
  stored with `sync.jobs.enqueue_in`'s semantics, and the status of their installations, read
  under a share lock taken before any job is written), on the writer's own connection
  (`PostgresDatabase.writer`, not reset on release). One batch at a time (`WRITERS`): two
  batches inserting the same keys (hints coalescing into one job) in different orders can
  deadlock, and the loser is stored again one delivery at a time.
- Otherwise on SQLite (``:memory:``, or without ``process``) one transaction run whole on
  SQLite's thread (`Database.atomically`: one hop there and back): the rows in one step after
  one row read (`sync.store.inbox.insert_entries`), the jobs in one more
  (`sync.jobs.enqueue_in`), the status read and the park.

A request awaits its own future, nothing wrapped around it: each future in between (a shield,
a task) costs the request one more turn of the event loop, milliseconds under load.

An installation that got jobs and is paused, revoked or deleted has them parked before the
requests are answered, in the order `sync.installation_queue` explains (job written first,
status read after, or, on PostgreSQL, the status locked before the job is written); then
``jobs_enqueued`` is called (the app's embedded worker is woken: a hint's re-fetch starts now,
not at its next poll).
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from sync.installation_queue import HOLDING, hold_stopped
from sync.jobs import NewJob, enqueue_in
from sync.store.db import Connection, Database, DatabaseUnavailable
from sync.store.inbox import BatchStored, NewEntry, insert_entries, reserve_ids, store_batch
from sync.store.postgres import PostgresDatabase
from sync.worker import Clock
from webhooks.inbox_process import (
    Answer,
    InboxProcess,
    InboxRefused,
    ProcessUnstartable,
    failure,
    store_request,
)

log = logging.getLogger(__name__)
MAX_BATCH = 500
ID_STOCK_SECONDS = 1.0  # how long inbox ids reserved ahead are used (PostgreSQL)
JobsFor = Callable[[int], Sequence[NewJob]]
"""The jobs of a new inbox row, given its id (committed with it)."""


WRITERS = 1  # batches committing at once by default when the writer stores them itself
PIPELINED = 2  # batches in flight by default to the inbox process (it commits them in turn)


class InboxUnavailable(Exception):
    """The delivery could not be stored (the database failed, or the writer is closing)."""

    code = "inbox_unavailable"


@dataclass
class _Waiting:
    entry: NewEntry
    jobs: tuple[NewJob, ...]
    done: asyncio.Future[bool] = field(repr=False)
    then: JobsFor | None = None

    def jobs_of(self, inbox_id: int) -> list[NewJob]:
        return [*self.jobs, *(self.then(inbox_id) if self.then is not None else ())]


@dataclass
class _Planned:
    """A batch as the store takes it: its first delivery of each key (a later one of the same
    key is its duplicate), each with its inbox id (reserved, or None) and its jobs."""

    batch: list[_Waiting]
    first: dict[str, int]  # key → index in ``batch`` of its first delivery
    made: list[tuple[NewEntry, int | None, list[NewJob]]]
    reserve: int  # ids to reserve with it for the next batch


class InboxWriter:
    """``process``: on a SQLite file or PostgreSQL, the writes in a process of their own
    (`webhooks.inbox_process`; the app's writer has it). ``writers``: how many batches may be
    in flight at once; `PIPELINED` with the process, else `WRITERS`."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock,
        max_batch: int = MAX_BATCH,
        writers: int | None = None,
        jobs_enqueued: Callable[[], None] | None = None,
        id_stock_seconds: float = ID_STOCK_SECONDS,
        process: bool = False,
    ) -> None:
        self.db = db
        self.id_stock_seconds = id_stock_seconds
        # On PostgreSQL, connections of the writer's own, not reset on release (one round trip
        # fewer a batch): `PostgresDatabase.writer`.
        self.conn: Connection = db.writer() if isinstance(db, PostgresDatabase) else db
        # With ``process``, unless on SQLite's memory: the writes in a process of their own.
        target = db.url if isinstance(db, PostgresDatabase) else getattr(db, "path", ":memory:")
        self.process = InboxProcess(target) if process and target != ":memory:" else None
        self.clock = clock
        self.jobs_enqueued = jobs_enqueued
        self.max_batch = max_batch
        self.writers = writers or (PIPELINED if self.process is not None else WRITERS)
        self.commits = 0
        self._ids: list[int] = []  # inbox ids reserved ahead (PostgreSQL), since _ids_at
        self._ids_at = 0.0
        self._waiting: collections.deque[_Waiting] = collections.deque()
        self._in_flight = 0  # batches handed to the store and not yet done with
        self._pumping = False  # a `_pump` is scheduled
        self._running = False
        self._idle: asyncio.Event | None = None  # set once closing and nothing is left
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._running = True

    async def close(self) -> None:
        """Stop taking deliveries and return once every one handed over is committed."""
        if not self._running:
            return
        self._running = False
        self._idle = asyncio.Event()
        self._settle()
        await self._idle.wait()
        await asyncio.gather(*self._tasks)  # the parks that answer their batches after them
        if self.process is not None:
            await self.process.close()

    async def store(
        self, entry: NewEntry, jobs: Sequence[NewJob] = (), *, then: JobsFor | None = None
    ) -> bool:
        """Store ``entry`` (and enqueue ``jobs``, and ``then(its inbox id)``, when it is new)
        durably: True once committed, False when a delivery of its key was stored before.
        Raises `InboxUnavailable`."""
        if not self._running:
            raise InboxUnavailable("the inbox writer is not running")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bool] = loop.create_future()
        self._waiting.append(_Waiting(entry, tuple(jobs), done, then))
        if not self._pumping and self._in_flight < self.writers:
            # In the next turn, so that every delivery that arrives in this one joins the batch.
            self._pumping = True
            loop.call_soon(self._pump)
        # A request that goes away cancels ``done`` only: its delivery stays in the batch (the
        # writer passes over a future that is done), so what a platform sent is stored anyway.
        return await done

    def _pump(self) -> None:
        """Hand what waits to the store, a batch (up to `max_batch`) for each free slot: to the
        inbox process at once when it runs and holds the ids the batch needs (`_send`), else in
        a task of its own (`_commit`)."""
        self._pumping = False
        while self._waiting and self._in_flight < self.writers:
            n = min(self.max_batch, len(self._waiting))
            batch = [self._waiting.popleft() for _ in range(n)]
            self._in_flight += 1
            if not self._send(batch):
                self._spawn(self._committed(batch))

    def _release(self) -> None:
        """A batch is done with: its slot is free for what waits, in this same turn."""
        self._in_flight -= 1
        self._pump()
        self._settle()

    def _settle(self) -> None:
        if self._idle is not None and not self._waiting and not self._in_flight:
            self._idle.set()

    async def _committed(self, batch: list[_Waiting]) -> None:
        try:
            await self._commit(batch)
        finally:
            self._release()

    def _send(self, batch: list[_Waiting]) -> bool:
        """The inbox process's fast way: ``batch`` written to its pipe now, and done with in the
        callback that reads its answer (`_answered`), so under load no turn of the event loop
        comes between one batch's commit and the next one's sending. False (nothing done) when
        the process is not running, or the stock lacks ids the batch's rows need."""
        if self.process is None or not self.process.running:
            return False
        first, unique = _first_of_each_key(batch)
        ids: list[int | None] | None = None
        if any(w.then is not None for w in unique):
            if len(self._stock()) < len(unique):
                return False
            ids = [*self._taken(len(unique))]
        now = self.clock()
        try:
            planned = self._plan(batch, first, unique, ids)
            request = store_request(planned.made, now=now, reserve=planned.reserve)
            self.process.send(request, lambda answer: self._answered(planned, now, answer))
        except Exception:  # a job ``then`` could not make, or one that cannot be encoded:
            return False  # `_commit` tries again and stores the others without it
        return True

    def _answered(
        self, planned: _Planned, now: dt.datetime, answer: Answer | DatabaseUnavailable
    ) -> None:
        """`_send`'s batch answered (or its process gone): done with, and its slot given to
        what waits, in this turn."""
        batch = planned.batch
        failed = answer if isinstance(answer, DatabaseUnavailable) else failure(answer)
        if isinstance(failed, InboxRefused) and len(batch) > 1:
            # The database refused one delivery, not the service: each on its own instead.
            self._spawn(self._one_by_one(batch))
            return
        if failed is not None:
            self._failed(batch, failed)
            self._release()
            return
        assert isinstance(answer, Answer)
        stored = BatchStored(ids=answer.ids, reserved=answer.reserved, statuses=answer.statuses)
        ids, jobs, stopped = self._settled(planned, stored)
        self._release()
        if stopped:  # their jobs parked before the requests are answered
            self._spawn(self._parked_then_done(batch, ids, jobs, stopped, now))
        else:
            self._done(batch, ids, jobs)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work, name="inbox-writer")
        self._tasks.add(task)  # held until done (the loop keeps only a weak reference)
        task.add_done_callback(self._tasks.discard)

    async def _parked_then_done(
        self,
        batch: list[_Waiting],
        ids: list[int | None],
        jobs: list[NewJob],
        stopped: set[int],
        now: dt.datetime,
    ) -> None:
        await self._park(stopped, now=now)
        self._done(batch, ids, jobs)

    async def _one_by_one(self, batch: list[_Waiting]) -> None:
        try:
            for w in batch:
                await self._commit([w])
        finally:
            self._release()

    def _done(self, batch: list[_Waiting], ids: list[int | None], jobs: list[NewJob]) -> None:
        """Committed: each request answered (True: stored; False: a duplicate)."""
        self.commits += 1
        if jobs and self.jobs_enqueued is not None:
            self.jobs_enqueued()
        for w, inbox_id in zip(batch, ids, strict=True):
            if not w.done.done():
                w.done.set_result(inbox_id is not None)

    def _failed(self, batch: list[_Waiting], exc: Exception) -> None:
        """Not stored: every request of the batch answers 503; the platform retries."""
        log.warning(
            "inbox batch not stored: %s", type(exc).__name__, extra={"deliveries": len(batch)}
        )
        for w in batch:
            if not w.done.done():
                w.done.set_exception(InboxUnavailable("the inbox could not be written"))

    async def _commit(self, batch: list[_Waiting]) -> None:
        now = self.clock()
        try:
            if getattr(self.db, "dialect", "sqlite") == "postgresql" or self.process is not None:
                ids, jobs = await self._stored_at_once(batch, now)
            else:
                ids, jobs = await self._stored_in_transaction(batch, now)
        except ProcessUnstartable as exc:
            self._without_process(exc)
            await self._commit(batch)  # again, in this process
            return
        except Exception as exc:
            if len(batch) > 1 and not isinstance(exc, DatabaseUnavailable):
                # The database refused one delivery, not the service: the others must not
                # share its fate on every retry. Each is committed on its own instead.
                for w in batch:
                    await self._commit([w])
                return
            self._failed(batch, exc)
            return
        self._done(batch, ids, jobs)

    def _without_process(self, exc: ProcessUnstartable) -> None:
        """The process cannot be started here: from now on the writes are the app's own."""
        if self.process is None:
            return  # another batch found out first
        log.warning("%s: the inbox is written in the app's process", exc)
        self.process = None
        self.writers = WRITERS

    async def _stored_in_transaction(
        self, batch: list[_Waiting], now: dt.datetime
    ) -> tuple[list[int | None], list[NewJob]]:
        """SQLite: the rows in one step after one row read, their jobs in one more,
        and the jobs of an installation that is not running parked, in one transaction run
        whole on SQLite's thread (`Database.atomically`: one hop, however many
        statements). Its BEGIN IMMEDIATE holds the write lock throughout, so the status read
        after the jobs' insert sees any pause committed before, and a pause after it finds
        the jobs to park."""

        async def work(tx: Connection) -> tuple[list[int | None], list[NewJob]]:
            ids = await insert_entries(tx, [w.entry for w in batch], now=now)
            jobs = [
                j
                for w, inbox_id in zip(batch, ids, strict=True)
                if inbox_id is not None
                for j in w.jobs_of(inbox_id)
            ]
            if jobs:
                await enqueue_in(tx, jobs, now=now)
                await hold_stopped(tx, {j.installation_id for j in jobs}, now=now)
            return ids, jobs

        return await self.db.atomically(work)

    async def _stored_at_once(
        self, batch: list[_Waiting], now: dt.datetime
    ) -> tuple[list[int | None], list[NewJob]]:
        """With the inbox process: the batch stored there in one transaction
        (`webhooks.inbox_process`). Otherwise on PostgreSQL: the rows and their jobs in one
        statement outside any transaction (so its own commit: one round trip),
        `sync.store.inbox.store_batch`. Ids the stock lacks are reserved first (`_plan`)."""
        first, unique = _first_of_each_key(batch)
        ids: list[int | None] | None = None
        if any(w.then is not None for w in unique):
            taken: list[int | None] = [*self._taken(len(unique))]
            if len(taken) < len(unique):
                short = len(unique) - len(taken)
                if self.process is not None:
                    taken += await self.process.reserve_ids(short)
                else:
                    taken += await reserve_ids(self.conn, short)
            ids = taken
        planned = self._plan(batch, first, unique, ids)
        if self.process is not None:
            stored = await self.process.store_batch(planned.made, now=now, reserve=planned.reserve)
        else:
            stored = await store_batch(self.conn, planned.made, now=now, reserve=planned.reserve)
        ids_stored, jobs, stopped = self._settled(planned, stored)
        if stopped:
            await self._park(stopped, now=now)
        return ids_stored, jobs

    def _stock(self) -> list[int]:
        """The ids reserved ahead; a stock older than `ID_STOCK_SECONDS` is dropped first, so
        an id is never much older than its row (ids of rows committed at once are in no
        particular order anyway, as with the identity's own default)."""
        if time.monotonic() - self._ids_at > self.id_stock_seconds:
            self._ids = []
        return self._ids

    def _taken(self, n: int) -> list[int]:
        """Up to ``n`` ids of the stock (`_stock`), taken out of it."""
        stock = self._stock()
        taken = stock[:n]
        del stock[:n]  # before any await: another batch takes the others
        return taken

    def _plan(
        self,
        batch: list[_Waiting],
        first: dict[str, int],
        unique: list[_Waiting],
        ids: list[int | None] | None,
    ) -> _Planned:
        """``batch`` as the store takes it. When a delivery's jobs need its row's id (``then``:
        ``ids`` given, one a delivery of ``unique``), the batch also reserves twice its size
        for the next one, so under load a batch needs no round trip more."""
        given = ids if ids is not None else [None] * len(unique)
        made = [
            (w.entry, inbox_id, w.jobs_of(inbox_id) if inbox_id is not None else list(w.jobs))
            for w, inbox_id in zip(unique, given, strict=True)
        ]
        reserve = max(0, 2 * len(unique) - len(self._ids)) if ids is not None else 0
        return _Planned(batch=batch, first=first, made=made, reserve=reserve)

    def _settled(
        self, planned: _Planned, stored: BatchStored
    ) -> tuple[list[int | None], list[NewJob], set[int]]:
        """After the commit: each delivery's inbox id (None: a duplicate), the jobs enqueued,
        and the installations read as not running, whose jobs are to be parked (PostgreSQL; on
        SQLite the process parks them in its transaction). The ids reserved join the stock."""
        if stored.reserved:
            self._stock().extend(stored.reserved)
            self._ids_at = time.monotonic()
        jobs = [j for entry, _, of in planned.made if entry.dedupe_key in stored.ids for j in of]
        stopped = {i for i, status in stored.statuses.items() if status in HOLDING}
        ids = [
            stored.ids.get(w.entry.dedupe_key) if planned.first[w.entry.dedupe_key] == i else None
            for i, w in enumerate(planned.batch)
        ]
        return ids, jobs, stopped

    async def _park(self, installation_ids: set[int], *, now: dt.datetime) -> None:
        """PostgreSQL, after the batch's commit: the jobs of installations it read as not
        running parked (a round trip only then)."""
        for installation_id in sorted(installation_ids):
            try:
                await self.conn.execute(
                    "park_installation_jobs", installation_id=installation_id, now=now
                )
            except Exception:  # stored and acknowledged: the claim passes such jobs over anyway
                log.exception("could not park the jobs of a stopped installation")


def _first_of_each_key(batch: list[_Waiting]) -> tuple[dict[str, int], list[_Waiting]]:
    """Each key's first delivery in ``batch`` (its index, and the deliveries in order)."""
    first: dict[str, int] = {}
    for i, w in enumerate(batch):
        first.setdefault(w.entry.dedupe_key, i)
    return first, [batch[i] for i in first.values()]
