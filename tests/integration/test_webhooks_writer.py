"""The inbox writer's batch insert (`sync.store.inbox.insert_entries`) and its wake-up of the
worker, on SQLite and PostgreSQL (where two batches commit at once), and a hint's job run by the
app's embedded worker without waiting for the worker's next poll.
"""

from __future__ import annotations

import asyncio

from plugin.app import create_app
from plugin.keys import SERVICES, WORKER
from plugin.settings import Secret, Settings
from sync import schedules
from sync.store.inbox import Inbox, NewEntry, insert_entries
from sync.store.installations import Installations
from sync.store.webhook_secrets import WebhookSecrets
from sync.worker import JobContext
from tests.fixtures.conditions import Clock, eventually
from tests.fixtures.served import loopback_socket, served
from tests.integration.test_api import NOW, SECRET_KEY, Bridge
from tests.integration.test_webhooks import bridge, company, entry, jobs, send
from webhooks.inbox import InboxWriter, writers_for

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


async def test_postgresql_commits_two_batches_at_once(bridge: Bridge) -> None:
    assert writers_for(bridge.db) == (2 if bridge.db.dialect == "postgresql" else 1)


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


async def test_a_hints_job_runs_at_once_with_the_embedded_worker(database_url: str) -> None:
    """A worker polling once a minute still runs the hint's job within a second."""
    sock, url = loopback_socket()
    settings = Settings(
        database_url=database_url,
        public_url=url,
        secret_keys=(Secret(SECRET_KEY),),
        worker_poll_seconds=60.0,
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
