"""Collection events into effects, against both simulators on both databases: a case's life by
webhook (claims, timeline, push-back queued), every event taking effect once whether it came by
webhook, by feed or four times, out-of-order delivery, a dropped delivery filled from the feed,
a bug's dead letter listed by the API and the CLI and replayed, and a grant the owner revoked.

The simulator delivers to our real receiver (`subscribe`), which stores each event ``new``; the
worker's sweep (at its start and in every ``sync.events``) queues the processing of stored events
(`process` runs the sweep, then the worker in burst). The companies are seeded without
invoices, so a case holds exactly the claims a test books.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
import time
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec
import pytest

from plugin.jobkinds import ensure_schedules
from plugin.keys import SERVICES
from plugin.metrics import Metrics
from sandbox.collection import casework
from sandbox.collection.signing import delivery_headers, new_secret
from sync import events as ev
from sync import schedules
from sync.clients.collection_tokens import AUTH_LOST
from sync.inbox_processing import EventProcessor, sweep
from sync.jobs import Job, JobQueue
from sync.store.claims import Claims
from sync.store.db import Database, open_database
from sync.store.inbox import Inbox, InboxEntry, NewEntry, Timeline, collection_key, insert_entry
from sync.store.installations import Installations
from sync.store.migrate import migrate
from sync.store.problems import Problems
from sync.store.sync_state import SyncState
from sync.store.webhook_secrets import WebhookSecrets
from tests.fixtures.conditions import eventually
from tests.integration.sync.support import Company, a_customer, control, running_company
from tests.integration.test_api import NOW, run_bridge
from tests.integration.test_cli import cli_env
from webhooks.inbox import InboxWriter

TODAY = dt.date(2026, 11, 23)
JOURNAL = 3  # the seeded "Inkasso" journal
ACCOUNTS = {"interest_income": 1310, "fee_income": 1320, "loss": 2750, "output_vat": 7200}
AUTOMATIC = {"mode": "automatic", "min_days_overdue": 10, "min_amount": 0, "notice_days": 0}
SETTINGS = {"policy": AUTOMATIC, "journal_number": JOURNAL, "accounts": ACCOUNTS}


# -- the simulators and our receiver ------------------------------------------------------------


async def book(company: Company, customer: int, *, amount: str = "500.00") -> int:
    document = await control(
        company,
        company.economic.url,
        "POST",
        "/_sandbox/invoices",
        {
            "agreement": company.agreement,
            "customer_number": customer,
            "currency": "DKK",
            "date": (TODAY - dt.timedelta(days=44)).isoformat(),
            "due_date": (TODAY - dt.timedelta(days=30)).isoformat(),
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


def receiver_url(company: Company) -> str:
    return f"{company.bridge.url}/webhooks/collection/{company.installation.installation_key}"


async def subscribe(company: Company) -> str:
    """Our webhook endpoint on the platform, its signing secret stored as onboarding does."""
    _, _, collection = await company.parts()
    endpoint = await collection.create_webhook_endpoint(
        receiver_url(company), idempotency_key=f"endpoint:{company.agreement}"
    )
    assert endpoint.secret is not None
    await store_secret(company, endpoint.secret)
    return endpoint.secret


async def store_secret(company: Company, secret: str) -> None:
    cipher = company.services.cipher
    assert cipher is not None
    await WebhookSecrets(company.bridge.db, cipher).save_collection_signing_secret(
        company.installation.id, secret, now=company.bridge.clock()
    )


async def deliver(company: Company, secret: str, event: Any) -> int:
    """One delivery of a simulator's event to our receiver, signed as the platform signs."""
    body = msgspec.json.encode(event.body())
    headers = delivery_headers([secret], event.id, int(time.time()), body)
    async with company.services.http.post(receiver_url(company), data=body, headers=headers) as r:
        return r.status


def platform_events(company: Company, kind: str | None = None) -> list[Any]:
    log = company.collection.state.events.get(company.account_id, [])
    return [e for e in log if kind is None or e.type == kind]


