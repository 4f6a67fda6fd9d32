"""The inbox writer with its writes in a process of their own (`webhooks.inbox_process`): a real
process on a real SQLite file and on PostgreSQL. Each delivery stored once, its jobs naming its
row, a stopped company's jobs parked, a refused delivery not taking its batch down, a body that
is not text kept byte for byte, batches in flight committed in order, a process that dies
answered as an outage and replaced, a database it cannot open answered as an outage (and no
password on its command line), and the process ending when the app closes it or goes away."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from sync import schedules
from sync.jobs import JobQueue, NewJob
from sync.store.db import Database
from sync.store.inbox import Inbox, NewEntry
from sync.store.installations import Installations
from webhooks.inbox import InboxUnavailable, InboxWriter
from webhooks.inbox_process import InboxProcess

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
async def lite(db: Database) -> Database:
    """The store, on each engine (the name is older than the PostgreSQL process)."""
    return db


@pytest.fixture
async def writer(lite: Database) -> AsyncIterator[InboxWriter]:
    made = InboxWriter(lite, clock=lambda: NOW, process=True)
    assert made.process is not None
    made.start()
    try:
        yield made
    finally:
        await made.close()


async def company(db: Database, agreement: int = 1001) -> int:
    made = await Installations(db).activate(agreement_number=agreement, company_name="c", now=NOW)
    return made.id


def event(installation_id: int, key: str, body: bytes = b"{}") -> NewEntry:
    return NewEntry(
        source="collection",
        installation_id=installation_id,
        dedupe_key=f"collection:{installation_id}:{key}",
        topic="payment.received",
        headers={"webhook-id": key},
        body=body,
    )


def processing(installation_id: int, key: str) -> Callable[[int], list[NewJob]]:
    return lambda inbox_id: [schedules.inbox_event(installation_id, 1001, key, inbox_id=inbox_id)]


async def store(writer: InboxWriter, inst: int, key: str, body: bytes = b"{}") -> bool:
    return await writer.store(event(inst, key, body), then=processing(inst, key))


async def test_each_delivery_is_stored_once_and_its_job_names_its_row(
    lite: Database, writer: InboxWriter
) -> None:
    inst = await company(lite)
    keys = [f"e{i % 30}" for i in range(90)]
    results = await asyncio.gather(*(store(writer, inst, k) for k in keys))
    assert sorted(k for k, new in zip(keys, results, strict=True) if new) == sorted(set(keys))
    rows = await Inbox(lite).list(limit=100)
    assert len(rows) == 30
    by_id = {r.id: r for r in rows}
    jobs = await JobQueue(lite).list(limit=100)
    assert len(jobs) == 30
    for job in jobs:  # each job names the row stored with it
        row = by_id[job.payload["inbox_id"]]
        assert job.dedupe_key is not None
        assert row.dedupe_key.rsplit(":", 1)[-1] == job.dedupe_key.rsplit(":", 1)[-1]
    again = await asyncio.gather(*(store(writer, inst, k) for k in ("e1", "e2", "new")))
    assert again == [False, False, True]
    stock = writer._ids  # ids reserved for the next batches, not used yet
    assert stock, "no ids reserved ahead"
    later = max([r.id for r in await Inbox(lite).list(limit=100)] + stock)
    async with lite.transaction() as tx:  # the app's own inserts go on after the reserved ids
        row = await tx.fetchrow(
            "insert_inbox_entry",
            source="economic",
            installation_id=inst,
            dedupe_key="after",
            topic="invoice",
            headers={},
            body=b"",
            state="processed",
            received_at=NOW,
            processed_at=NOW,
        )
    assert row is not None and int(row["id"]) > later


async def test_a_stopped_companys_jobs_are_parked(lite: Database, writer: InboxWriter) -> None:
    inst = await company(lite)
    await Installations(lite).set_status(inst, "paused", now=NOW)
    assert await store(writer, inst, "while-paused")
    (job,) = await JobQueue(lite).list()
    assert job.state == "parked"


async def test_a_body_that_is_not_text_is_kept_byte_for_byte(
    lite: Database, writer: InboxWriter
) -> None:
    inst = await company(lite)
    bodies = {"binary": bytes(range(256)), "nul": b'{"a":"\x00"}', "text": "æ😀".encode()}
    assert all(await asyncio.gather(*(store(writer, inst, k, b) for k, b in bodies.items())))
    stored = {r.dedupe_key.rsplit(":", 1)[-1]: r.body for r in await Inbox(lite).list()}
    assert stored == bodies


async def test_a_refused_delivery_does_not_take_its_batch_down(
    lite: Database, writer: InboxWriter
) -> None:
    inst = await company(lite)
    # No such installation: the foreign key refuses that row, not the batch's others.
    results = await asyncio.gather(
        store(writer, inst, "a"),
        store(writer, 999_999, "orphan"),
        store(writer, inst, "b"),
        return_exceptions=True,
    )
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], InboxUnavailable)
    assert sorted(r.dedupe_key for r in await Inbox(lite).list()) == [
        f"collection:{inst}:a",
        f"collection:{inst}:b",
    ]


async def test_a_process_killed_between_batches_is_replaced(
    lite: Database, writer: InboxWriter
) -> None:
    inst = await company(lite)
    assert await store(writer, inst, "before")
    assert writer.process is not None and writer.process._process is not None
    first = writer.process._process
    first.kill()
    await first.wait()
    assert await store(writer, inst, "after")
    assert writer.process._process is not None and writer.process._process.pid != first.pid
    keys = sorted(r.dedupe_key.rsplit(":", 1)[-1] for r in await Inbox(lite).list())
    assert keys == ["after", "before"]


async def waiting_for(process: InboxProcess, n: int) -> None:
    """Until ``n`` requests wait for the process's answers."""
    for _ in range(100_000):  # each turn lets the writer's tasks and the pipe run
        if len(process._waiting) >= n:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{len(process._waiting)} requests in flight, not {n}")


