"""The inbox writer's batch insert (`sync.store.inbox.insert_entries`) and its wake-up of the
worker, on SQLite and PostgreSQL (where two batches commit at once), and a hint's job run by the
app's embedded worker without waiting for the worker's next poll.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from plugin.app import create_app
from plugin.keys import SERVICES, WORKER
from plugin.settings import Secret, Settings
from sync import schedules
from sync.store.db import open_database
from sync.store.inbox import Inbox, NewEntry, insert_entries
from sync.store.installations import Installations
from sync.store.migrate import migrate
from sync.store.webhook_secrets import WebhookSecrets
from sync.worker import JobContext
from tests.fixtures.conditions import Clock, eventually
from tests.fixtures.served import loopback_socket, served
from tests.integration.test_api import NOW, SECRET_KEY, Bridge
from tests.integration.test_webhooks import bridge, company, entry, jobs, send
from tests.store.test_queue_races import waiting_on_a_lock
from webhooks.inbox import InboxUnavailable, InboxWriter
from webhooks.receivers import RECEIVER

__all__ = ["bridge"]  # the fixture, shared with test_webhooks


async def test_a_batch_stores_each_key_once_and_answers_which_were_new(bridge: Bridge) -> None:
    c = await company(bridge, 1001)
    async with bridge.db.transaction() as tx:
        assert await insert_entries(tx, [entry(c.id, "stored")], now=NOW) != [None]
    async with bridge.db.transaction() as tx:
        ids = await insert_entries(
            tx, [entry(c.id, k) for k in ("a", "stored", "b", "a", "c", "b")], now=NOW
        )
    assert [i is not None for i in ids] == [True, False, True, False, True, False]
    rows = {e.dedupe_key: e.id for e in await Inbox(bridge.db).list(limit=100)}
    assert rows == {"stored": rows["stored"], "a": ids[0], "b": ids[2], "c": ids[4]}
    async with bridge.db.transaction() as tx:
        assert await insert_entries(tx, [entry(c.id, "a"), entry(c.id, "b")], now=NOW) == [
            None,
            None,
        ]


async def test_a_body_and_headers_are_kept_byte_for_byte(bridge: Bridge) -> None:
    c = await company(bridge, 1001)
    body = bytes(range(256)) * 3  # not UTF-8, not JSON: stored as received
    made = NewEntry(
        source="collection",
        installation_id=c.id,
        dedupe_key="raw",
        topic="t",
        headers={"webhook-id": "raw", "content-type": "application/json"},
        body=body,
    )
    async with bridge.db.transaction() as tx:
        inbox_id, _ = await insert_entries(tx, [made, entry(c.id, "other")], now=NOW)
    assert inbox_id is not None
    stored = await Inbox(bridge.db).get(inbox_id)
    assert stored is not None
    assert (stored.body, stored.headers, stored.state, stored.received_at) == (
        body,
        made.headers,
        "new",
        NOW,
    )


async def test_concurrent_batches_store_each_key_once(bridge: Bridge) -> None:
    c = await company(bridge, 1001)
    writer = InboxWriter(bridge.db, clock=bridge.clock, max_batch=3, writers=2)
    writer.start()
    try:
        keys = [f"k{i % 7}" for i in range(60)]
        results = await asyncio.gather(*(writer.store(entry(c.id, k)) for k in keys))
    finally:
        await writer.close()
    new = sorted(k for k, r in zip(keys, results, strict=True) if r)
    assert new == [f"k{i}" for i in range(7)]  # exactly one delivery of each key was new
    assert await Inbox(bridge.db).count() == 7


@pytest.mark.postgres
async def test_a_batch_behind_a_row_held_too_long_fails_as_an_outage(postgres_url: str) -> None:
    """Another transaction holding an installation's row past the writer's lock_timeout fails
    the batch as unavailable (a 503 the platforms retry), and nothing of it is stored, rather
    than every delivery waiting behind that transaction."""
    db = await open_database(postgres_url)
    await migrate(db, NOW)
    raw = await asyncpg.connect(postgres_url)
    writer = InboxWriter(db, clock=lambda: NOW)
    writer.start()
    try:
        made = await Installations(db).activate(agreement_number=1001, company_name="c", now=NOW)
        async with raw.transaction():
            await raw.execute("UPDATE installations SET company_name = 'd' WHERE id = $1", made.id)
            with pytest.raises(InboxUnavailable):
                await writer.store(entry(made.id, "held"), [schedules.invoice(made.id, 1001, 5)])
        assert await Inbox(db).count() == 0
        assert await writer.store(entry(made.id, "after"), [schedules.invoice(made.id, 1001, 5)])
    finally:
        await writer.close()
        await raw.close()
        await db.close()


@pytest.mark.postgres
async def test_a_batch_waits_for_a_pause_in_flight_and_parks_its_jobs(postgres_url: str) -> None:
    """PostgreSQL reads the status in the batch's one statement: under a share lock taken
    before any job is written, so a pause committed while the statement runs is not missed.
    Here the pause is in flight (its status written, not committed) when the batch comes: the
    batch waits for it, then reads ``paused`` and parks the job the pause's own park (before
    the batch's commit) could not see."""
    db = await open_database(postgres_url)
    await migrate(db, NOW)
    raw, watch = await asyncpg.connect(postgres_url), await asyncpg.connect(postgres_url)
    writer = InboxWriter(db, clock=lambda: NOW)
    writer.start()
    try:
        made = await Installations(db).activate(agreement_number=1001, company_name="c", now=NOW)
        pause = raw.transaction()
        await pause.start()
        await raw.execute("UPDATE installations SET status = 'paused' WHERE id = $1", made.id)
        hint = schedules.invoice(made.id, 1001, 5)
        stored = asyncio.create_task(writer.store(entry(made.id, "hint"), [hint]))
        try:
            # Watched from a connection of its own: inside the pause's transaction,
            # pg_stat_activity would stay as it was at the transaction's first look.
            await eventually(lambda: waiting_on_a_lock(watch) if not stored.done() else True)
            assert not stored.done(), "the batch did not wait for the pause's row lock"
        finally:
            await pause.commit()
        # The pause's own park, as `plugin.lifecycle` runs it after its commit: the batch's job
        # is not committed yet, so this finds nothing of it.
        await raw.execute(
            "UPDATE jobs SET state = 'parked' WHERE installation_id = $1 AND state = 'queued'",
            made.id,
        )
        assert await asyncio.wait_for(stored, 10)
        states = await raw.fetch("SELECT kind, state FROM jobs WHERE installation_id = $1", made.id)
        assert [(r["kind"], r["state"]) for r in states] == [("sync.invoice", "parked")]
    finally:
        await writer.close()
        await raw.close()
        await watch.close()
        await db.close()


