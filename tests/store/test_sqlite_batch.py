"""SQLite's one-step batches: the inbox rows of a batch in one INSERT from ``json_each``
(`sync.store.inbox.insert_entries`; a body JSON cannot carry is written by an UPDATE after)
and a batch of jobs in one (`sync.jobs.enqueue_in`, ``enqueue_jobs``): every body comes back
byte for byte, the ids given are the rows', and the jobs end as if enqueued one at a time."""

from __future__ import annotations

import asyncio
import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.jobs import JobQueue, enqueue_in
from sync.store.db import Database
from sync.store.inbox import Inbox, InboxState, NewEntry, insert_entries
from sync.store.installations import Installations
from tests.store.test_inbox_bulk import burst, of, twins

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
TRICKY = [
    b"",
    b'{"id":"evt_1","type":"payment.received"}',
    "æøå ÆØÅ € 𝄞 😀".encode(),
    bytes(range(1, 32)) + b"\x7f",  # every control character but NUL
    b'"quoted" \\ back\\slash \\u0041 \\n not an escape',
    b"\\u0000 is six characters here",
    b"\x00 a NUL",  # JSON strings cannot hold one: written after by an UPDATE
    b"\xff\xfe not UTF-8",  # nor bytes that are not text
    "\ufeffBOM first".encode(),
]


async def company(db: Database) -> int:
    made = await Installations(db).activate(agreement_number=7, company_name="c", now=NOW)
    return made.id


def entry(installation_id: int, key: str, body: bytes, state: InboxState = "new") -> NewEntry:
    return NewEntry(
        source="collection",
        installation_id=installation_id,
        dedupe_key=key,
        topic="payment.received",
        headers={"webhook-id": key, "x-note": 'æ 😀 "q" \\'},
        body=body,
        state=state,
    )


async def test_every_body_comes_back_byte_for_byte_alone_or_in_a_mixed_batch(db: Database) -> None:
    inst = await company(db)
    alone = [entry(inst, f"alone:{i}", body) for i, body in enumerate(TRICKY)]
    for e in alone:  # each its own batch: through JSON, or by the UPDATE for NUL and non-UTF-8
        async with db.transaction() as tx:
            assert (await insert_entries(tx, [e], now=NOW))[0] is not None
    mixed = [entry(inst, f"mixed:{i}", body) for i, body in enumerate(TRICKY)]
    async with db.transaction() as tx:
        ids = await insert_entries(tx, mixed, now=NOW)
    inbox = Inbox(db)
    for e, inbox_id in zip(mixed, ids, strict=True):
        assert inbox_id is not None
        got = await inbox.get(inbox_id)
        assert got is not None and got.dedupe_key == e.dedupe_key
        assert got.body == e.body and got.headers == e.headers
    by_key = {r.dedupe_key: r for r in await inbox.list(limit=100)}
    for e in alone:
        assert by_key[e.dedupe_key].body == e.body


async def test_ids_are_the_rows_and_duplicates_get_none(db: Database) -> None:
    inst = await company(db)
    async with db.transaction() as tx:
        first = await insert_entries(tx, [entry(inst, "a", b"1"), entry(inst, "b", b"2")], now=NOW)
    batch = [
        entry(inst, "b", b"2 again"),  # stored before
        entry(inst, "c", b"3", state="processed"),
        entry(inst, "c", b"3 twice in one batch"),
        entry(inst, "d", b"4"),
    ]
    async with db.transaction() as tx:
        ids = await insert_entries(tx, batch, now=NOW)
    assert ids[0] is None and ids[2] is None
    inbox = Inbox(db)
    rows = {r.dedupe_key: r for r in await inbox.list(limit=10)}
    assert [rows["a"].id, rows["b"].id] == first
    assert [rows["c"].id, rows["d"].id] == [ids[1], ids[3]]
    assert rows["b"].body == b"2" and rows["c"].body == b"3"
    assert rows["c"].state == "processed" and rows["c"].processed_at == NOW
    assert rows["d"].state == "new" and rows["d"].processed_at is None
    assert max(first) < min(i for i in ids if i is not None)
    async with db.transaction() as tx:  # ids go on after a batch's, never reused
        (later,) = await insert_entries(tx, [entry(inst, "e", b"\xff")], now=NOW)
    assert later is not None and later > max(i for i in ids if i is not None)


async def test_a_batch_of_jobs_ends_as_if_enqueued_one_at_a_time(db: Database) -> None:
    queue = JobQueue(db)
    await twins(queue, "a")
    await twins(queue, "b")
    for job in [j for jobs in burst("a") for j in jobs]:
        await queue.enqueue(job, now=NOW)
    async with db.transaction() as tx:
        await enqueue_in(tx, [j for jobs in burst("b") for j in jobs], now=NOW)
    everything = await queue.list(limit=1000)
    assert of(everything, "b") == of(everything, "a")
    assert len(of(everything, "a")) >= 4


async def test_arbitrary_bodies_round_trip(db: Database) -> None:
    inst = await company(db)
    inbox = Inbox(db)
    loop = asyncio.get_running_loop()
    seen = 0

    async def round_trip(bodies: list[bytes]) -> None:
        nonlocal seen
        entries = [entry(inst, f"h:{seen}:{i}", body) for i, body in enumerate(bodies)]
        seen += 1
        async with db.transaction() as tx:
            ids = await insert_entries(tx, entries, now=NOW)
        for e, inbox_id in zip(entries, ids, strict=True):
            assert inbox_id is not None
            got = await inbox.get(inbox_id)
            assert got is not None and got.body == e.body, (e.body, got)

    bodies = st.binary(max_size=64) | st.text(max_size=64).map(
        lambda t: t.encode("utf-8", "surrogatepass")
    )

    @settings(
        max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(st.lists(bodies, min_size=1, max_size=6))
    def check(batch: list[bytes]) -> None:
        asyncio.run_coroutine_threadsafe(round_trip(batch), loop).result(timeout=30)

    await asyncio.to_thread(check)
