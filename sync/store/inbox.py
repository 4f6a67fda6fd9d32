"""The webhook inbox: raw deliveries from both platforms, stored before they are acknowledged.

One row per delivery (DESIGN.md, Storage): ``source`` (``economic`` or ``collection``),
``installation_id``, ``dedupe_key`` (unique: a delivery whose key is stored already is a
duplicate and adds nothing), ``topic`` (the e-conomic hint's topic, or the collection event's
type), ``headers``, ``body`` (raw bytes), ``state`` (``new`` until processed), ``received_at``.
`insert_entry` runs inside the caller's transaction, so the writer of `webhooks.inbox` can
commit many deliveries, and the jobs they make, at once.

A collection event (`sync.inbox_processing`) is taken (marked ``processed``) in the transaction
of its effects; one that cannot be read is ``rejected``, one whose processing failed for a bug
is ``dead`` (migration 0012), each with its ``error``, until a replay makes it ``new`` again.
`Timeline` holds what happened in a case, one entry per event.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple

import msgspec

from sync.jobs import NewJob
from sync.store.db import Connection, as_datetime, to_struct
from sync.store.sqlite import json_rows

Source = Literal["economic", "collection"]
InboxState = Literal["new", "processed", "rejected", "dead"]
INBOX_STATES: tuple[InboxState, ...] = ("new", "processed", "rejected", "dead")
REPLAYABLE: tuple[InboxState, ...] = ("dead", "rejected")


class NewEntry(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery to store. ``processed`` when it was dealt with in the transaction that
    stores it (an e-conomic hint whose job is enqueued with it)."""

    source: Source
    installation_id: int
    dedupe_key: str
    topic: str
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    body: bytes = b""
    state: InboxState = "new"


