"""Processed e-conomic hints purged after a day (`sync.retention.purge_processed_hints`), on
SQLite and PostgreSQL: hints arrive over real HTTP at times set on the business clock; each
installation's newest hint of each topic stays, so ``webhooks.economic.last_received`` reads the
same; collection events and recent hints stay; the daily housekeeping job runs it.
"""

from __future__ import annotations

import datetime as dt

from sync import schedules
from sync.retention import HINT_PURGE_BATCH, purge_processed_hints
from sync.store.inbox import Inbox, InboxEntry, NewEntry, insert_entry
from tests.integration.sync.support import running_company
from tests.integration.test_api import NOW, Bridge
from tests.integration.test_webhooks import bridge, company, deliver, hint_url, send

__all__ = ["bridge"]  # the fixture, shared with test_webhooks


async def hint_at(bridge: Bridge, at: dt.datetime, url: str) -> None:
    bridge.clock.now = at
    assert (await send("GET", url)).status == 204


async def rows(bridge: Bridge) -> list[InboxEntry]:
    return await Inbox(bridge.db).list(limit=10_000)


async def test_old_hints_go_and_each_topics_newest_stays(bridge: Bridge) -> None:
    a, b = await company(bridge, 1001), await company(bridge, 1002)
    days_ago = [NOW - dt.timedelta(days=d) for d in (5, 4, 3)]
    for n, at in enumerate(days_ago):
        await hint_at(bridge, at, hint_url(bridge, a, "invoice", f"number={n + 1}"))
        await hint_at(bridge, at, hint_url(bridge, b, "invoice", f"number={n + 1}"))
    await hint_at(bridge, days_ago[0], hint_url(bridge, a, "customer", "new=7"))
    await hint_at(bridge, days_ago[1], hint_url(bridge, a, "daybook", "daybook=1&from=1&to=2"))
    await hint_at(bridge, days_ago[2], hint_url(bridge, a, "daybook", "daybook=1&from=3&to=4"))
    recent = NOW - dt.timedelta(hours=2)
    await hint_at(bridge, recent, hint_url(bridge, a, "invoice", "number=9"))
    await hint_at(bridge, recent, hint_url(bridge, a, "invoice", "number=10"))
    bridge.clock.now = days_ago[0]
    assert (await deliver(bridge, a, "evt_old")).status == 204  # a collection event, as old
    bridge.clock.now = NOW
    token = await bridge.person("admin@example.com", [(a.installation, "admin")])
    shown = (await bridge.get("/api/v1/installations/1001", token)).body["webhooks"]
    before = {(r.installation_id, r.topic, r.received_at) for r in await rows(bridge)}

    assert await purge_processed_hints(bridge.db, now=NOW) == 3 + 2 + 1  # invoices, daybook

    left = await rows(bridge)
    kept = {(r.installation_id, r.source, r.topic, r.received_at) for r in left}
    assert kept == {
        (a.id, "economic", "invoice", recent),  # both recent ones
        (a.id, "economic", "customer", days_ago[0]),  # its topic's only hint, old as it is
        (a.id, "economic", "daybook", days_ago[2]),  # its topic's newest
        (b.id, "economic", "invoice", days_ago[2]),  # the other company's newest
        (a.id, "collection", "payment.received", days_ago[0]),
    }
    assert len(left) == 6
    assert {(r.installation_id, r.topic, r.received_at) for r in left} <= before
    after = (await bridge.get("/api/v1/installations/1001", token)).body["webhooks"]
    assert after["economic"]["last_received"] == shown["economic"]["last_received"]
    assert await purge_processed_hints(bridge.db, now=NOW) == 0  # nothing more to do


async def test_a_hint_newer_than_the_retention_stays_even_when_a_newer_one_exists(
    bridge: Bridge,
) -> None:
    a = await company(bridge, 1001)
    for hours in (23, 1):
        url = hint_url(bridge, a, "invoice", f"number={hours}")
        await hint_at(bridge, NOW - dt.timedelta(hours=hours), url)
    assert await purge_processed_hints(bridge.db, now=NOW) == 0
    assert len(await rows(bridge)) == 2


async def test_a_backlog_goes_in_batches(bridge: Bridge) -> None:
    a = await company(bridge, 1001)
    old = NOW - dt.timedelta(days=2)
    async with bridge.db.transaction() as tx:
        for n in range(HINT_PURGE_BATCH + 3):
            entry = NewEntry(
                source="economic",
                installation_id=a.id,
                dedupe_key=f"economic:{a.id}:invoice:{n}:backlog{n}",
                topic="invoice",
                body=b'{"type":"invoice","number":1}',
                state="processed",
            )
            await insert_entry(tx, entry, now=old + dt.timedelta(seconds=n))
    assert await purge_processed_hints(bridge.db, now=NOW) == HINT_PURGE_BATCH + 2
    (newest,) = await rows(bridge)
    assert newest.received_at == old + dt.timedelta(seconds=HINT_PURGE_BATCH + 2)


async def test_the_daily_housekeeping_purges_them(database_url: str) -> None:
    async with running_company(database_url, invoices=5) as company:
        bridge, installation = company.bridge, company.installation
        for days in (3, 2):
            async with bridge.db.transaction() as tx:
                entry = NewEntry(
                    source="economic",
                    installation_id=installation.id,
                    dedupe_key=f"economic:{installation.id}:invoice:1:old{days}",
                    topic="invoice",
                    state="processed",
                )
                await insert_entry(tx, entry, now=bridge.clock() - dt.timedelta(days=days))
        job = await company.services.queue.enqueue(
            schedules.housekeeping(run_at=bridge.clock()), now=bridge.clock()
        )
        await company.settle()
        assert (await company.job(job)).state == "succeeded"
        hints = await Inbox(bridge.db).list(source="economic", limit=100)
        assert [h.dedupe_key for h in hints] == [f"economic:{installation.id}:invoice:1:old2"]