async def delivered(company: Company, events: list[Any]) -> None:
    """Until every one of ``events`` got a 2xx from our receiver (or was dropped)."""
    wanted = {e.id for e in events}

    def done() -> set[str]:
        return {
            d["event_id"]
            for d in company.collection.state.deliveries
            if d["dropped"] or (d["status"] is not None and 200 <= d["status"] < 300)
        }

    await eventually(
        lambda: wanted <= done(), within=10, step=0.02, explain=lambda: f"{wanted - done()}"
    )


async def process(company: Company) -> None:
    """What the worker does with stored events: its sweep queues their jobs, then it runs."""
    await sweep(company.bridge.db, company.services.queue, now=company.bridge.clock())
    await company.settle()


async def run(company: Company, job: Any) -> Job:
    job_id = await company.services.queue.enqueue(job, now=company.bridge.clock())
    await company.settle()
    return await company.job(job_id)


async def handed_over(company: Company, number: int) -> str:
    """Bootstrap with the automatic policy: the invoice goes to collection; its case id."""
    done = await run(company, schedules.bootstrap(company.installation.id, company.agreement))
    assert done.state == "succeeded", done.last_error
    claim = await Claims(company.bridge.db).get(company.installation.id, number)
    assert claim is not None and claim.state == "in_collection" and claim.case_id
    return claim.case_id


def owed(company: Company, case_id: str) -> int:
    case = company.collection.state.cases[case_id]
    casework.bring_interest(case, company.collection.state.clock.today())
    return sum(casework.cases_total(casework.balance(c)) for c in casework.active(case))


async def pays(company: Company, case_id: str, amount: int) -> Any:
    """The debtor pays the collector; the ``payment.received`` event on the platform."""
    paid = await control(
        company,
        company.collection.url,
        "POST",
        "/_sandbox/payments",
        {"case_id": case_id, "amount": amount},
    )
    (event,) = [
        e
        for e in platform_events(company, "payment.received")
        if e.data["payment_id"] == paid["payment_id"]
    ]
    return event


async def jobs_of(company: Company, kind: str) -> list[Job]:
    found = await JobQueue(company.bridge.db).list(
        installation_id=company.installation.id, limit=10_000
    )
    return [j for j in found if j.kind == kind]


async def entry_of(company: Company, event_id: str) -> InboxEntry | None:
    rows = await Inbox(company.bridge.db).list(
        installation_id=company.installation.id, limit=10_000
    )
    found = [r for r in rows if r.dedupe_key == collection_key(company.installation.id, event_id)]
    assert len(found) <= 1
    return found[0] if found else None


async def cursor(company: Company) -> tuple[int, list[int]]:
    state = await SyncState(company.bridge.db).get(company.installation.id, "events")
    return int(state.cursor or 0), list(state.checkpoint.get("seen", []))


# -- a case's life ------------------------------------------------------------------------------