class InboxEntry(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    source: Source
    installation_id: int | None
    dedupe_key: str
    topic: str
    headers: dict[str, str]
    body: bytes | None
    state: InboxState
    received_at: dt.datetime
    processed_at: dt.datetime | None
    error: str | None = None

    @property
    def event_id(self) -> str | None:
        """A collection event's id (the last part of its dedupe key)."""
        if self.source != "collection":
            return None
        return self.dedupe_key.rsplit(":", 1)[-1]


class EntrySummary(msgspec.Struct, frozen=True, kw_only=True):
    """An entry as lists show it: without its headers and body, with its company's agreement."""

    id: int
    source: Source
    installation_id: int
    agreement_number: int
    dedupe_key: str
    topic: str
    state: InboxState
    error: str | None
    received_at: dt.datetime
    processed_at: dt.datetime | None

    @property
    def event_id(self) -> str | None:
        return self.dedupe_key.rsplit(":", 1)[-1] if self.source == "collection" else None


class Waiting(msgspec.Struct, frozen=True, kw_only=True):
    """A collection event not processed yet."""

    id: int
    installation_id: int
    agreement_number: int
    dedupe_key: str

    @property
    def event_id(self) -> str:
        return self.dedupe_key.rsplit(":", 1)[-1]


def collection_key(installation_id: int, event_id: str) -> str:
    """The dedupe key of a collection event, whether it came by webhook or from the feed."""
    return f"collection:{installation_id}:{event_id}"


def _entry_params(entry: NewEntry, now: dt.datetime) -> dict[str, Any]:
    return {
        "source": entry.source,
        "installation_id": entry.installation_id,
        "dedupe_key": entry.dedupe_key,
        "topic": entry.topic,
        "headers": entry.headers,
        "body": entry.body,
        "state": entry.state,
        "received_at": now,
        "processed_at": now if entry.state == "processed" else None,
    }


async def insert_entry(tx: Connection, entry: NewEntry, *, now: dt.datetime) -> int | None:
    """Store ``entry`` received ``now``: its row's id, or None when a delivery of its key is
    stored already."""
    row = await tx.fetchrow("insert_inbox_entry", **_entry_params(entry, now))
    return int(row["id"]) if row is not None else None


async def insert_entries(
    tx: Connection, entries: Sequence[NewEntry], *, now: dt.datetime
) -> builtins.list[int | None]:
    """Store ``entries`` received ``now`` in a fixed number of statements, whatever their
    number: each one's row id, None for a duplicate (of a stored delivery, or of an earlier
    entry of the same key here).

    PostgreSQL: one INSERT of the batch's arrays, its RETURNING the rows it stored (a key stored
    meanwhile by another transaction is waited for and skipped: a duplicate). SQLite:
    `_sqlite_at_once`."""
    first: dict[str, int] = {}
    for i, entry in enumerate(entries):
        first.setdefault(entry.dedupe_key, i)
    unique = [entries[i] for i in first.values()]
    if tx.dialect == "postgresql":
        rows = await tx.fetch(
            "insert_inbox_entries",
            received_at=now,
            sources=[e.source for e in unique],
            installation_ids=[e.installation_id for e in unique],
            dedupe_keys=builtins.list(first),
            topics=[e.topic for e in unique],
            headers=[msgspec.json.encode(e.headers).decode() for e in unique],
            bodies=[e.body for e in unique],
            states=[e.state for e in unique],
        )
        ids = {r["dedupe_key"]: int(r["id"]) for r in rows}
    else:
        ids = await _sqlite_at_once(tx, [(e, None) for e in unique], now)
    return [
        ids.get(entry.dedupe_key) if first[entry.dedupe_key] == i else None
        for i, entry in enumerate(entries)
    ]


async def insert_reserved(
    tx: Connection, batch: Sequence[tuple[NewEntry, int | None]], *, now: dt.datetime
) -> dict[str, int]:
    """SQLite, inside the caller's transaction: `store_batch`'s rows (keys distinct, each with
    the id reserved for it by `reserve_ids`, or None). The ids of the rows stored, by key."""
    return await _sqlite_at_once(tx, batch, now)


async def _sqlite_at_once(
    tx: Connection, batch: Sequence[tuple[NewEntry, int | None]], now: dt.datetime
) -> dict[str, int]:
    """SQLite, keys distinct, each entry with the id reserved for it (`reserve_ids`) or None:
    the ids of the rows stored, by key. One row read (the last id given out, and which keys are
    stored already), then the new rows inserted in one step from ``json_each`` (`json_rows`),
    an entry without an id taking the next after the last given out. So SQLite's thread takes
    Python's lock back twice a batch, where ``executemany`` and a RETURNING take it back after
    every row, each time waiting for the event loop's thread to let go of it. Nothing can come
    between: the caller's transaction holds the write lock from its BEGIN IMMEDIATE.

    A body is passed as text and cast back to its BLOB; one that is not UTF-8 or holds a NUL
    (which SQLite's JSON strings cannot carry) is written by an UPDATE of its row after."""
    plan = await tx.fetchrow("inbox_batch_plan", keys=[e.dedupe_key for e, _ in batch])
    assert plan is not None
    stored = set(msgspec.json.decode(plan["stored"]))
    last = int(plan["last_id"])
    ids: dict[str, int] = {}
    rows, blobs = [], []
    for entry, given in batch:
        if entry.dedupe_key in stored:
            continue
        if given is None:
            last += 1
        inbox_id = ids[entry.dedupe_key] = given if given is not None else last
        text = _as_text(entry.body)
        if text is None:
            blobs.append({"id": inbox_id, "body": entry.body})
        rows.append(
            (
                inbox_id,
                entry.source,
                entry.installation_id,
                entry.dedupe_key,
                entry.topic,
                entry.headers,
                text,
                entry.state,
            )
        )
    if rows:
        await tx.execute("insert_inbox_entries", received_at=now, rows=json_rows(rows))
    if blobs:
        await tx.executemany("set_inbox_body", blobs)
    return ids


def _as_text(body: bytes) -> str | None:
    """The text that SQLite's JSON gives back as these same bytes once cast to a BLOB (UTF-8
    without NUL), or None."""
    if b"\x00" in body:
        return None
    try:
        return body.decode()
    except UnicodeDecodeError:
        return None


async def reserve_ids(conn: Connection, n: int) -> builtins.list[int]:
    """``n`` fresh inbox ids, in order, for `store_batch` (an id reserved for a delivery that
    turns out to be a duplicate is never used: a gap, no more). PostgreSQL: from the identity.
    SQLite, inside the caller's transaction: the AUTOINCREMENT's last id moved on by ``n``."""
    if conn.dialect == "sqlite":
        await conn.execute("seed_inbox_sequence")
        row = await conn.fetchrow("reserve_inbox_ids", n=n)
        assert row is not None
        last = int(row["id"])
        return builtins.list(range(last - n + 1, last + 1))
    rows = await conn.fetch("reserve_inbox_ids", n=n)
    return [int(r["id"]) for r in rows]


class BatchStored(NamedTuple):
    """What `store_batch` did: the ids of the rows stored, by key; the ids reserved for the
    next batch; the status of each installation the batch's jobs are for, by id."""

    ids: dict[str, int]
    reserved: builtins.list[int]
    statuses: dict[int, str]


async def store_batch(
    conn: Connection,
    batch: Sequence[tuple[NewEntry, int | None, Sequence[NewJob]]],
    *,
    now: dt.datetime,
    reserve: int = 0,
) -> BatchStored:
    """PostgreSQL: store each ``(entry, id, jobs)`` of ``batch`` (keys distinct; the id reserved
    by `reserve_ids`, or None for the identity's next) received ``now`` unless a delivery of its
    key is stored already, and the jobs of those stored, in one statement: when ``conn`` is not
    in a transaction, one round trip and one commit. Returns the ids of the rows stored, by key,
    ``reserve`` ids reserved as `reserve_ids` does (for the next batch's rows), and the status
    of the installations the jobs are for, read under a share lock taken before any job is
    written (`sync.installation_queue`: a pause either committed before, and is read here, or
    waits for this commit and then parks the jobs).

    The jobs are enqueued with `sync.jobs.enqueue_in`'s semantics, as if one by one in order (a
    twin in backoff takes a job over keeping its run_at, a queued twin absorbs it: earlier
    run_at, higher priority, payload keys merged; the jobs of one key in the batch as one). A
    batch whose jobs' keys are all distinct, as a burst of collection events is, goes as
    ``store_inbox_batch_distinct``, the statement without that merge (a fifth of the server's
    CPU a batch, measured).

    The batch goes as one JSON text (`_batch_json`, one encode): as twenty arrays of one column
    each, asyncpg's conversion of every element cost the client about 0.9 ms of CPU a batch of
    27 deliveries (0.3 ms this way), measured on the event loop that serves the requests."""
    rows = await conn.fetch(batch_statement(batch), **batch_params(batch, now=now, reserve=reserve))
    return BatchStored(
        ids={r["dedupe_key"]: int(r["id"]) for r in rows if r["dedupe_key"] is not None},
        reserved=[int(r["id"]) for r in rows if r["dedupe_key"] is None and r["status"] is None],
        statuses={int(r["id"]): str(r["status"]) for r in rows if r["status"] is not None},
    )


def batch_statement(batch: Sequence[tuple[NewEntry, int | None, Sequence[NewJob]]]) -> str:
    """The statement `store_batch` sends ``batch`` as: without the merge of a key's jobs when
    no two of its jobs share a dedupe key."""
    keys = [j.dedupe_key for _, _, jobs in batch for j in jobs if j.dedupe_key is not None]
    return "store_inbox_batch_distinct" if len(set(keys)) == len(keys) else "store_inbox_batch"


def batch_params(
    batch: Sequence[tuple[NewEntry, int | None, Sequence[NewJob]]],
    *,
    now: dt.datetime,
    reserve: int = 0,
) -> dict[str, Any]:
    """The parameters of PostgreSQL's batch statement for ``batch`` (`store_batch`)."""
    return {
        "received_at": now,
        "batch": _batch_json.encode(list(batch)).decode(),
        "reserve": reserve,
    }


def _as_dict(value: Any) -> Any:
    if isinstance(value, Mapping):  # a job's payload of another mapping type
        return dict(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


# `store_batch`'s batch in one encode (bytes as base64, which the statement decodes).
_batch_json = msgspec.json.Encoder(enc_hook=_as_dict)


class Inbox:
    def __init__(self, db: Connection) -> None:
        self.db = db

    async def list(
        self, *, installation_id: int | None = None, source: Source | None = None, limit: int = 100
    ) -> builtins.list[InboxEntry]:
        rows = await self.db.fetch(
            "list_inbox", installation_id=installation_id, source=source, limit=limit
        )
        return [to_struct(r, InboxEntry) for r in rows]

    async def count(self, *, source: Source | None = None) -> int:
        row = await self.db.fetchrow("count_inbox", source=source)
        return int(row["n"]) if row else 0

    async def get(self, entry_id: int) -> InboxEntry | None:
        row = await self.db.fetchrow("get_inbox_entry", id=entry_id)
        return to_struct(row, InboxEntry) if row else None

    async def take(self, entry_id: int, *, now: dt.datetime) -> bool:
        """Mark a new or dead collection event processed (in the transaction of its effects);
        False when it is not waiting (processed already, or taken by a concurrent run)."""
        return await self.db.fetchrow("take_inbox_entry", id=entry_id, now=now) is not None

    async def set_outcome(
        self, entry_id: int, state: InboxState, *, error: str | None, now: dt.datetime
    ) -> None:
        await self.db.execute("set_inbox_outcome", id=entry_id, state=state, error=error, now=now)

    async def bury(self, entry_id: int, *, error: str, now: dt.datetime) -> bool:
        return await self.db.execute("bury_inbox_entry", id=entry_id, error=error, now=now) == 1

    async def reopen(self, entry_id: int) -> bool:
        """A dead or rejected collection event back to ``new`` (a replay); False otherwise."""
        return await self.db.execute("reopen_inbox_entry", id=entry_id) == 1

    async def waiting(
        self, *, installation_id: int | None = None, after: int = 0, limit: int = 500
    ) -> builtins.list[Waiting]:
        rows = await self.db.fetch(
            "new_collection_entries", installation_id=installation_id, after=after, limit=limit
        )
        return [to_struct(r, Waiting) for r in rows]

    async def page(
        self,
        *,
        state: InboxState | None = None,
        installation_id: int | None = None,
        user_id: int | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> builtins.list[EntrySummary]:
        """Entries in id order after ``after``; with ``user_id``, of that user's companies only."""
        rows = await self.db.fetch(
            "inbox_page",
            state=state,
            installation_id=installation_id,
            user_id=user_id,
            after=after,
            limit=limit,
        )
        return [to_struct(r, EntrySummary) for r in rows]

    async def waiting_bodies(self, installation_id: int, *, limit: int) -> builtins.list[bytes]:
        """The bodies of an installation's collection events stored, not processed yet."""
        rows = await self.db.fetch(
            "waiting_event_bodies", installation_id=installation_id, limit=limit
        )
        return [bytes(r["body"]) for r in rows if r["body"] is not None]

    async def oldest_new(self) -> dt.datetime | None:
        row = await self.db.fetchrow("oldest_new_inbox_entry")
        return as_datetime(row["received_at"]) if row else None

    async def purge_processed_hints(self, *, before: dt.datetime, limit: int) -> int:
        """Delete up to ``limit`` processed e-conomic hints received before ``before``, each
        installation's newest of each topic kept; how many went. (A hint's row is history once
        its job is enqueued, in the transaction that stored it: the job re-reads the record.)"""
        return await self.db.execute("purge_processed_hints", before=before, limit=limit)

    async def count_dead(self) -> int:
        row = await self.db.fetchrow("count_dead_inbox")
        return int(row["n"]) if row else 0


class TimelineEntry(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    installation_id: int
    event_id: str
    case_id: str | None
    invoice_number: int | None
    at: dt.datetime
    kind: str
    detail: dict[str, Any]


class Timeline:
    """What happened in a case or to one claim, one entry per collection event."""

    def __init__(self, db: Connection) -> None:
        self.db = db

    async def add(
        self,
        installation_id: int,
        event_id: str,
        *,
        kind: str,
        at: dt.datetime,
        detail: dict[str, Any],
        case_id: str | None = None,
        invoice_number: int | None = None,
    ) -> None:
        await self.db.execute(
            "add_timeline_entry",
            installation_id=installation_id,
            event_id=event_id,
            case_id=case_id,
            invoice_number=invoice_number,
            at=at,
            kind=kind,
            detail=detail,
        )

    async def closed(self, installation_id: int, case_id: str) -> TimelineEntry | None:
        """The entry of the case's ``case.closed``, when it was processed."""
        row = await self.db.fetchrow(
            "case_closed_entry", installation_id=installation_id, case_id=case_id
        )
        return to_struct(row, TimelineEntry) if row else None

    async def of_invoice(
        self, installation_id: int, invoice_number: int
    ) -> builtins.list[TimelineEntry]:
        rows = await self.db.fetch(
            "timeline_of_invoice", installation_id=installation_id, invoice_number=invoice_number
        )
        return [to_struct(r, TimelineEntry) for r in rows]
