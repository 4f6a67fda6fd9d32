"""Push-back's writes grouped into fewer commits (issue 12's benchmark), on both databases: a new
voucher row is stored with its first attempt marked in one commit before the call; its answer,
the voucher's number and the journal's booking are one commit after it; the re-read hands the
records it read to the reconciliation once. The invariants stay: a run that dies between the
call and the stored answer leaves the row in flight, and its retry sends the same key (one
voucher)."""

from __future__ import annotations

from typing import Any

import pytest

from sync.clients.economic_types import NewVoucher, Posted
from sync.own_payments import OutboxOwnPayments
from sync.pushback import Pushback
from sync.store.outbox import Outbox, OwnPaymentRecord
from tests.integration.sync.support import running_company
from tests.integration.sync.test_pushback import (
    JOURNAL,
    SETTINGS,
    collector_receives,
    one_case_auto_booked,
    outbox_row,
    pushed,
    vouchers_of,
)


class AnswerLost(Exception):
    """The voucher reached e-conomic; its answer did not reach us."""


class LosesTheAnswer:
    """The e-conomic client, except that the answer to a posted voucher is lost."""

    def __init__(self, economic: Any) -> None:
        self.economic = economic

    async def post_voucher_once(
        self, journal_number: int, voucher: NewVoucher, *, idempotency_key: str
    ) -> Posted:
        await self.economic.post_voucher_once(
            journal_number, voucher, idempotency_key=idempotency_key
        )
        raise AnswerLost

    def __getattr__(self, name: str) -> Any:
        return getattr(self.economic, name)


async def test_a_first_run_that_loses_the_answer_leaves_the_row_in_flight_and_the_retry_replays(
    database_url: str,
) -> None:
    async with one_case_auto_booked(database_url) as (company, number, case_id):
        event = await collector_receives(company, case_id, 30_000)
        payment_id = event["data"]["payment_id"]
        engine, economic, _ = await company.parts()
        pushback = await Pushback.for_job(engine, LosesTheAnswer(economic))
        with pytest.raises(AnswerLost):
            await pushback.payment(event)
        # Stored with its attempt before the call: in flight, its drop with it.
        row = await outbox_row(company, payment_id)
        assert (row.state, row.attempts) == ("failed", 1)
        assert row.first_attempt_at is not None
        (own,) = await Outbox(company.bridge.db).own_payments(company.installation.id, number)
        assert own.in_flight and own.voucher_number is None
        assert len(vouchers_of(company, payment_id)) == 1
        # The job's retry: the same key, replayed; one voucher, booked after it.
        await pushed(company, event)
        row = await outbox_row(company, payment_id)
        assert (row.state, row.attempts) == ("sent", 2)
        assert row.response["replayed"] is True
        assert len(vouchers_of(company, payment_id)) == 1
        assert company.ledger.journals[JOURNAL].drafts == []


async def test_the_answer_its_voucher_and_the_booking_are_stored_together(
    database_url: str,
) -> None:
    async with one_case_auto_booked(database_url) as (company, number, case_id):
        event = await collector_receives(company, case_id, 30_000)
        engine, economic, _ = await company.parts()
        pushback = await Pushback.for_job(engine, economic)
        assert await pushback.payment(event) == "posted"
        row = await outbox_row(company, event["data"]["payment_id"])
        assert (row.state, row.attempts) == ("sent", 1)
        (own,) = await Outbox(company.bridge.db).own_payments(company.installation.id, number)
        (voucher,) = row.response["vouchers"]
        assert (own.accounting_year, own.voucher_number) == (
            str(voucher["accountingYear"]),
            voucher["voucherNumber"],
        )
        queued = await company.services.queue.list(
            state="queued", installation_id=company.installation.id
        )
        assert [j.kind for j in queued if j.kind == "pushback.book"] == ["pushback.book"]
        # Run again (a redelivery): nothing is sent, the booking is not queued twice.
        assert await pushback.payment(event) == "posted"
        queued = await company.services.queue.list(
            state="queued", installation_id=company.installation.id
        )
        assert [j.kind for j in queued if j.kind == "pushback.book"] == ["pushback.book"]
        assert len(vouchers_of(company, event["data"]["payment_id"])) == 1


async def test_records_handed_over_by_the_reread_are_taken_once(database_url: str) -> None:
    async with running_company(database_url, invoices=0, settings=SETTINGS) as company:
        inst = company.installation.id
        own = OutboxOwnPayments(company.bridge.db, None, clock=company.bridge.clock)
        handed = OwnPaymentRecord(
            outbox_id=10**9,
            installation_id=inst,
            invoice_number=4711,
            amount=1_234,
            journal_number=JOURNAL,
            booked_at=company.bridge.clock(),
        )
        own.already_read(inst, 4711, [handed])
        assert await own.booked_since(inst, 4711, since=50_000) == 1_234
        assert await own.booked_since(inst, 4711, since=50_000) == 0  # read from the store
        own.already_read(inst, 4711, [handed])
        own.forget_read()
        assert await own.booked_since(inst, 4711, since=50_000) == 0
