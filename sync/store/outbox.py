"""The outbox: every write to either platform, stored before it is sent (DESIGN.md, Invariants).

A row is keyed by its idempotency key (unique), so storing the same write again finds the row
already there. States:

    pending   stored, or being sent: a crash between sending and storing the answer leaves
              it here, with ``first_attempt_at`` saying since when the platform may hold it
    sent      the platform accepted it; ``response`` is its answer
    failed    the last attempt failed in a way a retry may mend; the job tries again
    dead      the platform refused it: waits for a person's retry, which sends it under a new
              `generation` of its key (the platform would replay its refusal to the old one)

``job`` is the job that sends the row (kind, dedupe key, serial key, payload), so a person's
retry (`retry`) can queue it again. `OwnPaymentRecord` rows belong to a write and say how much
its voucher lowers an invoice's remainder once booked (`sync.own_payments`).
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Iterable, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any, Literal

import msgspec

from sync.store.db import Connection, Database, to_struct

OutboxState = Literal["pending", "sent", "failed", "dead"]
OUTBOX_STATES: tuple[OutboxState, ...] = ("pending", "sent", "failed", "dead")
Platform = Literal["economic", "collection"]


class NewOutboxItem(msgspec.Struct, frozen=True, kw_only=True):
    installation_id: int
    platform: Platform
    operation: str
    idempotency_key: str
    request: dict[str, Any]
    job: dict[str, Any] | None = None


class OutboxItem(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    installation_id: int
    platform: Platform
    operation: str
    idempotency_key: str
    request: dict[str, Any]
    state: OutboxState
    attempts: int
    response: Any = None
    last_error: str | None = None
    created_at: dt.datetime
    sent_at: dt.datetime | None = None
    first_attempt_at: dt.datetime | None = None
    last_attempt_at: dt.datetime | None = None
    job: dict[str, Any] | None = None
    generation: int = 0

    @property
    def sending_key(self) -> str:
        """The key sent: the row's own, or after a person's retry of a refusal a new one."""
        if self.generation == 0:
            return self.idempotency_key
        return f"{self.idempotency_key}:retry{self.generation}"


class OwnPaymentRecord(msgspec.Struct, frozen=True, kw_only=True):
    outbox_id: int
    installation_id: int
    invoice_number: int
    amount: int
    journal_number: int
    accounting_year: str | None = None
    voucher_number: int | None = None
    booked_at: dt.datetime | None = None
    counted_from: int | None = None
    checked_at: dt.datetime | None = None
    outbox_state: OutboxState = "sent"

    @property
    def in_flight(self) -> bool:
        """Sent at least once, its answer not held: the voucher may be there, even booked."""
        return self.outbox_state != "sent"


class Outbox:
    """Over the database, or inside a transaction (``Outbox(tx)``: its statements join it)."""

    def __init__(self, db: Database | Connection) -> None:
        self.db = db

    async def add(
        self, item: NewOutboxItem, *, own: Mapping[int, int] | None = None, now: dt.datetime
    ) -> OutboxItem:
        """Store ``item`` (and the remainder drops ``own`` of its voucher: invoice → amount,
        with the journal in ``request``) unless its key is stored; the stored row either way."""
        async with _transaction(self.db) as tx:
            await tx.execute(
                "add_outbox_item",
                installation_id=item.installation_id,
                platform=item.platform,
                operation=item.operation,
                idempotency_key=item.idempotency_key,
                request=item.request,
                job=item.job,
                now=now,
            )
            stored = await _by_key(tx, item.idempotency_key)
            if own:
                await _add_own(tx, stored, own)
        return stored

    async def add_attempted(
        self, item: NewOutboxItem, *, own: Mapping[int, int] | None = None, now: dt.datetime
    ) -> OutboxItem | None:
        """Store ``item`` (and ``own``, as `add`) with its first attempt marked under way, in
        one commit before the call; None, and nothing written, when its key is stored already
        (the row then goes the usual way: `by_key`, a read-back if due, `attempt`)."""
        params = {
            "installation_id": item.installation_id,
            "platform": item.platform,
            "operation": item.operation,
            "idempotency_key": item.idempotency_key,
            "request": item.request,
            "job": item.job,
            "now": now,
        }
        if not own:
            row = await self.db.fetchrow("add_outbox_item_attempted", **params)
            return to_struct(row, OutboxItem) if row is not None else None
        async with _transaction(self.db) as tx:
            row = await tx.fetchrow("add_outbox_item_attempted", **params)
            if row is None:
                return None
            stored = to_struct(row, OutboxItem)
            await _add_own(tx, stored, own)
        return stored

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """A transaction for several writes at once (``Outbox(tx)`` inside it)."""
        return _transaction(self.db)

    async def by_key(self, idempotency_key: str) -> OutboxItem | None:
        row = await self.db.fetchrow("outbox_item_by_key", idempotency_key=idempotency_key)
        return to_struct(row, OutboxItem) if row is not None else None

    async def get(self, item_id: int) -> OutboxItem | None:
        row = await self.db.fetchrow("outbox_item", id=item_id)
        return to_struct(row, OutboxItem) if row is not None else None

    async def attempt(self, item_id: int, *, now: dt.datetime) -> bool:
        """Mark an attempt under way (before the call); False when the row is sent or dead."""
        return await self.db.execute("start_outbox_attempt", id=item_id, now=now) == 1

    async def sent(self, item_id: int, response: Any, *, now: dt.datetime) -> OutboxItem | None:
        """The row ``sent`` with ``response``, as it is now; None when it was sent already."""
        row = await self.db.fetchrow("outbox_sent", id=item_id, response=response, now=now)
        return to_struct(row, OutboxItem) if row is not None else None

    async def not_sent(self, item_id: int, *, state: Literal["failed", "dead"], error: str) -> None:
        await self.db.execute("outbox_not_sent", id=item_id, state=state, error=error)

    async def retry(self, item_id: int) -> bool:
        """A failed or dead write back to pending; False when it is neither."""
        return await self.db.execute("retry_outbox_item", id=item_id) == 1

    async def list(
        self,
        *,
        installation_id: int | None = None,
        state: OutboxState | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> builtins.list[OutboxItem]:
        rows = await self.db.fetch(
            "list_outbox", installation_id=installation_id, state=state, after=after, limit=limit
        )
        return [to_struct(r, OutboxItem) for r in rows]

    async def sent_since(
        self, installation_id: int, operation: str, *, since: dt.datetime
    ) -> builtins.list[OutboxItem]:
        rows = await self.db.fetch(
            "sent_since", installation_id=installation_id, operation=operation, since=since
        )
        return [to_struct(r, OutboxItem) for r in rows]

    async def vouchers_in_flight(self, installation_id: int) -> builtins.list[OutboxItem]:
        rows = await self.db.fetch("vouchers_in_flight", installation_id=installation_id)
        return [to_struct(r, OutboxItem) for r in rows]

    async def last_voucher_sent(self, installation_id: int) -> int | None:
        """The id of the newest voucher row of ours the ledger accepted (None: none yet)."""
        row = await self.db.fetchrow("last_voucher_sent", installation_id=installation_id)
        return int(row["id"]) if row is not None and row["id"] is not None else None

    # -- our own vouchers' remainder drops ------------------------------------------------

    async def set_voucher(self, outbox_id: int, *, accounting_year: str, number: int) -> None:
        await self.db.execute(
            "set_own_payment_voucher",
            outbox_id=outbox_id,
            accounting_year=accounting_year,
            voucher_number=number,
        )

    async def own_payments(
        self, installation_id: int, invoice_number: int
    ) -> builtins.list[OwnPaymentRecord]:
        rows = await self.db.fetch(
            "own_payments_of_invoice",
            installation_id=installation_id,
            invoice_number=invoice_number,
        )
        return [to_struct(r, OwnPaymentRecord) for r in rows]

    async def own_payments_of(
        self, installation_id: int, invoice_numbers: Iterable[int]
    ) -> dict[int, builtins.list[OwnPaymentRecord]]:
        """`own_payments` of each of these invoices (one read; an invoice without any: [])."""
        numbers = sorted(set(invoice_numbers))
        found: dict[int, builtins.list[OwnPaymentRecord]] = {n: [] for n in numbers}
        if numbers:
            rows = await self.db.fetch(
                "own_payments_of_invoices",
                installation_id=installation_id,
                invoice_numbers=numbers,
            )
            for row in rows:
                record = to_struct(row, OwnPaymentRecord)
                found[record.invoice_number].append(record)
        return found

    async def booked(
        self, installation_id: int, vouchers: Iterable[tuple[str, int]], *, now: dt.datetime
    ) -> None:
        """Our vouchers ``(accounting year, number)`` were booked."""
        rows = [
            {
                "installation_id": installation_id,
                "accounting_year": year,
                "voucher_number": number,
                "now": now,
            }
            for year, number in vouchers
        ]
        await _write(self.db, "own_payment_booked", rows)

    async def unbooked(self, installation_id: int) -> builtins.list[OwnPaymentRecord]:
        """Drops of vouchers of ours e-conomic holds that are not known to be booked."""
        rows = await self.db.fetch("own_payments_unbooked", installation_id=installation_id)
        return [to_struct(r, OwnPaymentRecord) for r in rows]

    async def invoices_to_check(
        self, installation_id: int, *, after: int = 0, limit: int = 200
    ) -> builtins.list[int]:
        """Invoices above ``after`` with a booked drop of ours not yet checked, in order."""
        rows = await self.db.fetch(
            "invoices_to_check", installation_id=installation_id, after=after, limit=limit
        )
        return [int(r["invoice_number"]) for r in rows]

    async def checked(self, records: Iterable[OwnPaymentRecord], *, now: dt.datetime) -> None:
        """These booked drops were checked against the invoice's remainder in the ledger."""
        rows = [
            {"outbox_id": r.outbox_id, "invoice_number": r.invoice_number, "now": now}
            for r in records
            if r.checked_at is None
        ]
        await _write(self.db, "own_payment_checked", rows)

    async def counted(self, records: Iterable[OwnPaymentRecord], *, since: int) -> None:
        rows = [
            {"outbox_id": r.outbox_id, "invoice_number": r.invoice_number, "since": since}
            for r in records
            if r.counted_from is None
        ]
        await _write(self.db, "count_own_payment", rows)


async def _write(
    db: Database | Connection, query: str, rows: builtins.list[dict[str, Any]]
) -> None:
    """One write per row: a single row as one statement (no transaction of its own)."""
    if len(rows) == 1:
        await db.execute(query, **rows[0])
    elif rows:
        await db.executemany(query, rows)


def _transaction(db: Database | Connection) -> AbstractAsyncContextManager[Connection]:
    """A transaction of ``db``; inside one already (a `Connection`), that one."""
    begin = getattr(db, "transaction", None)
    return begin() if begin is not None else nullcontext(db)


async def _add_own(tx: Connection, stored: OutboxItem, own: Mapping[int, int]) -> None:
    await tx.executemany(
        "add_own_payment",
        [
            {
                "outbox_id": stored.id,
                "installation_id": stored.installation_id,
                "invoice_number": invoice,
                "amount": amount,
                "journal_number": int(stored.request["journal_number"]),
            }
            for invoice, amount in sorted(own.items())
        ],
    )


async def _by_key(db: Connection, key: str) -> OutboxItem:
    row = await db.fetchrow("outbox_item_by_key", idempotency_key=key)
    assert row is not None, "stored in the same transaction"
    return to_struct(row, OutboxItem)