async def test_a_case_by_webhook_reaches_the_claim_its_timeline_and_push_back(
    database_url: str,
) -> None:
    async with running_company(database_url, invoices=0, settings=SETTINGS) as company:
        db, inst = company.bridge.db, company.installation.id
        await subscribe(company)
        number = await book(company, a_customer(company))
        case_id = await handed_over(company, number)
        (opened,) = platform_events(company, "case.opened")
        await delivered(company, platform_events(company))
        # Each delivery queued its processing with its row; the sweep finds nothing left over.
        await process(company)
        claim = await Claims(db).get(inst, number)
        assert claim is not None and (claim.state, claim.case_id) == ("in_collection", case_id)
        entry = await entry_of(company, opened.id)
        assert entry is not None and entry.state == "processed"
        assert entry.headers["webhook-id"] == opened.id  # came by webhook, as signed
        kinds = [t.kind for t in await Timeline(db).of_invoice(inst, number)]
        assert kinds[:2] == ["case_opened", "letter_sent"]

        await company.advance(10)  # the next reminder
        await delivered(company, platform_events(company))
        await process(company)
        timeline = await Timeline(db).of_invoice(inst, number)
        steps = [t.detail for t in timeline if t.kind == "step_changed"]
        assert steps == [{"from_step": "reminder_1", "to_step": "reminder_2"}]

        payment = await pays(company, case_id, owed(company, case_id))  # paid in full
        await delivered(company, platform_events(company))
        await process(company)
        claim = await Claims(db).get(inst, number)
        assert claim is not None and claim.state == "closed"
        pushed = await jobs_of(company, "pushback.payment")
        assert [j.dedupe_key for j in pushed] == [
            f"payment:{company.agreement}:{payment.data['payment_id']}"
        ]
        assert pushed[0].payload["event"]["id"] == payment.id
        assert pushed[0].serial_key == f"case:{company.agreement}:{case_id}"
        kinds = [t.kind for t in await Timeline(db).of_invoice(inst, number)]
        assert kinds[-2:] == ["payment_received", "case_closed"]
        # Every sequence seen, none missing (the feed's 5-minute safety net, due as the days
        # passed, found nothing more).
        assert await cursor(company) == (platform_events(company)[-1].sequence, [])


async def test_an_event_by_webhook_and_feed_and_four_times_takes_effect_once(
    database_url: str,
) -> None:
    async with running_company(database_url, invoices=0, settings=SETTINGS) as company:
        secret = await subscribe(company)
        number = await book(company, a_customer(company), amount="900.00")
        case_id = await handed_over(company, number)
        payment = await pays(company, case_id, 10_000)  # a part
        await delivered(company, platform_events(company))  # 1: the platform's delivery
        assert await deliver(company, secret, payment) == 204  # 2: its retry, say
        await process(company)
        assert await deliver(company, secret, payment) == 204  # 3: after it was processed
        feed = await run(company, schedules.events(company.installation.id, company.agreement))
        assert feed.state == "succeeded", feed.last_error  # 4: the feed has it too
        await process(company)
        key = f"payment:{company.agreement}:{payment.data['payment_id']}"
        assert [j.dedupe_key for j in await jobs_of(company, "pushback.payment")] == [key]
        entry = await entry_of(company, payment.id)
        assert entry is not None and entry.state == "processed"
        # The feed's copies of the events stored before added nothing, and queued nothing.
        assert len(await jobs_of(company, "inbox.event")) == len(platform_events(company))
        # The feed chained its next run five minutes on.
        (chained,) = [j for j in await jobs_of(company, "sync.events") if j.state == "queued"]
        assert chained.run_at == company.bridge.clock() + dt.timedelta(minutes=5)


async def test_out_of_order_delivery_ends_where_in_order_would(database_url: str) -> None:
    """The platform delivers in no particular order: a case closed before it opened (and its
    payment before either) leaves the claim closed, its payment pushed back once."""
    async with running_company(database_url, invoices=0, settings=SETTINGS) as company:
        db, inst = company.bridge.db, company.installation.id
        secret = new_secret()  # no endpoint on the platform: we deliver, in our order
        await store_secret(company, secret)
        number = await book(company, a_customer(company))
        case_id = await handed_over(company, number)
        await Claims(db).handed_over(inst, number, case_id=None, now=company.bridge.clock())
        payment = await pays(company, case_id, owed(company, case_id))
        events = platform_events(company)
        assert [e.type for e in events][-2:] == ["payment.received", "case.closed"]
        for event in reversed(events):
            assert await deliver(company, secret, event) == 204
            await process(company)  # each processed before the next arrives
        claim = await Claims(db).get(inst, number)
        assert claim is not None and (claim.state, claim.case_id) == ("closed", case_id)
        key = f"payment:{company.agreement}:{payment.data['payment_id']}"
        assert [j.dedupe_key for j in await jobs_of(company, "pushback.payment")] == [key]
        assert await cursor(company) == (events[-1].sequence, [])
        # The first one past the gap queued a feed read, a little later (not due yet).
        (gap,) = await jobs_of(company, "sync.events")
        assert gap.state == "queued" and gap.run_at > company.bridge.clock()


