"""Claims, customers and sync state on both engines."""

from __future__ import annotations

import datetime as dt

from sync.store.claims import ClaimRecord, Claims, CustomerRecord, Customers
from sync.store.db import Database
from sync.store.installations import Installations
from sync.store.sync_state import SyncState

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def record(
    number: int, customer: int, *, kind: str = "invoice", remaining: int = 101999
) -> ClaimRecord:
    return ClaimRecord(
        invoice_number=number,
        customer_number=customer,
        kind=kind,  # type: ignore[arg-type]
        currency="DKK",
        gross_amount=remaining,
        remaining=remaining,
        remaining_base=remaining,
        issued_on=dt.date(2026, 10, 1),
        due_date=dt.date(2026, 10, 31),
        document={"invoice_number": number, "remaining_amount": remaining},
        fingerprint=f"f{number}:{remaining}",
    )


async def test_claims_are_sent_once_their_debtor_is_and_again_only_when_changed(
    db: Database,
) -> None:
    inst = await Installations(db).create(agreement_number=1, company_name="x", now=NOW)
    claims, customers = Claims(db), Customers(db)
    await claims.record(
        inst.id,
        [
            record(10, 1),
            record(11, 1, kind="credit_note", remaining=-500),
            record(12, 2, kind="credit_note"),
        ],
        scan=1,
        now=NOW,
    )
    assert await claims.to_push(inst.id) == []  # no debtor in the collection account yet
    await customers.record(
        inst.id,
        [
            CustomerRecord(customer_number=n, customer_group=1, barred=False, fingerprint=f"c{n}")
            for n in (1, 2)
        ],
        now=NOW,
    )
    await customers.mark_pushed(inst.id, [(1, "c1", "d1"), (2, "c2", "d2")], now=NOW)
    # Customer 2 has only a credit note: it never leaves the ledger.
    assert [u.invoice_number for u in await claims.to_push(inst.id)] == [10, 11]
    await claims.mark_pushed(inst.id, [(10, "f10:101999", "k10"), (11, "f11:-500", "k11")], now=NOW)
    assert await claims.to_push(inst.id) == []
    await claims.record(inst.id, [record(10, 1, remaining=50000)], scan=2, now=NOW)
    again = await claims.to_push(inst.id)
    assert [(u.invoice_number, u.fingerprint) for u in again] == [(10, "f10:50000")]
    # A stale answer (fingerprint of the earlier content) marks nothing.
    await claims.mark_pushed(inst.id, [(10, "f10:101999", "k10")], now=NOW)
    assert len(await claims.to_push(inst.id)) == 1
    stored = await claims.get(inst.id, 10)
    assert stored is not None and stored.due_date == dt.date(2026, 10, 31)
    assert stored.customer_group == 1 and stored.customer_barred is False and stored.seen_scan == 2
    assert await claims.unseen(inst.id, scan=2) == []
    assert await claims.customers_with_claims(inst.id) == {1}


async def test_claim_state_changes_are_compare_and_set(db: Database) -> None:
    inst = await Installations(db).create(agreement_number=2, company_name="x", now=NOW)
    claims = Claims(db)
    await claims.record(inst.id, [record(20, 1)], scan=1, now=NOW)
    read = await claims.get(inst.id, 20)
    assert read is not None and read.state == "monitoring"
    assert await claims.change_state(read, state="held", held=True, now=NOW)
    assert not await claims.change_state(read, state="awaiting_approval", now=NOW)
    held = await claims.get(inst.id, 20)
    assert held is not None and held.state == "held" and held.held
    assert await claims.count_by_state(inst.id) == {"held": 1}
    assert await claims.unseen(inst.id, scan=2) == [20]


async def test_sync_state_keeps_checkpoints_and_successes(db: Database) -> None:
    inst = await Installations(db).create(agreement_number=3, company_name="x", now=NOW)
    state = SyncState(db)
    assert (await state.get(inst.id, "invoices")).checkpoint == {}
    await state.save(inst.id, "invoices", checkpoint={"phase": "customers", "after": 7}, now=NOW)
    await state.succeeded(inst.id, "invoices", complete=False, now=NOW)
    got = await state.get(inst.id, "invoices")
    assert got.checkpoint == {"phase": "customers", "after": 7}
    assert got.last_success_at == NOW and got.last_complete_scan_at is None
    later = NOW + dt.timedelta(hours=1)
    await state.succeeded(inst.id, "invoices", complete=True, now=later)
    await state.succeeded(inst.id, "invoices", complete=False, now=later + dt.timedelta(hours=1))
    got = await state.get(inst.id, "invoices")
    assert got.last_complete_scan_at == later
