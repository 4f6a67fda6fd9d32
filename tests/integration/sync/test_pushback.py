"""Push-back of collectors' payments into the ledger, against both simulators on both databases:
one draft voucher per payment in the app's journal (principal per invoice, interest and fees to
their income accounts), never twice (replays, crashes, retries after e-conomic forgot the key),
never for the creditor's own payments, and never echoed back as a creditor payment once booked.

The companies are seeded without invoices: the only claims are the invoices a test books, so a
case holds exactly the claims it names."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import msgspec
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from sandbox.collection import casework
from sandbox.economic.keys import IDEMPOTENCY
from sandbox.economic.state import Account
from sync import schedules
from sync.clients.economic_types import AccountingYear
from sync.collection_events import Allocation, PaymentReceived, payment_received
from sync.company_settings import Accounts
from sync.inbox_processing import sweep
from sync.jobs import Job
from sync.money import to_decimal
from sync.pushback import BOOKING_WINDOW, Pushback, payment_key
from sync.store.inbox import NewEntry, collection_key, insert_entry
from sync.store.outbox import Outbox, OutboxItem
from sync.vouchers import (
    CREDIT,
    RECEIVED,
    Booking,
    InvoiceRef,
    VoucherRefused,
    booking_on,
    carries,
    entry_text,
    payment_voucher,
    vat_part,
)
from tests.integration.sync.support import Company, a_customer, control, running_company
from tests.integration.test_api import collectbridge

TODAY = dt.date(2026, 11, 23)
JOURNAL, CONTRA = 3, 5830  # the seeded "Inkasso" journal and its bank account
ACCOUNTS = {"interest_income": 1310, "fee_income": 1320, "loss": 2750, "output_vat": 7200}
AUTOMATIC = {"mode": "automatic", "min_days_overdue": 10, "min_amount": 0, "notice_days": 0}
SETTINGS = {"policy": AUTOMATIC, "journal_number": JOURNAL, "accounts": ACCOUNTS}


# -- the simulators ---------------------------------------------------------------------------


async def book(
    company: Company, customer: int, *, due: dt.date, amount: str, currency: str = "DKK"
) -> int:
    """An invoice of one line with 25 % VAT booked in the ledger; its number."""
    document = await control(
        company,
        company.economic.url,
        "POST",
        "/_sandbox/invoices",
        {
            "agreement": company.agreement,
            "customer_number": customer,
            "currency": currency,
            "date": (due - dt.timedelta(days=14)).isoformat(),
            "due_date": due.isoformat(),
            "lines": [
                {
                    "description": "Konsulentbistand",
                    "quantity": 1,
                    "unit_price": Decimal(amount),
                    "vat_rate": 25,
                }
            ],
        },
    )
    return int(document["bookedInvoiceNumber"])


async def run(company: Company, job: Any) -> Job:
    job_id = await company.services.queue.enqueue(job, now=company.bridge.clock())
    await company.settle()
    return await company.job(job_id)


async def handed_over(company: Company, *invoices: int) -> str:
    """Bootstrap with the automatic policy: the invoices go to collection; their case id."""
    done = await run(company, schedules.bootstrap(company.installation.id, company.agreement))
    assert done.state == "succeeded", done.last_error
    stored = {c.invoice_number: c for c in await company.claims()}
    cases = {stored[n].case_id for n in invoices}
    assert len(cases) == 1 and None not in cases, stored
    assert all(stored[n].state == "in_collection" for n in invoices)
    return str(cases.pop())


@asynccontextmanager
async def one_case_auto_booked(database_url: str) -> AsyncIterator[tuple[Company, int, str]]:
    """A company that books its journal itself, with one invoice of 500.00 thirty days overdue
    handed over: the company, the invoice's number and its case id."""
    settings = {**SETTINGS, "auto_book": True}
    async with running_company(database_url, invoices=0, settings=settings) as company:
        customer = a_customer(company)
        number = await book(company, customer, due=TODAY - dt.timedelta(days=30), amount="500.00")
        yield company, number, await handed_over(company, number)


