"""The inbox's writes in a process of their own, beside the app's (SQLite file or PostgreSQL).

    process = InboxProcess(target)                # a SQLite path or a PostgreSQL URL
    stored = await process.store_batch(batch, now=now, reserve=n)   # `sync.store.inbox.store_batch`
    ids = await process.reserve_ids(n)
    await process.close()

Why: a batch's commit is the inbox's one serial step, and in the app's process it waits on the
event loop, which is busy serving requests. On SQLite, SQLite's thread must take Python's
interpreter lock back after every step of a statement, each time waiting for the event loop's
thread; on PostgreSQL the statement's answer waits its turn on the loop, and the next batch is
sent only once the writer has run again. In a process of its own the writes run on the other
core, on a loop that does nothing else, and batches follow one another there without waiting
for the app: the app hands over the next batch while one commits (two in flight,
`webhooks.inbox.PIPELINED`), and the process commits them one after another, in order (so two
batches never take the same keys' locks in different orders, which on PostgreSQL can deadlock).
The benchmark, ``bench/ingest.py``, measured the effect.

The app's `webhooks.inbox.InboxWriter` hands each batch over as `sync.store.inbox.store_batch`
takes it: each delivery with the inbox id reserved for it (so that the jobs made from its id go
in the same transaction) and its jobs. The process stores it in one transaction on a connection
of its own (SQLite: `stored_in`, the rows, the jobs of those stored, the jobs of a company that is
not running parked, the ids for the next batch reserved; PostgreSQL: `store_batch`'s one
statement, whose installations' statuses go back for the app to park) and answers after its
commit. A delivery is acknowledged only once that answer is in.

Wire: on the process's stdin and stdout, each message a 4-byte big-endian length and a msgpack
body: `Open` first (the database, so that a password is never on a command line), then `Store`
or `Reserve`; one `Answer` for each, in order. The app reads the process's stdout in its event
loop's own callback (`_Answers`) and hands each answer on in it, so the writer sends its next
batch in the turn the last answer is read. The command line names the database for ``ps``
(a PostgreSQL URL with its password masked). The process ends at the end of its stdin (the app
closed it, or the app is gone: a SIGKILL of the app ends it too, after the batches it has, whose
deliveries were never acknowledged and are sent again). If the process is gone or its database
unavailable, every batch waiting for it fails as `DatabaseUnavailable` (a 503, which both
platforms retry) and the next batch starts a new process; a batch the database refused for
another reason fails as `InboxRefused`, so the writer tries its deliveries one by one.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import logging
import os
import signal
import struct
import sys
from collections.abc import Callable, Sequence

import msgspec

from sync.installation_queue import hold_stopped
from sync.jobs import NewJob, enqueue_in
from sync.redaction import masked_url
from sync.store.db import Connection, DatabaseUnavailable
from sync.store.inbox import BatchStored, NewEntry, insert_reserved, reserve_ids, store_batch
from sync.store.postgres import PostgresWriter
from sync.store.sqlite import SQLiteDatabase

log = logging.getLogger(__name__)
_LENGTH = struct.Struct("!I")
CLOSE_SECONDS = 10.0  # how long a closing process may take to finish its batches
# How long a batch may take in the process before it counts as stuck: well past SQLite's busy
# timeout (a batch waiting for the app's own write lock) and PostgreSQL's lock timeout for the
# writer, within the platforms' patience.
ANSWER_SECONDS = 30.0


class Open(msgspec.Struct, tag="open", frozen=True):
    target: str  # a SQLite path or a PostgreSQL URL (with its password)


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
    statuses: dict[int, str] = {}  # PostgreSQL: the installations' statuses, for the app to park


_encoder = msgspec.msgpack.Encoder()
_requests = msgspec.msgpack.Decoder(Open | Store | Reserve)
_answers = msgspec.msgpack.Decoder(Answer)


class InboxRefused(Exception):
    """The database refused a batch for a reason other than an outage."""


class ProcessUnstartable(DatabaseUnavailable):
    """The system would not start the inbox process (no such program, no room for another
    process, not allowed): the writer writes in the app's process instead."""


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


def _label(target: str) -> str:
    """What the command line shows of ``target``: never a password."""
    return masked_url(target) if target.startswith(("postgresql:", "postgres:")) else target


Answered = Callable[["Answer | DatabaseUnavailable"], None]
"""What a request's answer is handed to: the answer, or the outage that ended the process."""


