"""No echo: how much of an invoice's remainder drop our own vouchers caused (`sync.keeping`'s
`OwnPayments`, over the outbox).

Every voucher we post records, with its outbox row, how much it lowers each invoice's remainder
(`sync.store.outbox.OwnPaymentRecord`). A voucher lowers the remainder only once its journal is
booked: by us (auto-booking records it at once) or by the bookkeeper, which we learn by reading
the journal's drafts (a voucher of ours no longer among them was booked). Reconciliation compares
the ledger's remainder with the claim's stored ``remaining`` (``since``) and subtracts what
`booked_since` answers; the booked drops not yet absorbed into a stored remaining are those
counted at this same ``since`` or never counted, so a reconciliation that is retried before it
stored its result subtracts the same amount again, and once the claim's remaining moved on, an
absorbed drop is never subtracted twice.

While a voucher of ours for the invoice was sent but its answer is not stored (a crash, a
timeout: the row pending or failed), nothing can be told apart, and `booked_since` raises
`VoucherInFlight` (transient): the reconciliation waits until the row is sent. Known limit: a
draft the bookkeeper deleted reads as booked (the drop it never made is then subtracted once,
so a creditor payment seen at that moment is under-reported).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from sync.clients.economic_types import DraftVoucher
from sync.errors import TransientError
from sync.store.db import Database
from sync.store.outbox import Outbox, OwnPaymentRecord

IN_FLIGHT_WAIT = 30.0


class VoucherInFlight(TransientError):
    """Our own voucher may be in the ledger, its answer not stored yet: wait for it."""

    code = "voucher_in_flight"


class DraftReader(Protocol):
    def journal_vouchers(self, journal_number: int) -> AsyncIterator[DraftVoucher]: ...


class OutboxOwnPayments:
    """`sync.keeping.OwnPayments` over the outbox; ``ledger`` tells booked from draft."""

    def __init__(
        self, db: Database, ledger: DraftReader | None, *, clock: Callable[[], dt.datetime]
    ) -> None:
        self.outbox = Outbox(db)
        self.ledger = ledger
        self.clock = clock
        self._read: dict[tuple[int, int], list[OwnPaymentRecord]] = {}

    def already_read(
        self, installation_id: int, invoice_number: int, records: list[OwnPaymentRecord]
    ) -> None:
        """The invoice's records, read just now after its document was read from the ledger
        (`sync.pushback.Rereads`): the next `booked_since` takes them instead of reading them
        again (once; a voucher of ours sent since is not in that document either)."""
        self._read[(installation_id, invoice_number)] = records

    def forget_read(self) -> None:
        self._read.clear()

    async def booked_since(self, installation_id: int, invoice_number: int, since: int) -> int:
        records = self._read.pop((installation_id, invoice_number), None)
        if records is None:
            records = await self.outbox.own_payments(installation_id, invoice_number)
        if any(r.in_flight for r in records):
            # Its drop may be in the remainder already, of an amount we cannot yet tell apart
            # from the creditor's: reconcile once the voucher's answer is stored.
            raise VoucherInFlight(
                f"a voucher of ours for invoice {invoice_number} is being posted; the invoice "
                "is reconciled once its answer is stored",
                retry_after=IN_FLIGHT_WAIT,
                platform="economic",
            )
        if any(r.booked_at is None and r.voucher_number is not None for r in records):
            await self._learn_booked(installation_id, records)
            records = await self.outbox.own_payments(installation_id, invoice_number)
        counted = [
            r for r in records if r.booked_at is not None and r.counted_from in (None, since)
        ]
        await self.outbox.counted(counted, since=since)
        return sum(r.amount for r in counted)

    async def learn_booked(self, installation_id: int) -> None:
        """Which of the installation's vouchers the bookkeeper has booked since we looked (one
        read of each journal's drafts that holds one of ours not known to be booked)."""
        await self._learn_booked(installation_id, await self.outbox.unbooked(installation_id))

    async def _learn_booked(self, installation_id: int, records: list[OwnPaymentRecord]) -> None:
        if self.ledger is None:
            return
        waiting = [r for r in records if r.booked_at is None and r.voucher_number is not None]
        if not waiting:
            return
        booked: list[tuple[str, int]] = []
        for journal in sorted({r.journal_number for r in waiting}):
            drafts = {
                (v.accounting_year.year, v.voucher_number)
                async for v in self.ledger.journal_vouchers(journal)
            }
            booked.extend(
                (r.accounting_year or "", r.voucher_number or 0)
                for r in waiting
                if r.journal_number == journal
                and (r.accounting_year, r.voucher_number) not in drafts
            )
        await self.outbox.booked(installation_id, booked, now=self.clock())
