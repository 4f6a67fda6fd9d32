"""The inbox's SQLite writes in a process of their own, beside the app's.

    process = InboxProcess(path)                  # started by its first request
    stored = await process.store_batch(batch, now=now, reserve=n)   # `sync.store.inbox.store_batch`
    ids = await process.reserve_ids(n)
    await process.close()

Why: SQLite runs on a thread of the app's process, and that thread must take Python's
interpreter lock back after every step of a statement, waiting each time for the event loop's
thread to let go of it while it serves requests. Under a burst of webhooks the two take turns
on one core, so a batch's commit cost what the requests around it cost. In a process of its
own the writes run on the other core, with a lock of their own (the benchmark,
``bench/ingest.py``, measured its effect).

The app's `webhooks.inbox.InboxWriter` hands each batch over as `sync.store.inbox.store_batch`
does on PostgreSQL: each delivery with the inbox id reserved for it (so that the jobs made from
its id go in the same transaction) and its jobs; the process stores them in one transaction on a
connection of its own (`stored_in`: the rows, the jobs of those stored, the jobs of a company
that is not running parked, the ids for the next batch reserved) and answers after its commit.
A delivery is acknowledged only once that answer is in.

Wire: on the process's stdin and stdout, each message a 4-byte big-endian length and a msgpack
body (`Store` or `Reserve` in, `Answer` out), one request at a time. The process ends at the end
of its stdin (the app closed it, or the app is gone: a SIGKILL of the app ends it too, after the
batch it is on, whose deliveries were never acknowledged and are sent again). If the process
is gone or its database unavailable, the batch fails as `DatabaseUnavailable` (a 503, which both
platforms retry) and the next batch starts a new process; a batch the database refused for
another reason fails as `InboxRefused`, so the writer tries its deliveries one by one.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import signal
import struct
import sys
from collections.abc import Sequence

import msgspec

from sync.installation_queue import hold_stopped
from sync.jobs import NewJob, enqueue_in
from sync.store.db import Connection, DatabaseUnavailable
from sync.store.inbox import BatchStored, NewEntry, insert_reserved, reserve_ids
from sync.store.sqlite import SQLiteDatabase

log = logging.getLogger(__name__)
_LENGTH = struct.Struct("!I")
CLOSE_SECONDS = 10.0  # how long a closing process may take to finish its batch
# How long a batch may take in the process before it counts as stuck: well past SQLite's busy
# timeout (a batch waiting for the app's own write lock), within the platforms' patience.
ANSWER_SECONDS = 30.0


class Store(msgspec.Struct, tag="store", frozen=True):
    batch: list[tuple[NewEntry, int | None, list[NewJob]]]
    now: dt.datetime
    reserve: int = 0


class Reserve(msgspec.Struct, tag="reserve", frozen=True):
    n: int


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    ids: dict[str, int] = {}
    reserved: list[int] = []
    unavailable: str | None = None  # the database could not be written: an outage
    refused: str | None = None  # the database refused the batch (one delivery of it)


_encoder = msgspec.msgpack.Encoder()
_requests = msgspec.msgpack.Decoder(Store | Reserve)
_answers = msgspec.msgpack.Decoder(Answer)


class InboxRefused(Exception):
    """The database refused a batch for a reason other than an outage."""


def framed(message: msgspec.Struct) -> bytes:
    body = _encoder.encode(message)
    return _LENGTH.pack(len(body)) + body


async def stored_in(
    tx: Connection,
    batch: Sequence[tuple[NewEntry, int | None, Sequence[NewJob]]],
    *,
    now: dt.datetime,
    reserve: int = 0,
) -> BatchStored:
    """SQLite, inside the caller's transaction: `sync.store.inbox.store_batch`'s work. The rows
    (`sync.store.inbox.insert_reserved`), the jobs of those stored, the jobs of installations
    that are not running parked here (so ``statuses`` comes back empty; the transaction holds
    the write lock, so no pause can come between), and ``reserve`` ids for the next batch."""
    ids = await insert_reserved(tx, [(entry, given) for entry, given, _ in batch], now=now)
    jobs = [job for entry, _, made in batch if entry.dedupe_key in ids for job in made]
    if jobs:
        await enqueue_in(tx, jobs, now=now)
        await hold_stopped(tx, {j.installation_id for j in jobs}, now=now)
    reserved = await reserve_ids(tx, reserve) if reserve else []
    return BatchStored(ids=ids, reserved=reserved, statuses={})


class InboxProcess:
    """The app's end: starts the process, sends it one request at a time."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def _started(self) -> asyncio.subprocess.Process:
        if self._process is not None and self._process.returncode is None:
            return self._process
        try:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                "import sys; from webhooks.inbox_process import main; main(sys.argv[1])",
                self.path,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                # The app's own import path, however it was started.
                env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
                # Not in the app's process group: a Ctrl-C is the app's to handle (it closes
                # the queue, then this process); the process ignores SIGINT and SIGTERM too
                # (a service manager signals every process of the service) and ends at the
                # end of its stdin.
                start_new_session=True,
            )
        except OSError as exc:
            raise DatabaseUnavailable(f"the inbox process could not start: {exc}") from exc
        return self._process

    async def store_batch(
        self,
        batch: Sequence[tuple[NewEntry, int | None, Sequence[NewJob]]],
        *,
        now: dt.datetime,
        reserve: int = 0,
    ) -> BatchStored:
        request = Store([(e, i, list(jobs)) for e, i, jobs in batch], now, reserve)
        answer = await self._ask(request)
        return BatchStored(ids=answer.ids, reserved=answer.reserved, statuses={})

    async def reserve_ids(self, n: int) -> list[int]:
        return (await self._ask(Reserve(n))).reserved

    async def _ask(self, request: Store | Reserve) -> Answer:
        async with self._lock:
            process = await self._started()
            assert process.stdin is not None and process.stdout is not None
            try:
                async with asyncio.timeout(ANSWER_SECONDS):
                    process.stdin.write(framed(request))
                    await process.stdin.drain()
                    (length,) = _LENGTH.unpack(await process.stdout.readexactly(_LENGTH.size))
                    answer = _answers.decode(await process.stdout.readexactly(length))
            except TimeoutError as exc:  # stuck (a hung disk, a stopped process): replaced
                self._end(process)
                raise DatabaseUnavailable("the inbox process did not answer") from exc
            except (OSError, asyncio.IncompleteReadError, msgspec.DecodeError) as exc:
                self._end(process)
                raise DatabaseUnavailable("the inbox process ended") from exc
            except BaseException:  # cancelled mid-answer: the wire is out of step, start anew
                self._end(process)
                raise
        if answer.unavailable is not None:
            raise DatabaseUnavailable(answer.unavailable)
        if answer.refused is not None:
            raise InboxRefused(answer.refused)
        return answer

    def _end(self, process: asyncio.subprocess.Process) -> None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        self._process = None

    async def close(self) -> None:
        """Close its stdin (it ends once the batch it is on is committed) and wait for it."""
        async with self._lock:
            process, self._process = self._process, None
            if process is None or process.returncode is not None:
                return
            assert process.stdin is not None
            process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), CLOSE_SECONDS)
            except TimeoutError:
                log.warning("the inbox process did not end: killed")
                process.kill()
                await process.wait()