async def collector_receives(company: Company, case_id: str, amount: int) -> dict[str, Any]:
    """The debtor pays the collector; the ``payment.received`` event as the feed gives it."""
    paid = await control(
        company,
        company.collection.url,
        "POST",
        "/_sandbox/payments",
        {"case_id": case_id, "amount": amount},
    )
    _, _, collection = await company.parts()
    events = [e async for e in collection.events(after=0)]
    found = [
        msgspec.to_builtins(e)
        for e in events
        if e.type == "payment.received" and e.data["payment_id"] == paid["payment_id"]
    ]
    assert len(found) == 1
    event: dict[str, Any] = found[0]
    return event


def balances(company: Company, case_id: str) -> list[casework.cases.Balance]:
    """What the case owes per claim today, in the order the collector allocates."""
    case = company.collection.state.cases[case_id]
    casework.bring_interest(case, company.collection.state.clock.today())
    owed = [casework.balance(c) for c in casework.active(case)]
    return sorted(owed, key=lambda b: (b.due_on, b.claim_ref))


def pushback_job(company: Company, event: dict[str, Any]) -> Any:
    data = event["data"]
    return schedules.pushback_payment(
        company.installation.id, company.agreement, data["payment_id"], data["case_id"], event
    )


async def pushed(company: Company, event: dict[str, Any]) -> Job:
    """The payment's job run, and the journal's booking after its window (auto-booking)."""
    done = await run(company, pushback_job(company, event))
    assert done.state == "succeeded", done.last_error
    await booking_window_passes(company)
    return done


async def booking_window_passes(company: Company) -> None:
    """The seconds a booking waits for more vouchers to share it go by; what is due runs."""
    company.bridge.clock.now += BOOKING_WINDOW
    await company.settle()


def vouchers_of(company: Company, payment_id: str) -> list[dict[str, Any]]:
    """The vouchers in the ledger (drafts of the journal, and booked) that carry our reference."""
    every = [*company.ledger.journals[JOURNAL].drafts, *company.ledger.booked_vouchers]
    return [
        v
        for v in every
        if carries(
            [e.get("text", "") for kind in v["entries"].values() for e in kind], f"cb:{payment_id}"
        )
    ]


def minor(amount: Any) -> int:
    return int(Decimal(str(amount)) * 100)


async def outbox_row(company: Company, payment_id: str) -> OutboxItem:
    found = await Outbox(company.bridge.db).by_key(payment_key(company.agreement, payment_id))
    assert found is not None
    return found


# -- payments -----------------------------------------------------------------------------------


async def test_a_payment_over_two_invoices_is_one_voucher_split_as_the_domain_says(
    database_url: str,
) -> None:
    async with running_company(database_url, invoices=0, settings=SETTINGS) as company:
        customer = a_customer(company)
        older = await book(company, customer, due=TODAY - dt.timedelta(days=40), amount="800.00")
        newer = await book(company, customer, due=TODAY - dt.timedelta(days=20), amount="1200.00")
        case_id = await handed_over(company, older, newer)
        await company.advance(5)  # interest accrues
        first, second = balances(company, case_id)
        assert first.fees + second.fees > 0 and first.interest > 0  # fees: the case opener
        amount = first.fees + first.interest + first.principal + second.fees + second.interest
        amount += 5_000
        event = await collector_receives(company, case_id, amount)
        await pushed(company, event)

        payment_id = event["data"]["payment_id"]
        (voucher,) = vouchers_of(company, payment_id)
        payments = voucher["entries"]["customerPayments"]
        finance = voucher["entries"]["financeVouchers"]
        assert [(p["customerInvoice"], minor(p["amount"])) for p in payments] == [
            (older, RECEIVED * first.principal),
            (newer, RECEIVED * 5_000),
        ]
        assert all(p["customer"]["customerNumber"] == customer for p in payments)
        assert all(e["contraAccount"]["accountNumber"] == CONTRA for e in payments + finance)
        assert all(e["currency"]["code"] == "DKK" for e in payments + finance)
        assert all(e["date"] == (TODAY + dt.timedelta(days=5)).isoformat() for e in payments)
        by_account: dict[int, int] = {}
        for line in finance:
            assert "vatAccount" not in line and "vatCode" not in line
            account = line["account"]["accountNumber"]
            by_account[account] = by_account.get(account, 0) + minor(line["amount"])
        assert by_account == {
            1310: CREDIT * (first.interest + second.interest),
            1320: CREDIT * (first.fees + second.fees),
        }
        # The bank (the contra account) is debited with the whole amount.
        total = sum(minor(p["amount"]) for p in payments) - sum(minor(f["amount"]) for f in finance)
        assert total == amount
        assert all(len(e["text"]) <= 250 and case_id in e["text"] for e in payments + finance)
        assert str(older) in payments[0]["text"] and str(newer) in payments[1]["text"]
        row = await outbox_row(company, payment_id)
        assert row.state == "sent" and row.attempts == 1
        assert row.response["vouchers"][0]["voucherNumber"] == voucher["voucherNumber"]


