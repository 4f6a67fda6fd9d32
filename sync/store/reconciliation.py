"""What the reconciliation report reads (`sync.reconciliation`): one installation's collector
payments as the store knows them, their vouchers in the outbox, and its write-offs.

Payments come from two places, the same payment (by id) counted once: the ``payment.received``
events in the inbox (their bodies, kept until the retention purges them) and the event each
payment voucher in the outbox was built from (its job's payload), so a payment whose event body
is purged, or that was pushed back without passing the inbox, is still reported.
"""

from __future__ import annotations

import builtins
from typing import Any

import msgspec

from sync.collection_events import PaymentReceived, payment_received
from sync.events import PaymentReceivedEvent, UnreadableEvent, decode
from sync.outcomes import writeoff_key
from sync.store.db import Connection, to_struct
from sync.store.outbox import OutboxState


class VoucherRow(msgspec.Struct, frozen=True, kw_only=True):
    """A payment voucher's outbox row; ``drops``: its invoice lines' remainder drops, of
    which ``drops_booked`` are known booked (`sync.store.outbox.OwnPaymentRecord`)."""

    id: int
    state: OutboxState
    request: dict[str, Any]
    response: Any = None
    job: dict[str, Any] | None = None
    last_error: str | None = None
    drops: int = 0
    drops_booked: int = 0


class WriteOffRow(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    subject: str
    state: str
    payload: dict[str, Any]
    outbox_state: OutboxState | None = None
    last_error: str | None = None


class Stored(msgspec.Struct, frozen=True, kw_only=True):
    payments: builtins.list[PaymentReceived]
    vouchers: builtins.list[VoucherRow]
    writeoffs: builtins.list[WriteOffRow]
    booked: builtins.set[tuple[str, int]] = set()
    """``(accounting year, voucher number)`` of the vouchers our own bookings booked."""


def event_of(row: VoucherRow) -> PaymentReceived | None:
    """The payment a voucher row was built from (its job's event), when readable."""
    payload = (row.job or {}).get("payload")
    event = payload.get("event") if isinstance(payload, dict) else None
    if not isinstance(event, dict):
        return None
    try:
        return payment_received(event)
    except (msgspec.ValidationError, ValueError, TypeError):
        return None


async def read(db: Connection, installation_id: int, agreement: int) -> Stored:
    """Everything of one installation the report is built from (every month: the builder
    picks the month, by the payment's own date, which SQL cannot read from the bodies)."""
    seen: dict[str, PaymentReceived] = {}
    for row in await db.fetch("reconciliation_payment_events", installation_id=installation_id):
        body = row["body"]
        try:
            event = decode(bytes(body))
        except UnreadableEvent:
            continue  # rejected at processing, and shown there
        if isinstance(event, PaymentReceivedEvent):
            seen.setdefault(event.data.payment_id, event.data)
    vouchers = [
        to_struct(r, VoucherRow)
        for r in await db.fetch("reconciliation_payment_vouchers", installation_id=installation_id)
    ]
    for voucher in vouchers:
        payment = event_of(voucher)
        if payment is not None:
            seen.setdefault(payment.payment_id, payment)
    writeoffs = [
        to_struct(r, WriteOffRow)
        for r in await db.fetch(
            "reconciliation_writeoffs",
            installation_id=installation_id,
            key_prefix=writeoff_key(agreement, ""),
        )
    ]
    booked: set[tuple[str, int]] = set()
    for row in await db.fetch("reconciliation_bookings", installation_id=installation_id):
        response = row["response"]
        found = response.get("booked") if isinstance(response, dict) else None
        for voucher in found if isinstance(found, list) else []:
            if isinstance(voucher, dict):
                booked.add((str(voucher.get("accountingYear")), int(voucher["voucherNumber"])))
    return Stored(
        payments=list(seen.values()), vouchers=vouchers, writeoffs=writeoffs, booked=booked
    )
