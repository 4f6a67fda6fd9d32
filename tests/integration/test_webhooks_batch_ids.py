"""The inbox writer's jobs that name their row (``then``): on both engines each job names the
row stored with it, batch after batch; on PostgreSQL the ids come from the stock the previous
batch's statement reserved, and a stock left unused for long is dropped rather than used."""

from __future__ import annotations

import asyncio
import datetime as dt

from sync import schedules
from sync.jobs import JobQueue
from sync.store.db import Database
from sync.store.inbox import Inbox, NewEntry
from sync.store.installations import Installations
from webhooks.inbox import InboxWriter

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


async def test_each_job_names_the_row_stored_with_it(db: Database) -> None:
    company = await Installations(db).activate(agreement_number=7, company_name="c", now=NOW)
    writer = InboxWriter(db, clock=lambda: NOW, max_batch=5)
    writer.start()

    async def deliver(event: str) -> bool:
        return await writer.store(
            NewEntry(
                source="collection",
                installation_id=company.id,
                dedupe_key=f"collection:{company.id}:{event}",
                topic="t",
            ),
            then=lambda inbox_id: [schedules.inbox_event(company.id, 7, event, inbox_id=inbox_id)],
        )

    try:
        for burst in range(3):
            events = [f"e{burst}-{i % 9}" for i in range(12)]  # duplicates, several batches
            assert sum(await asyncio.gather(*(deliver(e) for e in events))) == 9
        stock = list(writer._ids)  # reserved by the last batch (PostgreSQL)
        assert bool(stock) == (db.dialect == "postgresql")
        writer.id_stock_seconds = 0.0  # every stock is stale from now on
        assert await deliver("late")
    finally:
        await writer.close()
    rows = {e.id: e.dedupe_key for e in await Inbox(db).list(limit=100)}
    jobs = await JobQueue(db).list(limit=100)
    assert len(rows) == len(jobs) == 28
    for job in jobs:
        assert job.dedupe_key is not None
        event = job.dedupe_key.rsplit(":", 1)[-1]
        assert rows[job.payload["inbox_id"]] == f"collection:{company.id}:{event}"
    late = next(i for i, key in rows.items() if key.endswith(":late"))
    assert late == max(rows) and late > max(stock, default=0)  # not an id of the stale stock