async def test_a_partial_payment_books_what_the_collector_allocated(database_url: str) -> None:
    async with running_company(database_url, invoices=0, settings=SETTINGS) as company:
        customer = a_customer(company)
        number = await book(company, customer, due=TODAY - dt.timedelta(days=30), amount="999.99")
        case_id = await handed_over(company, number)
        (owed,) = balances(company, case_id)
        event = await collector_receives(company, case_id, owed.fees + owed.interest + 12_345)
        await pushed(company, event)
        (voucher,) = vouchers_of(company, event["data"]["payment_id"])
        (payment,) = voucher["entries"]["customerPayments"]
        assert (payment["customerInvoice"], minor(payment["amount"])) == (number, 12_345)
        # The claim is still open on the platform, and our claim still in collection.
        claims = {c.invoice_number: c for c in await company.claims()}
        assert claims[number].state == "in_collection"
        # Drafts do not move the remainder until the journal is booked.
        assert company.ledger.invoices[number].remainder == minor("1249.99")


async def test_a_payment_in_euro_is_booked_in_euro_without_fees(database_url: str) -> None:
    async with running_company(database_url, invoices=0, settings=SETTINGS) as company:
        customer = a_customer(company)  # a Danish customer, invoiced in euro
        number = await book(
            company, customer, due=TODAY - dt.timedelta(days=30), amount="400.00", currency="EUR"
        )
        case_id = await handed_over(company, number)
        (owed,) = balances(company, case_id)
        assert owed.fees == 0 and owed.interest > 0
        event = await collector_receives(company, case_id, owed.interest + 10_000)
        assert event["data"]["currency"] == "EUR"
        await pushed(company, event)
        (voucher,) = vouchers_of(company, event["data"]["payment_id"])
        (payment,) = voucher["entries"]["customerPayments"]
        (interest,) = voucher["entries"]["financeVouchers"]
        assert payment["currency"] == {"code": "EUR"} and interest["currency"] == {"code": "EUR"}
        assert minor(payment["amount"]) == 10_000
        assert (interest["account"]["accountNumber"], minor(interest["amount"])) == (
            1310,
            CREDIT * owed.interest,
        )


async def test_the_same_event_four_times_and_before_case_opened_is_one_voucher(
    database_url: str,
) -> None:
    async with running_company(database_url, invoices=0, settings=SETTINGS) as company:
        customer = a_customer(company)
        number = await book(company, customer, due=TODAY - dt.timedelta(days=30), amount="500.00")
        case_id = await handed_over(company, number)
        # Nothing has processed the events feed (case.opened included): the payment comes first.
        event = await collector_receives(company, case_id, 20_000)
        queue, now = company.services.queue, company.bridge.clock()
        twins = {await queue.enqueue(pushback_job(company, event), now=now) for _ in range(2)}
        assert len(twins) == 1, "a queued twin absorbs the same event"
        await company.settle()
        for _ in range(2):  # delivered again after the first run finished
            await pushed(company, event)
        await company.settle()
        assert len(vouchers_of(company, event["data"]["payment_id"])) == 1
        row = await outbox_row(company, event["data"]["payment_id"])
        assert row.state == "sent" and row.attempts == 1