async def test_a_process_that_dies_mid_batch_is_an_outage(
    lite: Database, writer: InboxWriter
) -> None:
    """A process that ends before it answers fails the batch as an outage, a 503 the platforms
    retry, and nothing is acknowledged; the next batch starts a new one."""
    inst = await company(lite)
    assert await store(writer, inst, "first")
    assert writer.process is not None and writer.process._process is not None
    child = writer.process._process
    os.kill(child.pid, signal.SIGSTOP)  # it gets the batch but never answers
    pending = asyncio.ensure_future(store(writer, inst, "lost"))
    await waiting_for(writer.process, 1)
    child.kill()
    with pytest.raises(InboxUnavailable):
        await pending
    assert await store(writer, inst, "next")
    keys = sorted(r.dedupe_key.rsplit(":", 1)[-1] for r in await Inbox(lite).list())
    assert keys == ["first", "next"]


async def test_batches_in_flight_are_committed_in_order(
    lite: Database, writer: InboxWriter
) -> None:
    """Two batches in the pipe at once (the second sent while the first commits): committed
    one after the other, each answer to its own batch, a key in both stored once."""
    inst = await company(lite)
    assert writer.writers == 2
    assert await store(writer, inst, "warm")
    assert writer.process is not None and writer.process._process is not None
    child = writer.process._process
    os.kill(child.pid, signal.SIGSTOP)
    try:
        first = asyncio.ensure_future(store(writer, inst, "a"))
        await waiting_for(writer.process, 1)
        second = asyncio.gather(store(writer, inst, "a"), store(writer, inst, "b"))
        await waiting_for(writer.process, 2)
    finally:
        os.kill(child.pid, signal.SIGCONT)
    assert await first is True
    assert await second == [False, True]
    rows = await Inbox(lite).list()
    assert sorted(r.dedupe_key.rsplit(":", 1)[-1] for r in rows) == ["a", "b", "warm"]
    jobs = await JobQueue(lite).list()
    assert sorted(j.payload["inbox_id"] for j in jobs) == sorted(r.id for r in rows)