async def test_a_dropped_delivery_is_filled_from_the_feed(database_url: str) -> None:
    async with running_company(database_url, invoices=0, settings=SETTINGS) as company:
        metrics: Metrics = company.services.metrics
        await subscribe(company)
        number = await book(company, a_customer(company), amount="900.00")
        case_id = await handed_over(company, number)
        await delivered(company, platform_events(company))
        await process(company)
        faults = company.collection.url, "POST", "/_sandbox/faults"
        await control(company, *faults, {"drop_webhooks_rate": 1.0})
        payment = await pays(company, case_id, 10_000)  # its delivery is lost
        await control(company, *faults, {"drop_webhooks_rate": 0.0})
        await company.advance(10)  # a later event arrives: past the gap
        await delivered(company, platform_events(company))
        assert await entry_of(company, payment.id) is None
        gaps = metrics.event_gaps._value.get()
        await process(company)
        assert metrics.event_gaps._value.get() > gaps
        assert await jobs_of(company, "pushback.payment") == []
        (fill,) = await jobs_of(company, "sync.events")
        company.bridge.clock.now = fill.run_at  # the grace for an overtaken delivery is over
        filled = metrics.events_filled._value.get()
        await company.settle()
        entry = await entry_of(company, payment.id)
        assert entry is not None and entry.state == "processed" and entry.headers == {"via": "feed"}
        key = f"payment:{company.agreement}:{payment.data['payment_id']}"
        assert [j.dedupe_key for j in await jobs_of(company, "pushback.payment")] == [key]
        assert metrics.events_filled._value.get() == filled + 1
        assert await cursor(company) == (platform_events(company)[-1].sequence, [])


# -- dead letters -------------------------------------------------------------------------------