# --- the process's end ------------------------------------------------------------------------
async def serve(path: str) -> None:
    """Answer requests from stdin until it ends."""
    db = await SQLiteDatabase.open(path)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    out = sys.stdout.buffer
    try:
        while True:
            try:
                (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
                body = await reader.readexactly(length)
                request = _requests.decode(body)
            except asyncio.IncompleteReadError:
                return  # the app closed our stdin, or is gone
            except msgspec.ValidationError as exc:  # whole, but not a batch we can store
                out.write(framed(Answer(refused=f"undecodable: {type(exc).__name__}")))
                out.flush()
                continue
            out.write(framed(await answer(db, request)))
            out.flush()
    finally:
        await db.close()


async def answer(db: SQLiteDatabase, request: Store | Reserve) -> Answer:
    try:
        if isinstance(request, Reserve):
            n = request.n

            async def reserving(tx: Connection) -> list[int]:
                return await reserve_ids(tx, n)

            return Answer(reserved=await db.atomically(reserving))

        async def storing(tx: Connection) -> BatchStored:
            return await stored_in(tx, request.batch, now=request.now, reserve=request.reserve)

        stored = await db.atomically(storing)
        return Answer(ids=stored.ids, reserved=stored.reserved)
    except DatabaseUnavailable as exc:
        return Answer(unavailable=str(exc))
    except Exception as exc:
        log.warning("inbox batch refused: %s", type(exc).__name__)
        return Answer(refused=type(exc).__name__)


def main(path: str) -> None:
    """The process: ``python -c "...main(path)" path`` (not ``-m``: the app imports this
    module, and a module run by ``-m`` must not be imported first)."""
    logging.basicConfig(level=logging.WARNING)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    asyncio.run(serve(path))