async def test_a_crash_between_sending_and_storing_the_answer_resends_under_the_same_key(
    database_url: str,
) -> None:
    async with running_company(database_url, invoices=0, settings=SETTINGS) as company:
        customer = a_customer(company)
        number = await book(company, customer, due=TODAY - dt.timedelta(days=30), amount="500.00")
        case_id = await handed_over(company, number)
        event = await collector_receives(company, case_id, 30_000)
        payment_id = event["data"]["payment_id"]
        # The send step of a run that dies before it stores the answer.
        engine, economic, _ = await company.parts()
        pushback = await Pushback.for_job(engine, economic)
        item = await pushback.open_payment(payment_received(event), event)
        assert await pushback.outbox.attempt(item.id, now=company.bridge.clock())
        send = pushback.poster(item)  # the send step alone
        await send(item.sending_key)
        assert len(vouchers_of(company, payment_id)) == 1
        assert (await outbox_row(company, payment_id)).state == "pending"
        # A fresh run: the same key, replayed by e-conomic; still one voucher.
        await pushed(company, event)
        assert len(vouchers_of(company, payment_id)) == 1
        row = await outbox_row(company, payment_id)
        assert row.state == "sent" and row.attempts == 2
        assert row.response["replayed"] is True


async def test_after_an_hour_the_journal_is_read_back_before_posting_again(
    database_url: str,
) -> None:
    async with running_company(database_url, invoices=0, settings=SETTINGS) as company:
        customer = a_customer(company)
        number = await book(company, customer, due=TODAY - dt.timedelta(days=30), amount="500.00")
        case_id = await handed_over(company, number)
        landed = await collector_receives(company, case_id, 10_000)
        lost = await collector_receives(company, case_id, 11_000)
        engine, economic, _ = await company.parts()
        pushback = await Pushback.for_job(engine, economic)
        # The first one reached e-conomic, its answer did not reach us; the second never left.
        for event, sends in ((landed, True), (lost, False)):
            item = await pushback.open_payment(payment_received(event), event)
            assert await pushback.outbox.attempt(item.id, now=company.bridge.clock())
            if sends:
                await pushback.poster(item)(item.sending_key)
        # Two hours later e-conomic has forgotten the key.
        company.bridge.clock.now += dt.timedelta(hours=2)
        company.economic.app[IDEMPOTENCY]._items.clear()  # its hour is over
        for event in (landed, lost):
            await pushed(company, event)
            payment_id = event["data"]["payment_id"]
            assert len(vouchers_of(company, payment_id)) == 1
        assert (await outbox_row(company, landed["data"]["payment_id"])).response[
            "found_on_read_back"
        ] is True
        assert (
            "found_on_read_back"
            not in (await outbox_row(company, lost["data"]["payment_id"])).response
        )


async def test_booking_waits_for_a_voucher_in_flight_and_nothing_is_echoed(
    database_url: str,
) -> None:
    async with one_case_auto_booked(database_url) as (company, number, case_id):
        (owed,) = balances(company, case_id)
        orphan = await collector_receives(company, case_id, owed.fees + owed.interest + 4_000)
        other = await collector_receives(company, case_id, 6_000)
        # The orphan's run reached e-conomic and died before it stored the answer.
        engine, economic, _ = await company.parts()
        pushback = await Pushback.for_job(engine, economic)
        item = await pushback.open_payment(payment_received(orphan), orphan)
        assert await pushback.outbox.attempt(item.id, now=company.bridge.clock())
        await pushback.poster(item)(item.sending_key)
        # The other is posted, but its booking waits: booking would book the orphan unseen.
        waiting = await run(company, pushback_job(company, other))
        assert (waiting.state, waiting.error_code) == ("failed", "booking_deferred")
        assert len(company.ledger.journals[JOURNAL].drafts) == 2
        # The orphan's job answers it (a replay), then books both; the reconciliation sees
        # only our own money.
        await pushed(company, orphan)
        assert company.ledger.journals[JOURNAL].drafts == []
        assert company.ledger.invoices[number].remainder == minor("625.00") - 10_000
        company.bridge.clock.now += dt.timedelta(hours=1)
        await company.settle()
        assert (await company.job(waiting.id)).state == "succeeded"
        for event in (orphan, other):
            assert len(vouchers_of(company, event["data"]["payment_id"])) == 1
        assert [k for k in company.collection.state.payments if k[0] == company.account_id] == []
        claims = {c.invoice_number: c for c in await company.claims()}
        assert claims[number].remaining == minor("625.00") - 10_000