class _Answers(asyncio.Protocol):
    """The process's stdout, read by the event loop itself: each answer handed out in the
    callback that reads it (``on_answer``), with no task woken to read a stream, and no hop
    more (as asyncio's subprocess pipes make, scheduling every read again). Under load every
    turn of the event loop waits behind the requests being served, and an answer's batch is
    done with, and the next batch sent, in the turn that reads it. ``on_end``: the pipe ended
    (the process exited, or died)."""

    def __init__(self, on_answer: Callable[[bytes], None], on_end: Callable[[], None]) -> None:
        self._on_answer = on_answer
        self._on_end = on_end
        self._buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while len(buffer) >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(buffer)
            end = _LENGTH.size + length
            if len(buffer) < end:
                return
            body = bytes(buffer[_LENGTH.size : end])
            del buffer[:end]
            self._on_answer(body)

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_end()


class InboxProcess:
    """The app's end: starts the process, sends it requests (several may be in flight) and
    hands each answer, in order, to the request it is for: `send` with a callback, called in
    the turn the answer is read (`webhooks.inbox.InboxWriter` sends its next batch from it), or
    `store_batch` and `reserve_ids` to await."""

    def __init__(self, target: str, *, executable: str = sys.executable) -> None:
        self.target = target
        self.executable = executable  # the Python that runs it: the app's own
        self._process: asyncio.subprocess.Process | None = None
        self._waiting: collections.deque[tuple[Answered, asyncio.TimerHandle]] = collections.deque()
        self._starting = asyncio.Lock()  # one process started at a time

    @property
    def running(self) -> bool:
        """Started and not ended: `send` may be called."""
        return self._process is not None and self._process.returncode is None

    async def _started(self) -> asyncio.subprocess.Process:
        async with self._starting:
            if self._process is not None:
                if self._process.returncode is None:
                    return self._process
                # Exited, its pipe's end not read yet: what waits for it fails now, not later
                # (when it would take the new process's answers).
                self._end(self._process, "the inbox process ended", kill=False)
            loop = asyncio.get_running_loop()
            answers, theirs = os.pipe()  # its stdout, read by the loop (`_Answers`)
            try:
                process = await asyncio.create_subprocess_exec(
                    self.executable,
                    "-c",
                    "import sys; from webhooks.inbox_process import main; main(sys.argv[1])",
                    _label(self.target),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=theirs,
                    # The app's own import path, however it was started.
                    env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
                    # Not in the app's process group: a Ctrl-C is the app's to handle (it
                    # closes the queue, then this process); the process ignores SIGINT and
                    # SIGTERM too (a service manager signals every process of the service)
                    # and ends at the end of its stdin.
                    start_new_session=True,
                )
            except OSError as exc:
                os.close(answers)
                raise ProcessUnstartable(f"the inbox process could not start: {exc}") from exc
            finally:
                os.close(theirs)
            await loop.connect_read_pipe(
                lambda: _Answers(
                    lambda body: self._answered(process, body),
                    lambda: self._end(process, "the inbox process ended", kill=False),
                ),
                os.fdopen(answers, "rb", buffering=0),
            )
            assert process.stdin is not None
            process.stdin.write(framed(Open(self.target)))
            self._process = process
            return process

    def send(self, request: Store | Reserve, answered: Answered) -> None:
        """Write ``request`` (the process must be `running`); ``answered`` gets its answer, or
        `DatabaseUnavailable` when the process ends, or gives no answer within
        `ANSWER_SECONDS` (stuck: a hung disk, a stopped process; it is replaced)."""
        process = self._process
        assert process is not None and process.stdin is not None
        frame = framed(request)  # first: one that cannot be encoded is sent and queued never
        stuck = asyncio.get_running_loop().call_later(
            ANSWER_SECONDS, self._end, process, "the inbox process did not answer"
        )
        # Queued and written in one step: the answers come in this order.
        self._waiting.append((answered, stuck))
        process.stdin.write(frame)

    def _answered(self, process: asyncio.subprocess.Process, body: bytes) -> None:
        if process is not self._process:
            return
        if not self._waiting:  # an answer to nothing: out of step
            self._end(process, "the inbox process is out of step")
            return
        try:
            answer = _answers.decode(body)
        except msgspec.DecodeError:
            self._end(process, "the inbox process is out of step")
            return
        answered, stuck = self._waiting.popleft()
        stuck.cancel()
        answered(answer)

    def _end(self, process: asyncio.subprocess.Process, why: str, *, kill: bool = True) -> None:
        """``process`` is done with (killed, unless it ended by itself: a kill would reap it
        under asyncio's child watcher), and every request waiting for it fails as an outage (a
        503; nothing of theirs was acknowledged)."""
        if process is not self._process:
            return
        self._process = None
        if kill:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        elif process.stdin is not None:
            process.stdin.close()
        waiting, self._waiting = self._waiting, collections.deque()
        for answered, stuck in waiting:
            stuck.cancel()
            answered(DatabaseUnavailable(why))

    async def store_batch(
        self,
        batch: Sequence[tuple[NewEntry, int | None, Sequence[NewJob]]],
        *,
        now: dt.datetime,
        reserve: int = 0,
    ) -> BatchStored:
        answer = await self._ask(store_request(batch, now=now, reserve=reserve))
        return BatchStored(ids=answer.ids, reserved=answer.reserved, statuses=answer.statuses)

    async def reserve_ids(self, n: int) -> list[int]:
        return (await self._ask(Reserve(n))).reserved

    async def _ask(self, request: Store | Reserve) -> Answer:
        await self._started()
        answered: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()

        def hand(answer: Answer | DatabaseUnavailable) -> None:
            if answered.done():  # its asker went away: the batch is stored anyway
                return
            if isinstance(answer, DatabaseUnavailable):
                answered.set_exception(answer)
            else:
                answered.set_result(answer)

        self.send(request, hand)
        return checked(await answered)

    async def close(self) -> None:
        """Close its stdin (it ends once the batches it has are committed) and wait for it."""
        async with self._starting:
            process = self._process
            if process is None:
                return
            assert process.stdin is not None
            process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), CLOSE_SECONDS)
            except TimeoutError:
                log.warning("the inbox process did not end: killed")
                self._end(process, "the inbox process was closed")
                await process.wait()
            self._end(process, "the inbox process was closed", kill=False)