async def call(company: Company, method: str, path: str, token: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http:
        async with http.request(method, company.bridge.url + path, headers=headers) as r:
            return r.status, await r.json()


async def cli(company: Company, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "plugin.cli",
        *args,
        env={**cli_env(company.bridge.database_url), "PYTHONPATH": os.getcwd()},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    return int(proc.returncode or 0), out.decode()


# A fault for the processing to meet, in the database (our code untouched): a payment's
# timeline entry is refused, as an unforeseen constraint would refuse it.
FAULT = {
    "sqlite": (
        "CREATE TRIGGER payment_fault BEFORE INSERT ON timeline "
        "WHEN NEW.kind = 'payment_received' "
        "BEGIN SELECT RAISE(ABORT, 'a bug in the payment branch'); END;"
    ),
    "postgresql": (
        "CREATE FUNCTION payment_fault() RETURNS trigger AS $$ BEGIN "
        "IF NEW.kind = 'payment_received' THEN "
        "RAISE EXCEPTION 'a bug in the payment branch'; END IF; RETURN NEW; END $$ "
        "LANGUAGE plpgsql; "
        "CREATE TRIGGER payment_fault BEFORE INSERT ON timeline "
        "FOR EACH ROW EXECUTE FUNCTION payment_fault();"
    ),
}
FIXED = {
    "sqlite": "DROP TRIGGER payment_fault;",
    "postgresql": "DROP TRIGGER payment_fault ON timeline; DROP FUNCTION payment_fault();",
}


async def test_a_bug_is_a_dead_letter_listed_and_replayed_once_fixed(database_url: str) -> None:

    async with running_company(database_url, invoices=0, settings=SETTINGS) as company:
        bridge, inst = company.bridge, company.installation
        await subscribe(company)
        number = await book(company, a_customer(company), amount="900.00")
        case_id = await handed_over(company, number)
        first = await pays(company, case_id, 10_000)
        second = await pays(company, case_id, 20_000)
        await delivered(company, platform_events(company))
        engine = bridge.db.dialect
        await bridge.db.run_script(FAULT[engine])
        await process(company)
        dead = [await entry_of(company, e.id) for e in (first, second)]
        assert all(e is not None and e.state == "dead" for e in dead), dead
        assert all("a bug in the payment branch" in (e.error or "") for e in dead if e)
        assert await jobs_of(company, "pushback.payment") == []
        assert {j.state for j in await jobs_of(company, "inbox.event")} == {"succeeded", "dead"}

        admin = await bridge.person("admin@example.com", [(inst, "admin")])
        guest = await bridge.person("guest@example.com", [(inst, "guest")])
        other = await bridge.person("other@example.com", [(await bridge.company(4242), "admin")])
        status, listed = await call(company, "GET", "/api/v1/inbox?state=dead", guest)
        assert status == 200
        # (Deliveries race each other: the inbox ids need not follow the payments' order.)
        assert sorted(
            (i["id"], i["event_id"], i["installation"]) for i in listed["items"]
        ) == sorted((e.id, e.event_id, company.agreement) for e in dead if e)
        assert "a bug in the payment branch" in listed["items"][0]["error"]
        assert (await call(company, "GET", "/api/v1/inbox?state=dead", other))[1]["items"] == []
        status, page = await call(company, "GET", "/api/v1/inbox?limit=1", guest)
        assert status == 200 and len(page["items"]) == 1 and page["next_cursor"]
        assert (await call(company, "GET", "/api/v1/inbox?state=gone", guest))[0] == 422
        code, out = await cli(company, "inbox", "list", "--state", "dead")
        assert code == 0 and first.id in out and second.id in out, out

        await bridge.db.run_script(FIXED[engine])  # the fix is deployed
        one, two = (e.id for e in dead if e)
        assert (await call(company, "POST", f"/api/v1/inbox/{one}/replay", guest))[0] == 403
        assert (await call(company, "POST", f"/api/v1/inbox/{one}/replay", other))[0] == 404
        status, replayed = await call(company, "POST", f"/api/v1/inbox/{one}/replay", admin)
        assert status == 202 and replayed["entry"]["state"] == "new", replayed
        again = await call(company, "POST", f"/api/v1/inbox/{one}/replay", admin)
        assert again[0] == 409 and again[1]["code"] == "invalid_state"
        code, out = await cli(company, "inbox", "replay", str(two))
        assert code == 0 and f"inbox entry {two}: new again" in out, out
        # The CLI queues by the wall clock, the app's runs on its own: let the job be due.
        bridge.clock.now = max(bridge.clock.now, dt.datetime.now(dt.UTC))
        await company.settle()
        for event in (first, second):
            entry = await entry_of(company, event.id)
            assert entry is not None and entry.state == "processed" and entry.error is None
        pushed = sorted(j.dedupe_key or "" for j in await jobs_of(company, "pushback.payment"))
        assert pushed == sorted(
            f"payment:{company.agreement}:{e.data['payment_id']}" for e in (first, second)
        )
        code, out = await cli(company, "inbox", "replay", str(two))  # processed: not replayed
        assert code == 1, out


# -- the grant ------------------------------------------------------------------------------------


async def test_a_grant_the_owner_revoked_loses_the_link_and_parks_the_jobs(
    database_url: str,
) -> None:
    async with running_company(database_url, invoices=0, settings=SETTINGS) as company:
        db, inst = company.bridge.db, company.installation.id
        await subscribe(company)
        later = company.bridge.clock() + dt.timedelta(hours=1)
        waiting = await company.services.queue.enqueue(
            schedules.customers(inst, company.agreement, run_at=later), now=company.bridge.clock()
        )
        await control(
            company,
            company.collection.url,
            "POST",
            f"/_sandbox/accounts/{company.account_id}/revoke",
        )
        (revoked,) = platform_events(company, "account.grant_revoked")
        await delivered(company, [revoked])
        await process(company)
        installation = await Installations(db).get(inst)
        assert installation is not None and installation.collection_state == "lost"
        problems = [p for p in await Problems(db).open(inst) if p.code == AUTH_LOST]
        assert len(problems) == 1 and problems[0].category == "auth_lost"
        assert (await company.job(waiting)).state == "parked"
        entry = await entry_of(company, revoked.id)
        assert entry is not None and entry.state == "processed"


# -- without the simulators ---------------------------------------------------------------------


def body(event_id: str, kind: str, sequence: int, data: Any) -> bytes:
    return msgspec.json.encode(
        {
            "id": event_id,
            "type": kind,
            "account_id": "acc_1",
            "sequence": sequence,
            "occurred_at": "2026-11-23T12:00:00Z",
            "data": data,
        }
    )


async def stored(db: Database, installation_id: int, event_id: str, raw: bytes) -> int:
    async with db.transaction() as tx:
        entry = NewEntry(
            source="collection",
            installation_id=installation_id,
            dedupe_key=collection_key(installation_id, event_id),
            topic="t",
            body=raw,
        )
        inbox_id = await insert_entry(tx, entry, now=NOW)
    assert inbox_id is not None
    return inbox_id


async def test_unknown_and_unreadable_events_and_the_inbox_metrics(database_url: str) -> None:
    async with run_bridge(database_url) as bridge:
        installation = await bridge.company(1001)
        unknown = await stored(bridge.db, installation.id, "e1", body("e1", "case.paused", 1, {}))
        unreadable = await stored(
            bridge.db, installation.id, "e2", body("e2", "case.opened", 2, {"step": 1})
        )
        junk = await stored(bridge.db, installation.id, "e3", b"not json")
        bridge.clock.now = NOW + dt.timedelta(seconds=90)
        metrics = Metrics()
        text = (await metrics.render(JobQueue(bridge.db), now=bridge.clock())).decode()
        assert "collectbridge_inbox_lag_seconds 90.0" in text
        processor = EventProcessor(bridge.db, installation, clock=bridge.clock)
        assert (await processor.run(unknown)).state == "skipped"
        assert (await processor.run(unreadable)).state == "rejected"
        assert (await processor.run(junk)).state == "rejected"
        assert (await processor.run(unknown)).state == "not_waiting"  # once
        inbox = Inbox(bridge.db)
        skipped, refused = await inbox.get(unknown), await inbox.get(unreadable)
        assert skipped is not None and skipped.state == "processed"
        assert "case.paused" in (skipped.error or "")
        assert refused is not None and refused.state == "rejected"
        assert "the contract does not describe" in (refused.error or "")
        text = (await metrics.render(JobQueue(bridge.db), now=bridge.clock())).decode()
        assert "collectbridge_inbox_lag_seconds 0.0" in text
        assert "collectbridge_inbox_dead 0.0" in text


async def test_the_writer_commits_an_events_job_with_its_row(database_url: str) -> None:
    async with run_bridge(database_url) as bridge:
        installation = await bridge.company(1001)
        writer = InboxWriter(bridge.db, clock=bridge.clock)
        writer.start()

        def then(inbox_id: int) -> list[Any]:
            return [schedules.inbox_event(installation.id, 1001, "e1", inbox_id=inbox_id)]

        entry = NewEntry(
            source="collection",
            installation_id=installation.id,
            dedupe_key=collection_key(installation.id, "e1"),
            topic="payment.received",
            body=body("e1", "payment.received", 1, {}),
        )
        try:
            assert await writer.store(entry, then=then) is True
            assert await writer.store(entry, then=then) is False
        finally:
            await writer.close()
        (job,) = await JobQueue(bridge.db).list()
        (row,) = await Inbox(bridge.db).list()
        assert (job.kind, job.dedupe_key, job.payload) == (
            "inbox.event",
            "event:1001:e1",
            {"inbox_id": row.id},
        )


async def test_worker_start_queues_the_events_stored_without_a_job(database_url: str) -> None:
    async with run_bridge(database_url) as bridge:
        installation = await bridge.company(1001)
        raw = body("e1", "case.step_changed", 1, {"case_id": "c1", "to_step": "reminder_2"})
        waiting = await stored(bridge.db, installation.id, "e1", raw)
        await ensure_schedules(bridge.app[SERVICES])
        await ensure_schedules(bridge.app[SERVICES])  # again: the queued job absorbs its twin
        queued = [j for j in await JobQueue(bridge.db).list() if j.kind == "inbox.event"]
        assert [(j.dedupe_key, j.payload) for j in queued] == [
            ("event:1001:e1", {"inbox_id": waiting})
        ]


async def test_inbox_rows_survive_the_migration_that_adds_dead(database_url: str) -> None:
    db = await open_database(database_url)
    try:
        await migrate(db, NOW, upto=11)
        installation = await Installations(db).activate(
            agreement_number=1001, company_name="Company 1001", now=NOW
        )
        before = await stored(db, installation.id, "e1", b"\x00{}")
        applied = await migrate(db, NOW)
        assert [m.version for m in applied][:1] == [12]
        again = await Inbox(db).get(before)
        assert again is not None and (again.state, again.body) == ("new", b"\x00{}")
        assert await Inbox(db).bury(before, error="RuntimeError: x", now=NOW)  # 'dead' allowed
        later = await stored(db, installation.id, "e2", b"{}")
        assert later > before  # ids go on where they were
    finally:
        await db.close()


# -- pure -----------------------------------------------------------------------------------------


def test_each_type_decodes_to_its_struct_and_means_what_the_contract_says() -> None:
    opened = ev.decode(
        body("e1", "case.opened", 1, {"case_id": "c1", "claim_refs": ["17", "x"], "step": "r"})
    )
    assert isinstance(opened, ev.CaseOpenedEvent)
    assert ev.effects(opened)[0] == ev.OpenCase(case_id="c1", invoices=(17,))
    payment = {
        "payment_id": "p1",
        "case_id": "c1",
        "paid_on": "2026-11-23",
        "currency": "DKK",
        "amount": 100,
        "allocations": [{"claim_ref": "17", "principal": 100}],
    }
    by_collector = ev.decode(body("e2", "payment.received", 2, {**payment, "source": "collector"}))
    by_creditor = ev.decode(body("e3", "payment.received", 3, {**payment, "source": "creditor"}))
    assert ev.PushPayment(payment_id="p1", case_id="c1") in ev.effects(by_collector)
    assert not any(isinstance(e, ev.PushPayment) for e in ev.effects(by_creditor))  # no echo
    closed = ev.decode(
        body(
            "e4",
            "case.closed",
            4,
            {
                "case_id": "c1",
                "reason": "written_off",
                "amounts": {},
                "write_offs": [{"claim_ref": "17", "principal": 5}],
            },
        )
    )
    assert ev.PushWriteOff(case_id="c1") in ev.effects(closed)
    paid = ev.decode(body("e5", "case.closed", 5, {"case_id": "c1", "reason": "paid"}))
    assert not any(isinstance(e, ev.PushWriteOff) for e in ev.effects(paid))
    revoked = ev.decode(body("e6", "account.grant_revoked", 6, {}))
    assert ev.effects(revoked) == (ev.LinkLost(),)
    rejected = ev.decode(body("e7", "claim.rejected", 7, {"claim_ref": "17", "code": "c"}))
    assert isinstance(ev.effects(rejected)[0], ev.Rejected)
    assert ev.decode(body("e8", "case.merged", 8, {})) == ev.Unknown(
        id="e8", type="case.merged", sequence=8
    )
    for bad in (body("e9", "letter.sent", 9, {}), b"[]", b"{"):
        with pytest.raises(ev.UnreadableEvent):
            ev.decode(bad)


def test_the_cursor_keeps_the_highest_contiguous_sequence() -> None:
    assert ev.track(0, [], 1) == (1, frozenset())
    assert ev.track(1, [], 3) == (1, frozenset({3}))  # 2 missing: a gap
    assert ev.track(1, [3], 2) == (3, frozenset())  # filled
    assert ev.track(5, [], 4) == (5, frozenset())  # old news
    assert ev.caught_up(1, [3, 9], 5) == (5, frozenset({9}))