async def test_a_creditor_payment_is_never_posted(database_url: str) -> None:
    async with running_company(database_url, invoices=0, settings=SETTINGS) as company:
        customer = a_customer(company)
        number = await book(company, customer, due=TODAY - dt.timedelta(days=30), amount="500.00")
        case_id = await handed_over(company, number)
        event = await collector_receives(company, case_id, 10_000)
        data = {**event["data"], "payment_id": "pay_creditor_1", "source": "creditor"}
        await pushed(company, {**event, "data": data})
        assert vouchers_of(company, "pay_creditor_1") == []
        assert await Outbox(company.bridge.db).list(installation_id=company.installation.id) == []


async def test_booked_by_the_app_the_drop_is_not_echoed_as_a_creditor_payment(
    database_url: str,
) -> None:
    async with one_case_auto_booked(database_url) as (company, number, case_id):
        (owed,) = balances(company, case_id)
        event = await collector_receives(company, case_id, owed.fees + owed.interest + 20_000)
        await pushed(company, event)  # posts, books, and reconciles the invoice
        payment_id = event["data"]["payment_id"]
        assert company.ledger.journals[JOURNAL].drafts == []
        assert len(vouchers_of(company, payment_id)) == 1
        assert company.ledger.invoices[number].remainder == minor("625.00") - 20_000
        reported = [
            key for key in company.collection.state.payments if key[0] == company.account_id
        ]
        assert reported == [], "our own voucher's drop is never reported as a creditor payment"
        claims = {c.invoice_number: c for c in await company.claims()}
        assert claims[number].remaining == minor("625.00") - 20_000
        # Reconciled again (a day-book hint, a scan): still nothing to report.
        done = await run(
            company, schedules.reconcile(company.installation.id, company.agreement, number)
        )
        assert done.state == "succeeded", done.last_error
        assert [k for k in company.collection.state.payments if k[0] == company.account_id] == []
        # Money the creditor then receives directly is reported, exactly that much.
        await control(
            company,
            company.economic.url,
            "POST",
            f"/_sandbox/invoices/{number}/payments",
            {"agreement": company.agreement, "amount": to_decimal(3_000, "DKK")},
        )
        done = await run(
            company, schedules.reconcile(company.installation.id, company.agreement, number)
        )
        assert done.state == "succeeded", done.last_error
        records = [
            v["record"]
            for k, v in company.collection.state.payments.items()
            if k[0] == company.account_id
        ]
        assert [r["amount"] for r in records] == [3_000]


async def test_booked_by_the_bookkeeper_the_drop_is_not_echoed_either(database_url: str) -> None:
    async with running_company(database_url, invoices=0, settings=SETTINGS) as company:
        customer = a_customer(company)
        number = await book(company, customer, due=TODAY - dt.timedelta(days=30), amount="500.00")
        case_id = await handed_over(company, number)
        (owed,) = balances(company, case_id)
        event = await collector_receives(company, case_id, owed.fees + owed.interest + 7_000)
        await pushed(company, event)
        # The bookkeeper books the app's journal in e-conomic.
        _, economic, _ = await company.parts()
        await economic.book_journal(JOURNAL, idempotency_key="bookkeeper:1")
        assert company.ledger.invoices[number].remainder == minor("625.00") - 7_000
        done = await run(
            company, schedules.reconcile(company.installation.id, company.agreement, number)
        )
        assert done.state == "succeeded", done.last_error
        assert [k for k in company.collection.state.payments if k[0] == company.account_id] == []
        claims = {c.invoice_number: c for c in await company.claims()}
        assert claims[number].remaining == minor("625.00") - 7_000


# -- the mapping, pure --------------------------------------------------------------------------


def _year(name: str, start: str, end: str, *, closed: bool = False) -> AccountingYear:
    return AccountingYear(
        year=name,
        from_date=dt.date.fromisoformat(start),
        to_date=dt.date.fromisoformat(end),
        closed=closed,
    )


YEARS = [
    _year("2025", "2025-01-01", "2025-12-31", closed=True),
    _year("2026", "2026-01-01", "2026-12-31"),
]