def command_line(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


async def test_a_database_it_cannot_open_is_an_outage(lite: Database, database_url: str) -> None:
    """A database the process cannot open (a SQLite path that cannot be, PostgreSQL refusing a
    login): each batch answered as an outage by the same process, which opens the database as
    soon as it can; a password in the URL is never on its command line."""
    inst = await company(lite)
    writer = InboxWriter(lite, clock=lambda: NOW, process=True)
    if database_url.startswith("sqlite"):
        writer.process = InboxProcess("/proc/no-such-dir/inbox.db")
    else:
        writer.process = InboxProcess("postgresql://nobody:hush-hush-42@127.0.0.1:1/none")
    writer.start()
    try:
        for key in ("a", "b"):
            with pytest.raises(InboxUnavailable):
                await store(writer, inst, key)
        child = writer.process._process
        assert child is not None and child.returncode is None
        assert b"hush-hush-42" not in command_line(child.pid)
    finally:
        await writer.close()
    assert await Inbox(lite).count() == 0


async def test_a_process_that_cannot_start_leaves_the_writes_to_the_app(
    lite: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """Where no process may be started (the system refuses it), the inbox is written in the
    app's process, said once in the log, rather than every delivery refused as an outage."""
    inst = await company(lite)
    writer = InboxWriter(lite, clock=lambda: NOW, process=True)
    assert writer.process is not None
    writer.process = InboxProcess(writer.process.target, executable="/no/such/python")
    writer.start()
    try:
        results = await asyncio.gather(*(store(writer, inst, k) for k in ("a", "b", "a", "c")))
        assert sorted(results) == [False, True, True, True]
        assert writer.process is None
        assert await store(writer, inst, "d")
    finally:
        await writer.close()
    rows = await Inbox(lite).list()
    assert sorted(r.dedupe_key.rsplit(":", 1)[-1] for r in rows) == ["a", "b", "c", "d"]
    jobs = await JobQueue(lite).list()
    assert sorted(j.payload["inbox_id"] for j in jobs) == sorted(r.id for r in rows)
    assert caplog.text.count("could not start") == 1


async def test_the_process_ends_when_its_app_closes_it_or_goes_away(lite: Database) -> None:
    inst = await company(lite)
    closing = InboxWriter(lite, clock=lambda: NOW, process=True)
    closing.start()
    assert await store(closing, inst, "x")
    assert closing.process is not None and closing.process._process is not None
    child = closing.process._process
    await closing.close()
    assert child.returncode == 0

    gone = InboxWriter(lite, clock=lambda: NOW, process=True)
    gone.start()
    try:
        assert await store(gone, inst, "y")
        assert gone.process is not None and gone.process._process is not None
        child = gone.process._process
        assert child.stdin is not None
        child.stdin.close()  # what the app's death does to the pipe
        assert await asyncio.wait_for(child.wait(), 10) == 0
    finally:
        await gone.close()


async def only_the_odd_one_fails(writer: InboxWriter, inst: int, odd: NewJob) -> None:
    """A batch of "a", a delivery with ``odd`` for its job, and "b": "a" and "b" are stored,
    the odd one fails as an outage."""
    results = await asyncio.gather(
        store(writer, inst, "a"),
        writer.store(event(inst, "odd"), [odd]),
        store(writer, inst, "b"),
        return_exceptions=True,
    )
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], InboxUnavailable)


async def test_a_batch_the_process_cannot_read_is_refused_not_an_outage(
    lite: Database, writer: InboxWriter
) -> None:
    """A job payload with a key that is not text reaches the process whole but cannot be read
    there: refused, so the writer stores the batch's others one by one, and the process lives."""
    inst = await company(lite)
    odd = NewJob(kind="k", payload={1: "not a text key"})  # type: ignore[dict-item]
    await only_the_odd_one_fails(writer, inst, odd)
    assert writer.process is not None and writer.process._process is not None
    assert writer.process._process.returncode is None
    assert sorted(r.dedupe_key.rsplit(":", 1)[-1] for r in await Inbox(lite).list()) == ["a", "b"]


async def test_a_batch_the_app_cannot_encode_stores_its_others(
    lite: Database, writer: InboxWriter
) -> None:
    """A job payload the app cannot encode for the process never reaches the pipe (so its
    answers stay in step): that delivery fails as an outage, the batch's others are stored, and
    the same process serves the next batch."""
    inst = await company(lite)
    assert await store(writer, inst, "warm")
    assert writer.process is not None and writer.process._process is not None
    child = writer.process._process
    odd = NewJob(kind="k", payload={"x": object()})
    await only_the_odd_one_fails(writer, inst, odd)
    assert await store(writer, inst, "after")
    assert writer.process._process is child and child.returncode is None
    keys = sorted(r.dedupe_key.rsplit(":", 1)[-1] for r in await Inbox(lite).list())
    assert keys == ["a", "after", "b", "warm"]