def store_request(
    batch: Sequence[tuple[NewEntry, int | None, Sequence[NewJob]]],
    *,
    now: dt.datetime,
    reserve: int = 0,
) -> Store:
    return Store([(e, i, list(jobs)) for e, i, jobs in batch], now, reserve)


def failure(answer: Answer) -> DatabaseUnavailable | InboxRefused | None:
    """What ``answer`` says went wrong: `DatabaseUnavailable` for an outage, `InboxRefused` for
    a batch the database refused; None when it was stored."""
    if answer.unavailable is not None:
        return DatabaseUnavailable(answer.unavailable)
    if answer.refused is not None:
        return InboxRefused(answer.refused)
    return None


def checked(answer: Answer) -> Answer:
    """``answer``, unless it says the batch failed (`failure`, raised)."""
    if (failed := failure(answer)) is not None:
        raise failed
    return answer


# --- the process's end ------------------------------------------------------------------------
Writable = SQLiteDatabase | PostgresWriter


async def _opened(target: str) -> Writable:
    if target.startswith(("postgresql:", "postgres:")):
        return await PostgresWriter.open(target)
    return await SQLiteDatabase.open(target)


async def serve() -> None:
    """Open the database `Open` names, then answer requests from stdin, one after another, until
    it ends. A database that cannot be opened is tried again at each request, which meanwhile
    is answered as unavailable (the process stays, rather than restarting at every batch)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    out = sys.stdout.buffer
    target: str | None = None
    db: Writable | None = None
    try:
        while True:
            try:
                (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
                request = _requests.decode(await reader.readexactly(length))
            except asyncio.IncompleteReadError:
                return  # the app closed our stdin, or is gone
            except msgspec.ValidationError as exc:  # whole, but not a batch we can store
                out.write(framed(Answer(refused=f"undecodable: {type(exc).__name__}")))
                out.flush()
                continue
            if isinstance(request, Open):
                target = request.target
                continue
            if db is None and target is not None:
                try:
                    db = await _opened(target)
                except Exception as exc:
                    log.warning("inbox database not opened: %s", type(exc).__name__)
            if db is None:
                reply = Answer(unavailable="the inbox process has no database open")
            else:
                reply = await answer(db, request)
            out.write(framed(reply))
            out.flush()
    finally:
        if db is not None:
            await db.close()


async def answer(db: Writable, request: Store | Reserve) -> Answer:
    try:
        if isinstance(db, PostgresWriter):
            if isinstance(request, Reserve):
                return Answer(reserved=await reserve_ids(db, request.n))
            done = await store_batch(db, request.batch, now=request.now, reserve=request.reserve)
            return Answer(ids=done.ids, reserved=done.reserved, statuses=done.statuses)
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


def main(label: str) -> None:
    """The process: ``python -c "...main(label)" label`` (not ``-m``: the app imports this
    module, and a module run by ``-m`` must not be imported first). ``label`` is for ``ps``
    only; the database comes in the first message."""
    logging.basicConfig(level=logging.WARNING)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    asyncio.run(serve())