def test_a_payment_dated_in_a_closed_year_is_booked_on_the_first_open_day() -> None:
    assert booking_on(dt.date(2026, 3, 4), YEARS) == Booking(day=dt.date(2026, 3, 4), year="2026")
    moved = booking_on(dt.date(2025, 12, 30), YEARS)
    assert moved == Booking(day=dt.date(2026, 1, 1), year="2026", moved_from=dt.date(2025, 12, 30))
    assert booking_on(dt.date(2024, 5, 1), YEARS).day == dt.date(2026, 1, 1)
    payment = PaymentReceived(
        payment_id="pay_1",
        case_id="case_1",
        paid_on=dt.date(2025, 12, 30),
        currency="DKK",
        amount=1000,
        source="collector",
        allocations=(Allocation(claim_ref="7", principal=1000),),
    )
    voucher = payment_voucher(
        payment,
        invoices={"7": InvoiceRef(invoice_number=7, customer_number=3)},
        contra=CONTRA,
        accounts=Accounts(**ACCOUNTS),
        booking=moved,
    )
    assert voucher.accounting_year == "2026"
    assert "betalt 2025-12-30" in voucher.customer_payments[0].text


def test_a_date_no_open_year_holds_is_refused_with_what_to_do() -> None:
    for day, code in (
        (dt.date(2027, 2, 1), "accounting_year_missing"),
        (dt.date(2025, 6, 1), None),
    ):
        if code is None:
            assert booking_on(day, YEARS).year == "2026"
            continue
        try:
            booking_on(day, YEARS)
        except VoucherRefused as exc:
            assert exc.code == code and "e-conomic" in exc.message
        else:
            raise AssertionError("refused")
    only_closed = [_year("2026", "2026-01-01", "2026-12-31", closed=True)]
    try:
        booking_on(dt.date(2026, 5, 1), only_closed)
    except VoucherRefused as exc:
        assert exc.code == "accounting_year_closed"
    else:
        raise AssertionError("refused")


def test_missing_income_accounts_refuse_the_voucher() -> None:
    payment = PaymentReceived(
        payment_id="pay_2",
        case_id="case_2",
        paid_on=dt.date(2026, 3, 1),
        currency="DKK",
        amount=1500,
        source="collector",
        allocations=(Allocation(claim_ref="7", principal=1000, interest=300, fees=200),),
    )
    try:
        payment_voucher(
            payment,
            invoices={"7": InvoiceRef(invoice_number=7, customer_number=3)},
            contra=CONTRA,
            accounts=Accounts(),
            booking=booking_on(payment.paid_on, YEARS),
        )
    except VoucherRefused as exc:
        assert exc.code == "accounts_missing"
        assert "interest income" in exc.message and "fee income" in exc.message
    else:
        raise AssertionError("refused")


def test_texts_keep_the_reference_within_250_characters() -> None:
    text = entry_text("Indbetaling " + "x" * 400, "cb:pay_123")
    assert len(text) == 250 and text.endswith(" [cb:pay_123]")
    assert carries([text], "cb:pay_123") and not carries([text], "cb:pay_12")


def test_the_vat_share_of_a_write_off_rounds_half_even() -> None:
    assert vat_part(125_00, 25_00, 125_00) == 25_00
    assert vat_part(1, 25, 125) == 0
    assert vat_part(10, 25, 100) == 2  # 2.5 → 2
    assert vat_part(30, 25, 100) == 8  # 7.5 → 8
    assert vat_part(500, 0, 500) == 0


# -- case outcomes ------------------------------------------------------------------------------


async def case_event(company: Company, kind: str, case_id: str) -> dict[str, Any]:
    _, _, collection = await company.parts()
    found = [
        msgspec.to_builtins(e)
        async for e in collection.events(after=0)
        if e.type == kind and e.data.get("case_id") == case_id
    ]
    assert len(found) == 1, found
    event: dict[str, Any] = found[0]
    return event


async def arrives(company: Company, event: dict[str, Any]) -> str:
    """``event`` stored in the inbox as a delivery would store it, and processed as the worker
    processes it (`sync.inbox_processing`); the case's closing reason."""
    now = company.bridge.clock()
    entry = NewEntry(
        source="collection",
        installation_id=company.installation.id,
        dedupe_key=collection_key(company.installation.id, event["id"]),
        topic=event["type"],
        body=msgspec.json.encode(event),
    )
    async with company.bridge.db.transaction() as tx:
        assert await insert_entry(tx, entry, now=now) is not None
    await sweep(company.bridge.db, company.services.queue, now=now)
    await company.settle()
    return str(event["data"]["reason"])


