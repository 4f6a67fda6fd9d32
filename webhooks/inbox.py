"""The durable inbox writer: group commit of concurrent deliveries, acknowledged after the commit.

    writer = InboxWriter(db, clock=clock); writer.start()
    new = await writer.store(entry, jobs)     # True: stored, False: a duplicate of a stored one
    new = await writer.store(entry, then=f)   # f(inbox id) → the jobs that need the row's id
    await writer.close()                      # at shutdown: what is queued is committed first

One writer per process. A request hands its delivery over and awaits a future; a writer task
takes every delivery waiting when it comes round (up to `MAX_BATCH`) and commits them in one
transaction: each inbox row inserted unless its dedupe key is stored (a duplicate is success),
and, for the rows that are new, their jobs enqueued beside them (``jobs``, and what ``then``
makes of the new row's id: a collection event's ``inbox.event`` names its row; ``then`` may
run on SQLite's own thread, so it must be a plain function of the id). So a burst
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
  loop of its own, so a batch never waits for this process's event loop to send it. In this
  process, SQLite's thread would take Python's interpreter lock back after every step of every
  statement, each time waiting for the event loop's thread, and a PostgreSQL batch would
  follow the last one only once the writer's task had its turn on the loop.
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
import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sync.installation_queue import HOLDING, hold_stopped
from sync.jobs import NewJob, enqueue_in
from sync.store.db import Connection, Database, DatabaseUnavailable
from sync.store.inbox import NewEntry, insert_entries, reserve_ids, store_batch
from sync.store.postgres import PostgresDatabase
from sync.worker import Clock
from webhooks.inbox_process import InboxProcess

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


class InboxWriter:
    """``process``: on a SQLite file or PostgreSQL, the writes in a process of their own
    (`webhooks.inbox_process`; the app's writer has it). ``writers``: how many batches may be
    in flight at once (each its own task); `PIPELINED` with the process, else `WRITERS`."""

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
        self._waiting: asyncio.Queue[_Waiting | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name=f"inbox-writer-{n}") for n in range(self.writers)
        ]

    async def close(self) -> None:
        """Stop taking deliveries and return once every one handed over is committed."""
        tasks, self._tasks = self._tasks, []
        for _ in tasks:  # behind every delivery handed over: each task commits up to its own
            self._waiting.put_nowait(None)
        await asyncio.gather(*tasks)
        if self.process is not None:
            await self.process.close()

    async def store(
        self, entry: NewEntry, jobs: Sequence[NewJob] = (), *, then: JobsFor | None = None
    ) -> bool:
        """Store ``entry`` (and enqueue ``jobs``, and ``then(its inbox id)``, when it is new)
        durably: True once committed, False when a delivery of its key was stored before.
        Raises `InboxUnavailable`."""
        if not self._tasks:
            raise InboxUnavailable("the inbox writer is not running")
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.put_nowait(_Waiting(entry, tuple(jobs), done, then))
        # A request that goes away cancels ``done`` only: its delivery stays in the batch (the
        # writer passes over a future that is done), so what a platform sent is stored anyway.
        return await done

    async def _run(self) -> None:
        while (first := await self._waiting.get()) is not None:
            batch, stopping = [first], False
            while len(batch) < self.max_batch and not self._waiting.empty():
                item = self._waiting.get_nowait()
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            await self._commit(batch)
            if stopping:
                return

    async def _commit(self, batch: list[_Waiting]) -> None:
        now = self.clock()
        try:
            if getattr(self.db, "dialect", "sqlite") == "postgresql" or self.process is not None:
                ids, jobs = await self._stored_at_once(batch, now)
            else:
                ids, jobs = await self._stored_in_transaction(batch, now)
        except Exception as exc:
            if len(batch) > 1 and not isinstance(exc, DatabaseUnavailable):
                # The database refused one delivery, not the service: the others must not
                # share its fate on every retry. Each is committed on its own instead.
                for w in batch:
                    await self._commit([w])
                return
            log.warning(
                "inbox batch not stored: %s", type(exc).__name__, extra={"deliveries": len(batch)}
            )
            for w in batch:  # every request of the batch answers 503; the platform retries
                if not w.done.done():
                    w.done.set_exception(InboxUnavailable("the inbox could not be written"))
            return
        self.commits += 1
        if jobs and self.jobs_enqueued is not None:
            self.jobs_enqueued()
        for w, inbox_id in zip(batch, ids, strict=True):
            if not w.done.done():
                w.done.set_result(inbox_id is not None)

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
        `sync.store.inbox.store_batch`.

        When a delivery's jobs need its row's id (``then``), the rows' ids are taken from ids
        reserved ahead: each such batch's statement also reserves twice its size for the next
        one, so under load there is no round trip more. Ids are reserved when the stock runs
        short (one round trip more), and a stock older than `ID_STOCK_SECONDS` is dropped, so
        an id is never much older than its row (ids of rows committed at once are in no
        particular order anyway, as with the identity's own default)."""
        first: dict[str, int] = {}
        for i, w in enumerate(batch):
            first.setdefault(w.entry.dedupe_key, i)
        unique = [batch[i] for i in first.values()]
        reserved: list[int | None] = [None] * len(unique)
        reserve = 0
        if any(w.then is not None for w in unique):
            if time.monotonic() - self._ids_at > self.id_stock_seconds:
                self._ids = []
            taken = self._ids[: len(unique)]
            del self._ids[: len(unique)]  # before any await: another batch takes the others
            if len(taken) < len(unique):
                short = len(unique) - len(taken)
                if self.process is not None:
                    taken += await self.process.reserve_ids(short)
                else:
                    taken += await reserve_ids(self.conn, short)
            reserved = [*taken]
            reserve = max(0, 2 * len(unique) - len(self._ids))
        made = [
            (w.entry, inbox_id, w.jobs_of(inbox_id) if inbox_id is not None else list(w.jobs))
            for w, inbox_id in zip(unique, reserved, strict=True)
        ]
        if self.process is not None:
            done = await self.process.store_batch(made, now=now, reserve=reserve)
        else:
            done = await store_batch(self.conn, made, now=now, reserve=reserve)
        stored, ahead, statuses = done
        if ahead:
            if time.monotonic() - self._ids_at > self.id_stock_seconds:
                self._ids = []
            self._ids += ahead
            self._ids_at = time.monotonic()
        jobs = [j for entry, _, of in made if entry.dedupe_key in stored for j in of]
        if statuses:  # PostgreSQL (on SQLite the inbox process parks in its transaction)
            await self._park({i for i, status in statuses.items() if status in HOLDING}, now=now)
        ids = [
            stored.get(w.entry.dedupe_key) if first[w.entry.dedupe_key] == i else None
            for i, w in enumerate(batch)
        ]
        return ids, jobs

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