async def test_a_request_that_goes_away_still_has_its_delivery_stored(bridge: Bridge) -> None:
    """Once handed over, a delivery is committed even if its request is cancelled meanwhile
    (the platform may have given up waiting; what it sent is kept, and its retry is a
    duplicate)."""
    c = await company(bridge, 1001)
    writer = InboxWriter(bridge.db, clock=bridge.clock)
    writer.start()
    try:
        gone = asyncio.create_task(writer.store(entry(c.id, "gone")))
        await asyncio.sleep(0)  # handed over: the request now waits for its batch
        gone.cancel()
        assert await writer.store(entry(c.id, "next"))  # a batch after the cancelled one
    finally:
        await writer.close()
    assert gone.cancelled()
    keys = sorted(e.dedupe_key for e in await Inbox(bridge.db).list())
    assert keys == ["gone", "next"]


async def test_the_worker_is_woken_after_a_commit_that_enqueued_jobs(bridge: Bridge) -> None:
    c = await company(bridge, 1001)
    woken: list[float] = []
    writer = InboxWriter(bridge.db, clock=bridge.clock, jobs_enqueued=lambda: woken.append(1))
    writer.start()
    try:
        assert await writer.store(entry(c.id, "no-job"))  # a row alone: nothing to run
        assert woken == []
        hint = schedules.invoice(c.id, 1001, 5)
        assert await writer.store(entry(c.id, "hint"), [hint])
        assert not await writer.store(entry(c.id, "hint"), [hint])  # a duplicate: no job
    finally:
        await writer.close()
    assert woken == [1]
    assert [j.kind for j in await jobs(bridge)] == ["sync.invoice"]


@pytest.mark.parametrize("inbox_process", [True, False], ids=["inbox process", "in the app"])
async def test_a_hints_job_runs_at_once_with_the_embedded_worker(
    database_url: str, inbox_process: bool
) -> None:
    """A worker polling once a minute still runs the hint's job within a second; the same with
    the inbox process switched off (``COLLECTBRIDGE_INBOX_PROCESS=off``: no process started)."""
    sock, url = loopback_socket()
    settings = Settings(
        database_url=database_url,
        public_url=url,
        secret_keys=(Secret(SECRET_KEY),),
        worker_poll_seconds=60.0,
        inbox_process=inbox_process,
    )
    clock = Clock(NOW)
    ran: list[int] = []

    async def invoice(ctx: JobContext) -> None:
        ran.append(int(ctx.payload["invoice"]))

    app = create_app(settings, handlers={"sync.invoice": invoice}, clock=clock)
    async with served(app, sock) as running:
        db = running[SERVICES].db
        installation = await Installations(db).activate(
            agreement_number=1001, company_name="c", now=NOW
        )
        cipher = running[SERVICES].cipher
        assert cipher is not None and running.get(WORKER) is not None
        secret = await WebhookSecrets(db, cipher).economic_url_secret(installation.id, now=NOW)
        worker = running[WORKER]
        await eventually(lambda: worker.idling, within=5.0)  # found nothing: sleeps its minute
        key = installation.installation_key
        answer = await send("GET", f"{url}/webhooks/economic/{key}/{secret}/invoice?number=7")
        assert answer.status == 204
        await eventually(lambda: ran == [7], within=5.0)
        process = running[RECEIVER].writer.process
        assert (process is not None and process.running) is inbox_process