async def api(
    company: Company, method: str, path: str, token: str, *, shape: str | None = None
) -> tuple[int, Any]:
    """A call to ``/api/v1/installations/{agreement}/…``; ``shape``: the schema of
    ``openapi.json`` a 2xx answer must match."""
    url = f"{company.bridge.url}/api/v1/installations/{company.agreement}/{path}"
    headers = {"Authorization": f"Bearer {token}"}
    async with company.services.http.request(method, url, headers=headers) as r:
        status, body = r.status, await r.json()
    if shape is not None and status < 300:
        async with company.services.http.get(f"{company.bridge.url}/api/v1/openapi.json") as r:
            document = await r.json()
        registry: Registry = Registry().with_resource(
            "urn:api", Resource.from_contents(document, default_specification=DRAFT202012)
        )
        ref = {"$ref": f"urn:api#/components/schemas/{shape}"}
        Draft202012Validator(ref, registry=registry).validate(body)
    return status, body


async def test_a_paid_case_closes_its_claims(database_url: str) -> None:
    async with running_company(database_url, invoices=0, settings=SETTINGS) as company:
        customer = a_customer(company)
        number = await book(company, customer, due=TODAY - dt.timedelta(days=30), amount="100.00")
        case_id = await handed_over(company, number)
        (owed,) = balances(company, case_id)
        await collector_receives(company, case_id, owed.fees + owed.interest + owed.principal)
        closed = await case_event(company, "case.closed", case_id)
        assert await arrives(company, closed) == "paid"
        claims = {c.invoice_number: c for c in await company.claims()}
        assert claims[number].state == "closed"
        await company.settle()
        assert await Outbox(company.bridge.db).list(installation_id=company.installation.id) == []


async def test_a_write_off_waits_for_approval_and_books_net_and_vat(database_url: str) -> None:
    settings = {**SETTINGS, "barred_on_close": True}
    async with running_company(database_url, invoices=0, settings=settings) as company:
        customer = a_customer(company)
        number = await book(company, customer, due=TODAY - dt.timedelta(days=30), amount="800.00")
        case_id = await handed_over(company, number)
        await collector_receives(company, case_id, 25_000)  # part paid, the rest written off
        await control(
            company, company.collection.url, "POST", f"/_sandbox/cases/{case_id}/write-off"
        )
        event = await case_event(company, "case.closed", case_id)
        (part,) = event["data"]["write_offs"]
        fields_before = dataclasses.asdict(company.ledger.customers[customer])
        assert await arrives(company, event) == "written_off"
        await company.settle()
        # Proposed, not booked: nothing in the journal yet.
        assert vouchers_of(company, f"writeoff:{case_id}") == []
        admin = await company.bridge.person("admin@example.com", [(company.installation, "admin")])
        guest = await company.bridge.person("guest@example.com", [(company.installation, "guest")])
        status, listed = await api(company, "GET", "write-offs", guest, shape="WriteOffList")
        assert status == 200, listed
        (proposal,) = listed["items"]
        principal = part["principal"]
        vat = vat_part(principal, minor("200.00"), minor("1000.00"))
        assert (proposal["case_id"], proposal["state"], proposal["principal"]) == (
            case_id,
            "pending",
            principal,
        )
        assert (proposal["net"], proposal["vat"], proposal["outbox_state"]) == (
            principal - vat,
            vat,
            None,
        )
        status, body = await api(company, "POST", f"write-offs/{proposal['id']}/approve", guest)
        assert status == 403, body
        for _ in range(2):  # approved twice: one voucher
            path = f"write-offs/{proposal['id']}/approve"
            status, body = await api(company, "POST", path, admin, shape="WriteOffApproved")
            assert status == 202, body
            await company.settle()
        (voucher,) = vouchers_of(company, f"writeoff:{case_id}")
        lines = [
            (p["customerInvoice"], p["contraAccount"]["accountNumber"], minor(p["amount"]))
            for p in voucher["entries"]["customerPayments"]
        ]
        assert lines == [(number, 2750, principal - vat), (number, 7200, vat)]
        status, listed = await api(company, "GET", "write-offs?state=approved", guest)
        assert [(w["state"], w["outbox_state"]) for w in listed["items"]] == [("approved", "sent")]
        # The customer is barred (GET, change, PUT the whole document): every other field kept.
        fields_after = dataclasses.asdict(company.ledger.customers[customer])
        assert (fields_before.pop("barred"), fields_after.pop("barred")) == (False, True)
        fields_before.pop("last_updated"), fields_after.pop("last_updated")
        assert fields_after == fields_before
        writes = await Outbox(company.bridge.db).list(installation_id=company.installation.id)
        (barred,) = [w for w in writes if w.operation == "customer.barred"]
        assert barred.state == "sent"
        assert barred.response == {"customerNumber": customer, "barred": True}


# -- outbox operations --------------------------------------------------------------------------


async def test_a_refused_voucher_is_dead_in_the_outbox_until_retried_by_cli_or_api(
    database_url: str,
) -> None:
    # Interest to an account the ledger does not have (yet): e-conomic refuses the voucher.
    settings = {**SETTINGS, "accounts": {**ACCOUNTS, "interest_income": 1390}}
    async with running_company(database_url, invoices=0, settings=settings) as company:
        customer = a_customer(company)
        number = await book(company, customer, due=TODAY - dt.timedelta(days=30), amount="500.00")
        case_id = await handed_over(company, number)
        events = []
        for _ in range(2):  # each with interest accrued since the one before
            await company.advance(3)
            events.append(await collector_receives(company, case_id, 20_000))
        for event in events:
            done = await run(company, pushback_job(company, event))
            assert done.state == "dead"
        admin = await company.bridge.person("admin@example.com", [(company.installation, "admin")])
        guest = await company.bridge.person("guest@example.com", [(company.installation, "guest")])
        status, listed = await api(company, "GET", "outbox?state=dead", guest, shape="OutboxList")
        assert status == 200, listed
        dead = listed["items"]
        assert [(i["operation"], i["attempts"]) for i in dead] == [("voucher.payment", 1)] * 2
        assert "1390" in dead[0]["last_error"] or "Unknown account" in dead[0]["last_error"]
        # Retried before the cause is fixed, it is refused again (a new key: no cached refusal).
        status, body = await api(
            company, "POST", f"outbox/{dead[0]['id']}/retry", admin, shape="OutboxRetried"
        )
        assert status == 202 and body["item"]["state"] == "pending", body
        await company.settle()
        still = await Outbox(company.bridge.db).get(dead[0]["id"])
        assert still is not None and still.state == "dead" and still.generation == 1
        # The bookkeeper creates the account; the admin retries one through the API ...
        company.ledger.accounts[1390] = Account(1390, "Renter, inkasso", "profitAndLoss", "credit")
        status, body = await api(company, "POST", f"outbox/{dead[0]['id']}/retry", guest)
        assert status == 403, body
        status, body = await api(company, "POST", f"outbox/{dead[0]['id']}/retry", admin)
        assert status == 202, body
        await company.settle()
        # ... and the other through the CLI.
        url = company.bridge.database_url
        listing = collectbridge(url, "outbox", "list", "--state", "dead")
        assert listing.returncode == 0, listing.stderr
        rows = [line.split() for line in listing.stdout.splitlines()[1:]]
        assert [(int(r[0]), r[1], r[2], int(r[3])) for r in rows] == [
            (dead[1]["id"], "dead", "voucher.payment", company.agreement)
        ]
        retried = collectbridge(url, "outbox", "retry", str(dead[1]["id"]))
        assert retried.returncode == 0, retried.stderr
        # The CLI queues the job at the wall clock's now; the app's clock catches up with it.
        wall = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
        company.bridge.clock.now = max(company.bridge.clock.now, wall)
        await company.settle()
        for event in events:
            assert len(vouchers_of(company, event["data"]["payment_id"])) == 1
        status, listed = await api(company, "GET", "outbox?state=sent", guest)
        assert [i["id"] for i in listed["items"]] == [i["id"] for i in dead]
        again = collectbridge(url, "outbox", "retry", str(dead[0]["id"]))
        assert again.returncode == 1 and "not failed or dead" in again.stdout
        status, body = await api(company, "POST", f"outbox/{dead[0]['id']}/retry", admin)
        assert status == 409 and body["code"] == "invalid_state", body
        status, body = await api(company, "POST", "outbox/99999/retry", admin)
        assert status == 404, body
